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
        private void Call(Action action, string rule)
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

        // ---- the backend's members the dispatch loop uses, each checked against the contract -----------------------

        /// <summary>The backend's warning for the call's number of jobs (oversubscribed process workers), or null.</summary>
        public string ConfiguredWarning() => Backend.ConfiguredWarning(NJobs);

        /// <summary>True when the backend runs batches on threads of this process (garbage collection pauses them all).</summary>
        public bool UsesThreads => Backend.UsesThreads;

        /// <summary>The size of the next batch when -BatchSize is auto: the backend's, at least 1.</summary>
        public int ComputeBatchSize()
        {
            int size = 1;
            Call(() => size = Backend.ComputeBatchSize(), "ComputeBatchSize threw an exception");
            if (size < 1) throw new TerminatingErrorException(ErrorRecords.BackendContract(Backend, $"ComputeBatchSize returned {size}; it must return at least 1"));
            return size;
        }

        /// <summary>The backend (and number of jobs) that calls made by the next batch's items use.</summary>
        public NestedBackend GetNestedBackend()
        {
            NestedBackend nested = null;
            Call(() => nested = Backend.GetNestedBackend(), "GetNestedBackend threw an exception");
            return nested;
        }

        /// <summary>Launches one task; the backend calls <paramref name="callback"/> once when it completes. Returns the future (never null).</summary>
        public object Submit(BatchTask task, Action<object> callback)
        {
            object submitted = null;
            Call(() => submitted = Backend.Submit(task, callback), "Submit threw an exception");
            if (submitted == null)
            {
                throw new TerminatingErrorException(ErrorRecords.BackendContract(Backend, "Submit returned null; it must return a future (for example the .NET Task running the batch)"));
            }
            return submitted;
        }

        /// <summary>
        /// The result of <paramref name="task"/> from its completed future (RetrieveResultCallback, or RetrieveResult
        /// with <paramref name="timeout"/>), or null with <paramref name="violation"/> saying what the backend returned instead.
        /// </summary>
        public BatchResult Retrieve(BatchTask task, object future, TimeSpan? timeout, out ErrorRecord violation)
        {
            object raw = null;
            bool byCallback = Backend.SupportsRetrieveCallback;
            Call(() => raw = byCallback
                    ? Backend.RetrieveResultCallback(future)
                    : Backend.RetrieveResult(future, timeout ?? Timeout.InfiniteTimeSpan),
                (byCallback ? "RetrieveResultCallback" : "RetrieveResult") + " threw an exception");
            violation = null;
            if (ParallelBackendBase.Unwrap(raw) is BatchResult result && result.Task == task) return result;
            string got = raw == null ? "null" : ParallelBackendBase.Unwrap(raw).GetType().FullName;
            violation = ErrorRecords.BackendContract(Backend, $"it returned {got} as the result of batch {task.BatchIndex}; return what task.Invoke() returned");
            return null;
        }

        /// <summary>Tells the backend a batch of <paramref name="items"/> items took <paramref name="duration"/> (its batch sizer learns from it).</summary>
        public void BatchCompleted(int items, TimeSpan duration)
        {
            Call(() => Backend.BatchCompleted(items, duration), "BatchCompleted threw an exception");
        }

        /// <summary>The error for a backend that called a task's callback more than once.</summary>
        public ErrorRecord DuplicateCallback(BatchTask task)
        {
            return ErrorRecords.BackendContract(Backend, $"the callback for batch {task.BatchIndex} was called more than once; call it once per task");
        }

        /// <summary>The error for a batch that came back stopped although nothing asked it to stop.</summary>
        public ErrorRecord StoppedUnasked(BatchTask task)
        {
            return ErrorRecords.BackendContract(Backend, $"batch {task.BatchIndex} came back stopped although nothing asked it to stop");
        }

        // ---- the call's end --------------------------------------------------------------------------------------

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
