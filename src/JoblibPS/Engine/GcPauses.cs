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

        /// <summary>
        /// The verbose line for a call of a second or more that began when the total pause was <paramref name="atStart"/>:
        /// how much garbage collection paused this process (every thread at once), with what to do about it when that
        /// was a quarter or more of a call on several threads; null when there is nothing to say.
        /// </summary>
        public static string Report(TimeSpan? atStart, TimeSpan elapsed, bool severalThreads)
        {
            TimeSpan? now = Now();
            if (now == null || atStart == null || elapsed < TimeSpan.FromSeconds(1)) return null;
            TimeSpan paused = now.Value - atStart.Value;
            double share = paused.TotalSeconds / elapsed.TotalSeconds;
            string message = $"Garbage collection paused this process for {paused.TotalSeconds:0.0}s of the call's {elapsed.TotalSeconds:0.0}s ({share:P0}).";
            if (share >= 0.25 && severalThreads)
            {
                message += " Every collection pauses all worker threads, so allocating CPU-bound PowerShell does not scale on threads: use -Backend loky (worker processes with their own garbage collector), or start pwsh with $env:DOTNET_GCgen0size = '0x10000000' set (see about_JoblibPS_Backends).";
            }
            return message;
        }

        private static Func<TimeSpan> Find()
        {
            MethodInfo method = typeof(GC).GetMethod("GetTotalPauseDuration", BindingFlags.Public | BindingFlags.Static, null, Type.EmptyTypes, null);
            if (method == null || method.ReturnType != typeof(TimeSpan)) return null;
            return (Func<TimeSpan>)Delegate.CreateDelegate(typeof(Func<TimeSpan>), method);
        }
    }
}
