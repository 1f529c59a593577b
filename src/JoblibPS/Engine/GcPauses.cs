using System;
using System.Reflection;

namespace JoblibPS.Engine
{
    /// <summary>
    /// How long garbage collections paused this process's threads: GC.GetTotalPauseDuration (.NET 7 and later,
    /// reached by reflection because the module is built for netstandard2.0); unknown on older runtimes.
    /// </summary>
    /// <remarks>
    /// In one process every collection pauses every thread, which is what keeps allocating CPU-bound PowerShell from
    /// scaling on runspace threads (bench/ W2: about 2,570 collections per 8 items). The engine reports the share of
    /// a call spent paused so users can see it and pick a process backend.
    /// </remarks>
    internal static class GcPauses
    {
        private static readonly Func<TimeSpan> Total = Find();

        /// <summary>The total pause so far, or null when the runtime does not say.</summary>
        public static TimeSpan? Now() => Total?.Invoke();

        private static Func<TimeSpan> Find()
        {
            MethodInfo method = typeof(GC).GetMethod("GetTotalPauseDuration", BindingFlags.Public | BindingFlags.Static, null, Type.EmptyTypes, null);
            if (method == null || method.ReturnType != typeof(TimeSpan)) return null;
            return (Func<TimeSpan>)Delegate.CreateDelegate(typeof(Func<TimeSpan>), method);
        }
    }
}
