using System.Collections;

namespace JoblibPS.Config
{
    /// <summary>
    /// One level of configuration: a Use-JoblibConfig scope, or the frame a worker runs its batch under.
    /// A null member means "not set here": the next outer frame, then the default, decides.
    /// </summary>
    internal sealed class ConfigFrame
    {
        /// <summary>The backend instance every call inside this frame uses; created when the frame opened.</summary>
        public ParallelBackendBase Backend { get; set; }

        /// <summary>The name the backend was asked for by, for messages and Get-JoblibConfig.</summary>
        public string BackendName { get; set; }

        public int? NJobs { get; set; }

        public string Prefer { get; set; }

        public string Require { get; set; }

        public int? InnerMaxNumThreads { get; set; }

        public IDictionary BackendArguments { get; set; }

        /// <summary>The full path of the checkpoint calls in this scope use (Use-JoblibConfig -Checkpoint), or null.</summary>
        public string Checkpoint { get; set; }

        /// <summary>
        /// True for a Use-JoblibConfig scope: the scope owns its backend (terminated when the scope ends) and
        /// calls inside it abort with ensureReady. False for a worker frame: each nested call terminates the
        /// nested backend when it ends, as joblib does.
        /// </summary>
        public bool OwnsBackend { get; set; }

        /// <summary>True when the scope created <see cref="Backend"/> (by name or preference) and terminates it when it ends.</summary>
        public bool CreatedBackend { get; set; }

        /// <summary>True for the frame a worker runs a batch under (its backend is the outer backend's nested backend).</summary>
        public bool IsWorker { get; set; }
    }
}
