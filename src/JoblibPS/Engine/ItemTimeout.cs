using System;
using System.Globalization;

namespace JoblibPS.Engine
{
    /// <summary>The rule for -TimeoutSeconds, the longest one item may run.</summary>
    internal static class ItemTimeout
    {
        /// <summary>The shortest timeout: the resolution at which timeouts are reported (and a timer can tell apart).</summary>
        public const double MinSeconds = 0.001;

        /// <summary>
        /// The longest timeout, about 24.8 days: .NET waits and timers take at most int.MaxValue milliseconds, and a
        /// TimeSpan overflows at about 29,000 years (1e300 seconds was an OverflowException).
        /// </summary>
        public const double MaxSeconds = int.MaxValue / 1000.0;

        /// <summary>The timeout for <paramref name="seconds"/>, or null with <paramref name="error"/> saying what is wrong and what to do.</summary>
        public static TimeSpan? FromSeconds(double seconds, out string error)
        {
            error = null;
            if (double.IsNaN(seconds) || seconds < MinSeconds || seconds > MaxSeconds)
            {
                string given = seconds.ToString("R", CultureInfo.InvariantCulture);
                error = seconds > 0 && seconds < MinSeconds
                    ? $"-TimeoutSeconds {given} is below the shortest timeout, {MinSeconds.ToString(CultureInfo.InvariantCulture)} s. Give a number of seconds from {MinSeconds.ToString(CultureInfo.InvariantCulture)} to {MaxSeconds.ToString(CultureInfo.InvariantCulture)} (about 24.8 days)."
                    : $"-TimeoutSeconds {given} is not valid. Give a number of seconds from {MinSeconds.ToString(CultureInfo.InvariantCulture)} to {MaxSeconds.ToString(CultureInfo.InvariantCulture)} (about 24.8 days), or leave -TimeoutSeconds out for no limit.";
                return null;
            }
            return TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
        }
    }
}
