using System;
using System.Collections.Generic;
using System.Linq;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// Every pool of worker processes in this process, and loky's reusable one. Thread-safe.
    /// </summary>
    /// <remarks>
    /// loky's reusable executor: one pool lives in the module and serves every later call and scope, in every
    /// runspace, while the workers it would start stay the same (PwshPath, Environment, MaxTasksPerWorker). A call
    /// with other settings drains the old pool (its holders finish with it, then it closes) and starts a new one.
    /// <see cref="ShutdownAll"/> (Remove-Module) ends every worker of every pool.
    /// </remarks>
    internal static class ProcessPools
    {
        private static readonly object Gate = new object();
        private static readonly HashSet<WorkerPool> Pools = new HashSet<WorkerPool>();
        private static WorkerPool _loky;
        private static ProcessWorkerKind _lokyKind;
        private static ProcessBackendOptions _lokyOptions;

        /// <summary>Ends the workers of every pool and forgets loky's pool (Remove-Module JoblibPS). Any thread.</summary>
        public static void ShutdownAll()
        {
            List<WorkerPool> pools;
            lock (Gate)
            {
                pools = Pools.ToList();
                Pools.Clear();
                _loky = null;
            }
            foreach (WorkerPool pool in pools) pool.Dispose();
        }

        /// <summary>
        /// loky's reusable pool for <paramref name="options"/>: the current one when its workers match, else a new one
        /// (the old one drains). <paramref name="holder"/> holds the pool when this returns, so a drain cannot close it first.
        /// </summary>
        public static WorkerPool AcquireLoky(ProcessBackendOptions options, object holder, out ProcessWorkerKind kind)
        {
            WorkerPool old = null;
            WorkerPool pool;
            lock (Gate)
            {
                if (_loky == null || _loky.IsDisposed || !_lokyOptions.SameWorkers(options))
                {
                    old = _loky;
                    _lokyKind = new ProcessWorkerKind("loky", options);
                    _loky = New(_lokyKind, options);
                    _lokyOptions = options;
                }
                pool = _loky;
                kind = _lokyKind;
                pool.Hold(holder);
            }
            pool.SetIdleTimeout(TimeSpan.FromSeconds(options.IdleTimeoutSeconds));
            old?.Drain();
            return pool;
        }

        /// <summary>A fresh pool of worker processes (multiprocessing: one per call), closed by its owner.</summary>
        public static WorkerPool New(ProcessWorkerKind kind, ProcessBackendOptions options)
        {
            var pool = new WorkerPool(kind, StopGrace) { MaxTasksPerWorker = options.MaxTasksPerWorker };
            kind.Pool = pool;
            pool.Closed = () => Forget(pool);
            lock (Gate) Pools.Add(pool);
            return pool;
        }

        /// <summary>
        /// How long an abort waits for running pipelines to stop before it kills their workers. A PowerShell pipeline
        /// stops in about 50 ms (measured on a 2-core machine); one inside a native call or a long <c>finally</c>
        /// does not, and its worker is killed and replaced.
        /// </summary>
        public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(1);

        private static void Forget(WorkerPool pool)
        {
            lock (Gate)
            {
                Pools.Remove(pool);
                if (_loky == pool) _loky = null;
            }
        }
    }
}
