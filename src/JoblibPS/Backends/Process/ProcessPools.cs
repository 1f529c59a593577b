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
    /// Every pool is in <see cref="LivePools"/>, which module removal ends; <see cref="ShutdownAll"/> ends only the
    /// process pools (a test's fresh start).
    /// </remarks>
    internal static class ProcessPools
    {
        private static readonly object Gate = new object();
        private static WorkerPool _loky;
        private static ProcessWorkerKind _lokyKind;
        private static ProcessBackendOptions _lokyOptions;

        /// <summary>Ends the workers of every process pool and forgets loky's pool. Any thread.</summary>
        public static void ShutdownAll()
        {
            lock (Gate) _loky = null;
            LivePools.CloseAll(kind => kind is ProcessWorkerKind);
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
            var pool = new WorkerPool(kind) { MaxTasksPerWorker = options.MaxTasksPerWorker };
            kind.Pool = pool;
            pool.Closed = () => Forget(pool);
            return pool;
        }

        private static void Forget(WorkerPool pool)
        {
            lock (Gate)
            {
                if (_loky == pool) _loky = null;
            }
        }
    }
}
