using System;
using System.Collections.Concurrent;

namespace JoblibPS.Engine
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

        /// <summary>
        /// The key of <paramref name="backend"/>'s type and <paramref name="scriptText"/>: a string as long as the script,
        /// so a call makes it once, after its backend is final (a fallback changes the backend), and keeps it.
        /// </summary>
        public static Key KeyFor(ParallelBackendBase backend, string scriptText)
        {
            return new Key(backend.GetType().FullName + "\n" + scriptText);
        }

        /// <summary>The remembered cost of one item, in seconds, or null (also for a default key).</summary>
        public static double? Recall(Key key)
        {
            if (key.Text == null) return null;
            return SecondsPerItem.TryGetValue(key.Text, out double seconds) ? seconds : (double?)null;
        }

        /// <summary>Records a completed batch: the cost per item, smoothed over batches (0.8 old + 0.2 new, as the batch sizer smooths). A default key records nothing.</summary>
        public static void Record(Key key, int items, TimeSpan duration)
        {
            if (key.Text == null || items < 1 || duration <= TimeSpan.Zero) return;
            if (SecondsPerItem.Count >= Capacity) SecondsPerItem.Clear();
            double perItem = duration.TotalSeconds / items;
            SecondsPerItem.AddOrUpdate(key.Text, perItem, (_, old) => 0.8 * old + 0.2 * perItem);
        }

        /// <summary>Forgets everything (tests).</summary>
        internal static void Clear() => SecondsPerItem.Clear();

        /// <summary>A backend type and block text, made by <see cref="KeyFor"/> (a type of its own, so a bare script text cannot be passed where a key is meant).</summary>
        public readonly struct Key
        {
            internal Key(string text) => Text = text;

            /// <summary>The dictionary key; null for a default key.</summary>
            internal string Text { get; }
        }
    }
}
