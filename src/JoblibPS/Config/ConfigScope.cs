using System;
using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Backends;
using JoblibPS.Engine;
using JoblibPS.Errors;


namespace JoblibPS.Config
{
    /// <summary>
    /// One Use-JoblibConfig scope: opened (frame pushed, backend created once) before the user's block runs in the
    /// caller's scope, closed (frame popped, backend terminated) after it, also when it throws or is stopped.
    /// Used by the Use-JoblibConfig function of JoblibPS.psm1; all rules live here.
    /// </summary>
    internal sealed class ConfigScope
    {
        private readonly Runspace _runspace;
        private readonly int _depth;
        private readonly ConfigFrame _frame;
        private readonly bool _createdBackend;
        private bool _closed;

        private ConfigScope(Runspace runspace, int depth, ConfigFrame frame, bool createdBackend)
        {
            _runspace = runspace;
            _depth = depth;
            _frame = frame;
            _createdBackend = createdBackend;
        }

        /// <summary>
        /// Opens a scope for the function's bound parameters. Returns the scope, or an ErrorRecord for the function
        /// to throw (so its FullyQualifiedErrorId names Use-JoblibConfig). Called on the pipeline thread.
        /// </summary>
        public static ConfigScope Open(PSCmdlet cmdlet, object backend, IDictionary bound)
        {
            ConfigFrame frame = FrameOf(cmdlet, bound);
            backend = backend is PSObject pso ? pso.BaseObject : backend;
            bool created = SetBackend(cmdlet, frame, backend);
            frame.CreatedBackend = created;
            Runspace runspace = Runspace.DefaultRunspace;
            int depth = ConfigScopes.Push(runspace, frame);
            if (frame.Backend != null) cmdlet.WriteVerbose($"Config scope uses backend {frame.BackendName}" + (frame.NJobs.HasValue ? $" with NJobs {frame.NJobs}." : "."));
            return new ConfigScope(runspace, depth, frame, created);
        }

        /// <summary>The scope's frame from the function's bound parameters, the backend left to <see cref="SetBackend"/>.</summary>
        private static ConfigFrame FrameOf(PSCmdlet cmdlet, IDictionary bound)
        {
            var frame = new ConfigFrame { OwnsBackend = true };
            if (bound.Contains("NJobs"))
            {
                int nJobs = LanguagePrimitives.ConvertTo<int>(bound["NJobs"]);
                ErrorRecord invalid = ConfigResolver.CheckNJobs(nJobs);
                if (invalid != null) throw new TerminatingErrorException(invalid);
                frame.NJobs = nJobs;
            }
            if (bound.Contains("Prefer")) frame.Prefer = bound["Prefer"]?.ToString();
            if (bound.Contains("Require")) frame.Require = bound["Require"]?.ToString();
            if (bound.Contains("InnerMaxNumThreads")) frame.InnerMaxNumThreads = LanguagePrimitives.ConvertTo<int>(bound["InnerMaxNumThreads"]);
            if (bound.Contains("Checkpoint")) frame.Checkpoint = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(bound["Checkpoint"]?.ToString() ?? string.Empty);
            if (bound.Contains("BackendArgument")) frame.BackendArguments = bound["BackendArgument"] as IDictionary ?? new Hashtable();
            return frame;
        }

        /// <summary>
        /// Puts the scope's backend in the frame: the object given, one made from a name or from -Prefer, replaced by
        /// threading under -Require sharedmem when it has no shared memory. True when the scope made the backend (and
        /// terminates it when it closes). A backend that cannot be made is one record, naming it.
        /// </summary>
        private static bool SetBackend(PSCmdlet cmdlet, ConfigFrame frame, object backend)
        {
            bool created = false;
            try
            {
                if (backend is ParallelBackendBase instance)
                {
                    frame.Backend = instance;
                    frame.BackendName = instance.ToString();
                }
                else if (backend is string name)
                {
                    frame.Backend = BackendRegistry.Create(name, frame.BackendArguments);
                    frame.BackendName = BackendRegistry.Find(name)?.Name ?? name;
                    created = true;
                }
                else if (backend != null)
                {
                    throw new TerminatingErrorException(new ErrorRecord(new InvalidBackendValueException(backend), ErrorIds.InvalidBackend, ErrorCategory.InvalidArgument, backend));
                }
                else if (frame.Prefer != null)
                {
                    string preferred = ConfigResolver.PreferredBackendName(frame.Prefer, "threading");
                    frame.Backend = BackendRegistry.Create(preferred, frame.BackendArguments);
                    frame.BackendName = preferred;
                    created = true;
                }

                if (frame.Backend != null)
                {
                    frame.Backend.NestingLevel = ConfigResolver.CurrentNestingLevel(ConfigScopes.Of(Runspace.DefaultRunspace));
                    if (ConfigResolver.RequiresSharedMemInstead(frame.Require, frame.Backend))
                    {
                        cmdlet.WriteVerbose(ConfigResolver.SharedMemNote(frame.BackendName));
                        if (created) frame.Backend.Terminate();
                        frame.Backend = BackendRegistry.Create("threading", new Hashtable());
                        frame.BackendName = "threading";
                        created = true;
                    }
                    ConfigResolver.CheckSupported(frame.Backend, frame.InnerMaxNumThreads);
                }
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException) && !(ex is TerminatingErrorException))
            {
                if (created) SafeTerminate(frame.Backend, cmdlet);
                ErrorRecord creation = ErrorRecords.BackendCreation(ex, backend);
                DollarError.Forget(cmdlet.SessionState, ex);
                throw new TerminatingErrorException(creation);
            }
            return created;
        }

        /// <summary>Restores the previous config and terminates the backend this scope created. Idempotent.</summary>
        public void Close()
        {
            if (_closed) return;
            _closed = true;
            ConfigScopes.Pop(_runspace, _depth);
            if (_createdBackend) SafeTerminate(_frame.Backend, null);
        }

        private static void SafeTerminate(ParallelBackendBase backend, PSCmdlet cmdlet)
        {
            try
            {
                backend?.Terminate();
            }
            catch (Exception ex)
            {
                cmdlet?.WriteWarning($"The backend '{backend}' failed in Terminate: {ex.Message}");
            }
        }
    }
}
