using System;
using System.Collections.Generic;
using System.Linq;

namespace JoblibPS.Workers
{
    /// <summary>
    /// Every worker pool alive in this process, of every kind: the one registry that module removal (and a test that
    /// needs a fresh start) ends them through. A pool joins when it is made and leaves when it is disposed. Thread-safe.
    /// </summary>
    internal static class LivePools
    {
        private static readonly object Gate = new object();
        private static readonly HashSet<WorkerPool> Pools = new HashSet<WorkerPool>();

        public static void Add(WorkerPool pool)
        {
            lock (Gate) Pools.Add(pool);
        }

        public static void Remove(WorkerPool pool)
        {
            lock (Gate) Pools.Remove(pool);
        }

        /// <summary>The number of live pools, for tests.</summary>
        public static int Count
        {
            get { lock (Gate) return Pools.Count; }
        }

        /// <summary>Disposes every live pool whose kind <paramref name="which"/> accepts (null: every pool). Any thread.</summary>
        public static void CloseAll(Func<WorkerKind, bool> which = null)
        {
            List<WorkerPool> pools;
            lock (Gate) pools = Pools.Where(p => which == null || which(p.Kind)).ToList();
            foreach (WorkerPool pool in pools) pool.Dispose();
        }
    }
}
