using System;
using JoblibPS.Workers;

namespace JoblibPS.Backends
{
    /// <summary>
    /// What every built-in backend that runs its batches on a <see cref="WorkerPool"/> (threading, loky,
    /// multiprocessing, remote) does the same way: submit to the pool as the call's owner, abort the call's batches
    /// and keep the kind's warning about workers given up on, and let go of the pool. Each backend decides only how
    /// it gets its pool (Configure) and what letting go means (dispose it, or release a shared one). Pipeline thread.
    /// </summary>
    internal sealed class PoolShell
    {
        private string _abortWarning;

        /// <summary>The pool the backend runs on, once configured; null before and after.</summary>
        public WorkerPool Pool { get; set; }

        /// <summary>Queues the batch for the next free worker, as <paramref name="owner"/>'s.</summary>
        public object Submit(ParallelBackendBase owner, BatchTask task, Action<object> callback)
        {
            WorkerPool pool = Pool ?? throw new InvalidOperationException($"The backend '{owner}' was not configured.");
            return pool.Submit(task, callback, owner);
        }

        /// <summary>Drops <paramref name="owner"/>'s queued batches and stops its running ones (see <see cref="WorkerPool.Abort"/>).</summary>
        public void Abort(ParallelBackendBase owner)
        {
            WorkerPool pool = Pool;
            if (pool == null) return;
            int abandoned = pool.Abort(owner);
            if (abandoned > 0) _abortWarning = pool.Kind.StuckWarning(abandoned, pool.StuckThreads, pool.StopGrace);
        }

        /// <summary>The warning of the last abort (once), or null.</summary>
        public string TakeAbortWarning()
        {
            string warning = _abortWarning;
            _abortWarning = null;
            return warning;
        }

        /// <summary>Lets go of the pool and returns it (null when there was none), for the backend to dispose or release.</summary>
        public WorkerPool Take()
        {
            WorkerPool pool = Pool;
            Pool = null;
            return pool;
        }
    }
}
