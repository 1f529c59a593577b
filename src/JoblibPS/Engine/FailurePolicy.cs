using System;
using System.Management.Automation;

namespace JoblibPS.Engine
{
    /// <summary>
    /// The one place for what happens to an item that failed, timed out or ended its worker: run it again
    /// (-Retry, after -RetryDelaySeconds doubling per attempt), report it and go on (-OnError Continue), or end the
    /// call (-OnError Abort). Also counts what happened, for the call's closing verbose line. Pipeline thread only.
    /// </summary>
    internal sealed class FailurePolicy
    {
        public FailurePolicy(OnErrorAction onError, int retry, TimeSpan retryDelay)
        {
            OnError = onError;
            Retry = retry;
            RetryDelay = retryDelay;
        }

        public OnErrorAction OnError { get; }

        /// <summary>How many times a failed item is tried again (0: never).</summary>
        public int Retry { get; }

        /// <summary>The wait before the first retry; each further retry waits twice as long as the one before.</summary>
        public TimeSpan RetryDelay { get; }

        /// <summary>Items written successfully.</summary>
        public long Done { get; private set; }

        /// <summary>Items that failed every attempt (timed-out ones included).</summary>
        public long Failed { get; private set; }

        /// <summary>Items that failed every attempt by timing out.</summary>
        public long TimedOut { get; private set; }

        /// <summary>Attempts made again after a failure.</summary>
        public long Retried { get; private set; }

        /// <summary>True when an item that failed on attempt <paramref name="attempt"/> (1-based) is tried again.</summary>
        public bool ShouldRetry(int attempt) => attempt <= Retry;

        /// <summary>Records a retry and returns how long to wait before attempt <paramref name="attempt"/> + 1.</summary>
        public TimeSpan RetryAfter(int attempt)
        {
            Retried++;
            if (RetryDelay <= TimeSpan.Zero) return TimeSpan.Zero;
            double factor = Math.Pow(2, Math.Max(0, attempt - 1));
            double ticks = Math.Min(RetryDelay.Ticks * factor, TimeSpan.FromHours(1).Ticks);
            return TimeSpan.FromTicks((long)ticks);
        }

        public void CountDone(int items) => Done += items;

        /// <summary>
        /// Counts a final failure and returns its record, saying how many attempts were made when there was more than one.
        /// </summary>
        public ErrorRecord Final(ErrorRecord record, int attempts, bool timedOut)
        {
            Failed++;
            if (timedOut) TimedOut++;
            if (attempts > 1)
            {
                string message = record.ErrorDetails?.Message ?? record.Exception?.Message ?? string.Empty;
                record.ErrorDetails = new ErrorDetails($"{message.TrimEnd()} (The item failed all {attempts} attempts.)");
            }
            return record;
        }

        /// <summary>The call's closing line at -Verbose.</summary>
        public string Summary()
        {
            return $"Items done: {Done}, failed: {Failed}, retried: {Retried}, timed out: {TimedOut}.";
        }
    }
}
