using System;
using System.Collections.Concurrent;

namespace JoblibPS.Dispatch
{
    /// <summary>
    /// What an item of a given script block cost on a given kind of backend in earlier calls of this process, so a
    /// later call starts its automatic batch size from there instead of from one item (joblib cannot remember across
    /// calls; a PowerShell session calls the same block again and again). Keyed by the backend's type and the block's
    /// exact text: a remembered cost never applies to another block. Thread-safe; the engine records on its pipeline
    /// thread.
    /// </summary>
    internal static class ItemCostMemory
    {
        /// <summary>Blocks remembered at most; the memory starts over beyond that (a session that makes blocks from data).</summary>
        private const int Capacity = 1024;

        private static readonly ConcurrentDictionary<string, double> SecondsPerItem = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);

        /// <summary>The remembered cost of one item, in seconds, or null.</summary>
        public static double? Recall(ParallelBackendBase backend, string scriptText)
        {
            return SecondsPerItem.TryGetValue(Key(backend, scriptText), out double seconds) ? seconds : (double?)null;
        }

        /// <summary>Records a completed batch: the cost per item, smoothed over batches (0.8 old + 0.2 new, as the batch sizer smooths).</summary>
        public static void Record(ParallelBackendBase backend, string scriptText, int items, TimeSpan duration)
        {
            if (items < 1 || duration <= TimeSpan.Zero) return;
            if (SecondsPerItem.Count >= Capacity) SecondsPerItem.Clear();
            double perItem = duration.TotalSeconds / items;
            SecondsPerItem.AddOrUpdate(Key(backend, scriptText), perItem, (_, old) => 0.8 * old + 0.2 * perItem);
        }

        /// <summary>Forgets everything (tests).</summary>
        internal static void Clear() => SecondsPerItem.Clear();

        private static string Key(ParallelBackendBase backend, string scriptText)
        {
            return backend.GetType().FullName + "\n" + scriptText;
        }
    }
}
