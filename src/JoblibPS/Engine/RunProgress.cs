using System;
using System.Diagnostics;
using System.Management.Automation;
using JoblibPS.Output;

namespace JoblibPS.Engine
{
    /// <summary>
    /// Progress of one call: a Write-Progress bar (items done, rate, and time left once the input has ended) and
    /// joblib-style verbose lines ("Done 120 out of 400 | elapsed: 1.2s remaining: 2.8s"). Both stay silent for
    /// calls shorter than <see cref="QuietPeriod"/> and appear at most every <see cref="Interval"/>. The caller's
    /// $ProgressPreference and -ProgressAction apply, because the cmdlet writes the records. Pipeline thread only.
    /// </summary>
    internal sealed class RunProgress
    {
        /// <summary>Calls shorter than this show nothing: a bar that flashes for a fraction of a second helps nobody.</summary>
        public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);

        /// <summary>How often the bar and the verbose line are refreshed.</summary>
        public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

        /// <summary>The bar's activity id; the blocks' own progress records are shown as its children (see <see cref="ProgressRelay"/>).</summary>
        public const int ActivityId = 0x4A4C;
        private readonly IPipelineWriter _writer;
        private readonly Stopwatch _clock;
        private TimeSpan _last;
        private bool _shown;

        public RunProgress(IPipelineWriter writer, Stopwatch clock)
        {
            _writer = writer;
            _clock = clock;
        }

        /// <summary>True while the bar is shown.</summary>
        public bool Shown => _shown;

        /// <summary>Reports <paramref name="done"/> items done out of <paramref name="seen"/> received so far; the total is known once <paramref name="inputEnded"/>.</summary>
        public void Report(long done, long seen, bool inputEnded)
        {
            TimeSpan elapsed = _clock.Elapsed;
            if (elapsed < QuietPeriod || elapsed - _last < Interval) return;
            _last = elapsed;
            _shown = true;
            string verbose = $"Done {done} out of {(inputEnded ? seen.ToString() : "?")} | elapsed: {elapsed.TotalSeconds:0.0}s";
            double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
            if (inputEnded && seen > 0 && rate > 0) verbose += $" remaining: {(seen - done) / rate:0.0}s";
            _writer.WriteProgress(Record(done, seen, inputEnded, elapsed));
            _writer.WriteVerbose(verbose);
        }

        /// <summary>
        /// The bar for <paramref name="done"/> items done out of <paramref name="seen"/> received. While the input
        /// still arrives the total is unknown: the bar stays empty (0 %, where -1 would draw it full, which reads as
        /// done) and the text says the total is not known yet; before the first item is done it says that workers
        /// may still be starting (a cold loky pool takes seconds).
        /// </summary>
        internal static ProgressRecord Record(long done, long seen, bool inputEnded, TimeSpan elapsed)
        {
            double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
            var record = new ProgressRecord(ActivityId, "Invoke-JoblibParallel", "Starting");
            string status;
            if (inputEnded && seen > 0)
            {
                record.PercentComplete = (int)Math.Min(100, 100 * done / seen);
                if (rate > 0) record.SecondsRemaining = (int)Math.Ceiling((seen - done) / rate);
                status = $"Done {done} of {seen} items";
            }
            else
            {
                record.PercentComplete = 0;
                status = $"Done {done} of ? items (input still arriving)";
            }
            if (done == 0) status += " | no result yet: workers may still be starting";
            else status += $" | {rate:0.#} items/s";
            if (!inputEnded) status += $" | elapsed {elapsed.TotalSeconds:0.0}s";
            record.StatusDescription = status;
            return record;
        }

        /// <summary>Writes the final verbose line and closes the bar.</summary>
        public void Finish(long items, int batches)
        {
            _writer.WriteVerbose($"Done {items} out of {items} | elapsed: {_clock.Elapsed.TotalSeconds:0.0##}s finished ({batches} batches).");
            Clear();
        }

        /// <summary>Closes the bar if it was shown.</summary>
        public void Clear()
        {
            if (!_shown) return;
            _shown = false;
            try
            {
                _writer.WriteProgress(new ProgressRecord(ActivityId, "Invoke-JoblibParallel", "Done") { RecordType = ProgressRecordType.Completed });
            }
            catch (Exception)
            {
                // The pipeline may already be stopping; a stale bar is the lesser evil.
            }
        }
    }
}
