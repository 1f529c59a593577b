using System;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Config;
using JoblibPS.Output;
using JoblibPS.Errors;

namespace JoblibPS.Engine
{
    /// <summary>
    /// One call's use of its backend: configuring it (following fallbacks), starting and stopping the call,
    /// aborting, terminating a backend the call owns, and every other call into the backend, each checked against
    /// the contract. Pipeline thread only.
    /// </summary>
    /// <remarks>
    /// The one rule for errors from a backend: an ErrorRecord it failed with on purpose (a backend's way to fail a
    /// call cleanly, with its own id; see <see cref="ErrorRecords.OwnRecordOf"/>) is reported as that record; a
    /// pipeline stop passes through; any other exception, a script error of a PowerShell backend's code included,
    /// breaks the contract (<see cref="ErrorIds.BackendContract"/>, naming the backend and the member).
    /// </remarks>
    internal sealed class BackendSession
    {
        private readonly ResolvedSettings _settings;
        private readonly IPipelineWriter _writer;
        private bool _ownsBackend;
        private bool _started;
        private bool _aborted;

        public BackendSession(ResolvedSettings settings, IPipelineWriter writer)
        {
            _settings = settings;
            _writer = writer;
            Backend = settings.Backend;
            _ownsBackend = settings.CallOwnsBackend;
        }

        /// <summary>The backend the call runs on (after any fallback).</summary>
        public ParallelBackendBase Backend { get; private set; }

        /// <summary>The effective number of jobs, once started.</summary>
        public int NJobs { get; private set; }

        /// <summary>The call's key in <see cref="ItemCostMemory"/> (the final backend's type and the block), set by <see cref="Start"/>.</summary>
        public ItemCostMemory.Key CostKey { get; private set; }

        /// <summary>True between a successful <see cref="Start"/> and <see cref="End"/>.</summary>
        public bool Started => _started;

        /// <summary>Configures the backend (following up to 8 fallbacks) and starts the call of <paramref name="scriptText"/>.</summary>
        public void Start(ParallelCall call, string scriptText)
        {
            for (int hop = 0; ; hop++)
            {
                try
                {
                    Backend.Parallel = call;
                    NJobs = Backend.Configure(_settings.NJobs, call, _settings.BackendArguments);
                    break;
                }
                catch (FallbackToBackendException fallback) when (hop < 8)
                {
                    if (_ownsBackend) SafeTerminate(Backend);
                    Backend = fallback.Backend;
                    _ownsBackend = true;
                    if (call.InJob && Backend is Backends.Sequential.SequentialBackend)
                    {
                        // A job has no caller's thread for the sequential backend (see ParallelCall.InJob).
                        Backend = new Backends.Threading.ThreadingBackend { NestingLevel = fallback.Backend.NestingLevel };
                    }
                }
                catch (Exception ex) when (!(ex is FallbackToBackendException) && !(ex is PipelineStoppedException))
                {
                    throw Reported(ex, "Configure threw an exception");
                }
            }
            if (NJobs < 1)
            {
                throw new TerminatingErrorException(ErrorRecords.BackendContract(Backend, $"Configure returned {NJobs} jobs; it must return at least 1"));
            }
            CostKey = ItemCostMemory.KeyFor(Backend, scriptText);
            Backend.ResetBatchSizer(ItemCostMemory.Recall(CostKey));
            Call(() => Backend.StartCall(), "StartCall threw an exception");
            _started = true;
        }

        /// <summary>Runs a member of the backend under the contract's rule for errors (see the remarks).</summary>
        public void Call(Action action, string rule)
        {
            try
            {
                action();
            }
            catch (TerminatingErrorException)
            {
                throw;
            }
            catch (PipelineStoppedException)
            {
                throw;
            }
            catch (Exception ex)
            {
                throw Reported(ex, rule);
            }
        }

        /// <summary>Stops the backend's work for this call, once; a backend that fails to is reported as a warning.</summary>
        public void Abort()
        {
            if (_aborted || !_started) return;
            _aborted = true;
            string warning = null;
            try
            {
                Backend.AbortEverything(_settings.EnsureReadyOnAbort && !_ownsBackend);
                warning = Backend.TakeAbortWarning();
            }
            catch (Exception ex)
            {
                _writer.WriteWarning($"The backend '{Backend}' failed to abort its tasks: {Describe.Innermost(ex).Message}");
            }
            if (warning == null) return;
            // A call stopped by Ctrl+C has no pipeline left to write to.
            try { _writer.WriteWarning(warning); }
            catch (PipelineStoppedException) { }
        }

        /// <summary>Ends the call (StopCall) and terminates a backend the call owns. Idempotent.</summary>
        public void End()
        {
            if (_started)
            {
                _started = false;
                try { Backend.StopCall(); }
                catch (Exception ex) { _writer.WriteWarning($"The backend '{Backend}' failed in StopCall: {Describe.Innermost(ex).Message}"); }
                Backend.Parallel = null;
            }
            if (_ownsBackend)
            {
                _ownsBackend = false;
                SafeTerminate(Backend);
            }
        }

        private void SafeTerminate(ParallelBackendBase backend)
        {
            try { backend.Terminate(); }
            catch (Exception ex) { _writer.WriteWarning($"The backend '{backend}' failed in Terminate: {Describe.Innermost(ex).Message}"); }
        }

        private TerminatingErrorException Reported(Exception ex, string rule)
        {
            Exception inner = Describe.Innermost(ex);
            ErrorRecord own = ErrorRecords.OwnRecordOf(inner);
            return new TerminatingErrorException(own ?? ErrorRecords.BackendContract(Backend, rule, inner));
        }
    }
}
