using System;
using System.Collections;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Threading
{
    /// <summary>
    /// Runs batches on worker threads, each with a runspace of the module's warm in-process cache. The default
    /// backend: PowerShell has no GIL. With one effective job it falls back to <see cref="Sequential.SequentialBackend"/>
    /// (joblib's ThreadingBackend does the same).
    /// </summary>
    public class ThreadingBackend : ParallelBackendBase
    {
        private readonly PoolShell _shell = new PoolShell();

        /// <summary>Creates the backend for top-level calls.</summary>
        public ThreadingBackend() : this(0) { }

        /// <summary>Creates the backend for calls at <paramref name="nestingLevel"/>.</summary>
        public ThreadingBackend(int nestingLevel) : base(nestingLevel)
        {
            SupportsRetrieveCallback = true;
            SupportsSharedMem = true;
            SupportsTimeout = true;
            SupportsReturnGenerator = true;
            UsesThreads = true;
            AutoBatcher.MinIdealBatchDuration = AutoBatchSizer.InProcessMinIdealBatchDuration;
            AutoBatcher.MaxIdealBatchDuration = AutoBatchSizer.InProcessMaxIdealBatchDuration;
            AutoBatcher.MaxBatchSize = AutoBatchSizer.InProcessMaxBatchSize;
        }

        /// <summary>joblib's CPU rule (-1 = every CPU).</summary>
        public override int EffectiveNJobs(int nJobs)
        {
            return NJobs.Resolve(nJobs);
        }

        /// <summary>Starts (or resizes) the worker threads; one job falls back to sequential.</summary>
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            int n = EffectiveNJobs(nJobs);
            Parallel = parallel;
            if (n == 1 && parallel?.InJob != true)
            {
                throw new FallbackToBackendException(new Sequential.SequentialBackend(NestingLevel));
            }
            if (_shell.Pool == null) _shell.Pool = new WorkerPool(new RunspaceWorkerKind());
            _shell.Pool.Resize(n);
            _shell.Pool.SetLimit(n);
            return n;
        }

        /// <summary>Queues the task for the next free worker.</summary>
        public override object Submit(BatchTask task, Action<object> callback) => _shell.Submit(this, task, callback);

        /// <summary>Drops queued tasks and stops running ones; keeps the workers when <paramref name="ensureReady"/>.</summary>
        public override void AbortEverything(bool ensureReady)
        {
            _shell.Abort(this);
            if (!ensureReady) Terminate();
        }

        internal override string TakeAbortWarning() => _shell.TakeAbortWarning();

        /// <summary>Ends the worker threads; their runspaces go back, to be reset, to the module's warm cache.</summary>
        public override void Terminate()
        {
            _shell.Take()?.Dispose();
        }
    }
}
