using System;
using System.Collections.Generic;
using System.Linq;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// Every worker pool of the process, and loky's reusable one. Thread-safe.
    /// </summary>
    /// <remarks>
    /// loky's reusable executor: one pool lives in the module and serves every later call and scope, in every
    /// runspace, while the workers it would start stay the same (PwshPath, Environment, MaxTasksPerWorker). A call
    /// with other settings drains the old pool (its workers finish the batches they hold, then exit) and starts a
    /// new one. <see cref="ShutdownAll"/> (Remove-Module) kills every worker of every pool.
    /// </remarks>
    public static class ProcessPools
    {
        private static readonly object Gate = new object();
        private static readonly HashSet<PwshWorkerPool> Pools = new HashSet<PwshWorkerPool>();
        private static PwshWorkerPool _loky;

        /// <summary>The process ids of loky's reusable workers running now (empty when there is no pool).</summary>
        public static IReadOnlyList<int> LokyWorkerProcessIds
        {
            get
            {
                PwshWorkerPool pool;
                lock (Gate) pool = _loky;
                return pool?.WorkerProcessIds ?? (IReadOnlyList<int>)Array.Empty<int>();
            }
        }

        /// <summary>The process ids of the workers of every pool (loky's and those of running multiprocessing calls).</summary>
        public static IReadOnlyList<int> AllWorkerProcessIds
        {
            get
            {
                List<PwshWorkerPool> pools;
                lock (Gate) pools = Pools.ToList();
                return pools.SelectMany(p => p.WorkerProcessIds).ToList();
            }
        }

        /// <summary>Kills the workers of every pool and forgets loky's pool (Remove-Module JoblibPS). Any thread.</summary>
        public static void ShutdownAll()
        {
            List<PwshWorkerPool> pools;
            lock (Gate)
            {
                pools = Pools.ToList();
                _loky = null;
            }
            foreach (PwshWorkerPool pool in pools) pool.Dispose();
        }

        /// <summary>loky's reusable pool for <paramref name="options"/>: the current one when its workers match, else a new one (the old one drains: see <see cref="PwshWorkerPool.Drain"/>).</summary>
        /// <remarks><paramref name="holder"/> holds the pool when this returns (see <see cref="PwshWorkerPool.Hold"/>), so a drain cannot dispose it first.</remarks>
        internal static PwshWorkerPool AcquireLoky(ProcessBackendOptions options, object holder)
        {
            PwshWorkerPool old = null;
            PwshWorkerPool pool;
            lock (Gate)
            {
                if (_loky != null && !_loky.IsDisposed && _loky.Options.SameWorkers(options))
                {
                    pool = _loky;
                }
                else
                {
                    old = _loky;
                    pool = _loky = new PwshWorkerPool("loky", options, TimeSpan.FromSeconds(options.IdleTimeoutSeconds));
                }
                pool.Hold(holder);
            }
            pool.SetIdleTimeout(TimeSpan.FromSeconds(options.IdleTimeoutSeconds));
            old?.Drain();
            return pool;
        }

        internal static void Add(PwshWorkerPool pool)
        {
            lock (Gate) Pools.Add(pool);
        }

        internal static void Remove(PwshWorkerPool pool)
        {
            lock (Gate)
            {
                Pools.Remove(pool);
                if (_loky == pool) _loky = null;
            }
        }
    }
}
