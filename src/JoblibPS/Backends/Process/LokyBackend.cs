using System;
using System.Collections;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// joblib's default process backend: batches run in a reusable pool of pwsh worker processes that lives in
    /// the module and serves later calls and scopes (loky's reusable executor) while PwshPath, Environment and
    /// MaxTasksPerWorker stay the same. Idle workers exit after IdleTimeoutSeconds (300 s unless given); the pool
    /// grows or shrinks to each call's NJobs; MaxTasksPerWorker replaces a worker after that many batches.
    /// </summary>
    public class LokyBackend : WorkerProcessBackend
    {
        /// <summary>Creates the backend with default arguments.</summary>
        public LokyBackend() : this(new Hashtable()) { }

        /// <summary>Creates the backend from backend arguments: PwshPath, IdleTimeoutSeconds, MaxTasksPerWorker, Environment.</summary>
        public LokyBackend(IDictionary backendArguments) : this(ProcessBackendOptions.From("loky", backendArguments, acceptsIdleTimeout: true), 0) { }

        internal LokyBackend(ProcessBackendOptions options, int nestingLevel) : base(options, nestingLevel) { }

        internal override WorkerPool AcquirePool(out ProcessWorkerKind kind)
        {
            return ProcessPools.AcquireLoky(Options, this, out kind);
        }

        internal override void ReleasePool(WorkerPool pool)
        {
            // The pool is the module's: it outlives this instance and idles out by itself, unless newer settings
            // replaced it, when the last instance that holds it lets it go.
            pool.Release(this);
        }
    }
}
