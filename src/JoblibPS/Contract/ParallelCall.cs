using System;
using System.Collections;
using System.Threading;

namespace JoblibPS
{
    /// <summary>
    /// The settings of one Invoke-JoblibParallel call, as a backend sees them (joblib passes the Parallel object
    /// to configure). Read-only for backends.
    /// </summary>
    public sealed class ParallelCall
    {
        internal ParallelCall(int nJobs, IDictionary backendArguments, int? innerMaxNumThreads, TimeSpan? timeout, bool ordered, string batchSize, string preDispatch, CancellationToken stopping = default(CancellationToken))
        {
            Stopping = stopping;
            NJobs = nJobs;
            BackendArguments = backendArguments ?? new Hashtable();
            InnerMaxNumThreads = innerMaxNumThreads;
            Timeout = timeout;
            Ordered = ordered;
            BatchSize = batchSize;
            PreDispatch = preDispatch;
        }

        /// <summary>
        /// True when the call runs as a job (Invoke-JoblibParallel -AsJob): no caller's pipeline thread waits in it, so
        /// a backend must not run work "in the caller's runspace". The built-in backends then do not fall back to the
        /// sequential backend for one job; a fallback to it is replaced by one runspace of the job's own (threading, 1 job).
        /// </summary>
        public bool InJob { get; internal set; }

        /// <summary>The requested number of jobs (before the backend's EffectiveNJobs).</summary>
        public int NJobs { get; }

        /// <summary>The backend arguments in force (from the config scope).</summary>
        public IDictionary BackendArguments { get; }

        /// <summary>The limit for threads of native libraries inside workers, or null.</summary>
        public int? InnerMaxNumThreads { get; }

        /// <summary>The longest one item may run, or null.</summary>
        public TimeSpan? Timeout { get; }

        /// <summary>True when output is written in input order.</summary>
        public bool Ordered { get; }

        /// <summary>'auto' or a fixed batch size.</summary>
        public string BatchSize { get; }

        /// <summary>The pre-dispatch expression, as given.</summary>
        public string PreDispatch { get; }

        /// <summary>
        /// Cancelled when the user stops the call (Ctrl+C) from another thread. A backend whose Configure takes long
        /// (opening connections, starting processes) should watch it, leave nothing open, and throw
        /// <see cref="System.Management.Automation.PipelineStoppedException"/>.
        /// </summary>
        public CancellationToken Stopping { get; }
    }
}
