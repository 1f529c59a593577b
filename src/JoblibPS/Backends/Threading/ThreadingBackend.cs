using System;
using System.Collections;
using JoblibPS.Dispatch;

namespace JoblibPS.Backends.Threading
{
    /// <summary>
    /// Runs batches on worker threads, each with a runspace of the module's warm in-process cache. The default
    /// backend: PowerShell has no GIL. With one effective job it falls back to <see cref="Sequential.SequentialBackend"/>
    /// (joblib's ThreadingBackend does the same).
    /// </summary>
    public class ThreadingBackend : ParallelBackendBase
    {
        private RunspaceWorkerPool _pool;

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
            if (n == 1)
            {
                throw new FallbackToBackendException(new Sequential.SequentialBackend(NestingLevel));
            }
            if (_pool == null || _pool.Size != n)
            {
                _pool?.Dispose();
                _pool = new RunspaceWorkerPool(n);
            }
            return n;
        }

        /// <summary>Starts a call: runspaces that served an earlier call of this backend are reset before they serve this one.</summary>
        public override void StartCall()
        {
            _pool?.BeginCall();
        }

        /// <summary>Queues the task for the next free worker.</summary>
        public override object Submit(BatchTask task, Action<object> callback)
        {
            if (_pool == null) throw new InvalidOperationException("The threading backend was not configured.");
            var future = new BatchFuture(task, callback);
            _pool.Enqueue(future);
            return future;
        }

        /// <summary>Drops queued tasks and stops running ones; keeps the workers when <paramref name="ensureReady"/>.</summary>
        public override void AbortEverything(bool ensureReady)
        {
            _pool?.Abort();
            if (!ensureReady) Terminate();
        }

        /// <summary>Ends the worker threads; their runspaces go back, to be reset, to the module's warm cache.</summary>
        public override void Terminate()
        {
            _pool?.Dispose();
            _pool = null;
        }
    }
}
