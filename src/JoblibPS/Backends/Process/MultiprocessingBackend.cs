using System;
using System.Collections;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// Fresh pwsh worker processes for each call, all ended when the call ends (joblib's multiprocessing backend):
    /// nothing of one call survives into the next, at the price of a pwsh start-up per call.
    /// </summary>
    public class MultiprocessingBackend : WorkerProcessBackend
    {
        /// <summary>Creates the backend with default arguments.</summary>
        public MultiprocessingBackend() : this(new Hashtable()) { }

        /// <summary>Creates the backend from backend arguments: PwshPath, MaxTasksPerWorker, Environment.</summary>
        public MultiprocessingBackend(IDictionary backendArguments) : this(ProcessBackendOptions.From("multiprocessing", backendArguments, acceptsIdleTimeout: false), 0) { }

        internal MultiprocessingBackend(ProcessBackendOptions options, int nestingLevel) : base(options, nestingLevel) { }

        /// <summary>Ends this call's workers.</summary>
        public override void StopCall()
        {
            Terminate();
        }

        internal override WorkerPool AcquirePool(out ProcessWorkerKind kind)
        {
            // A fresh pool for every call: the previous call's was disposed by StopCall (or is now).
            Terminate();
            kind = new ProcessWorkerKind("multiprocessing", Options);
            return ProcessPools.New(kind, Options);
        }

        internal override void ReleasePool(WorkerPool pool)
        {
            pool.Dispose();
        }
    }
}
