using System;

namespace JoblibPS
{
    /// <summary>
    /// joblib's AutoBatchingMixin: grows the batch while batches finish faster than the ideal duration, shrinks it
    /// when they run longer, and smooths the measured duration (0.8 old + 0.2 new), starting afresh whenever the
    /// size changes. Used on the pipeline thread only.
    /// </summary>
    public sealed class AutoBatchSizer
    {
        /// <summary>joblib's MIN_IDEAL_BATCH_DURATION: right where a batch costs milliseconds (a worker process, SSH).</summary>
        public static readonly TimeSpan JoblibMinIdealBatchDuration = TimeSpan.FromSeconds(0.2);

        /// <summary>joblib's MAX_IDEAL_BATCH_DURATION.</summary>
        public static readonly TimeSpan JoblibMaxIdealBatchDuration = TimeSpan.FromSeconds(2);

        /// <summary>
        /// The ideal batch duration for runspaces in the caller's process, where a batch costs about 0.3 ms (a call of
        /// the driver function in a warm runspace): 50 ms keeps that under 1%. joblib's 0.2 s made batches of tiny
        /// items four times larger for nothing: with the batches in the pre-dispatch and reorder windows, the
        /// memory of an ordered call of 1,000,000 tiny items followed their size (bench/ W5), and an ordered call's
        /// output waits for whole batches.
        /// </summary>
        public static readonly TimeSpan InProcessMinIdealBatchDuration = TimeSpan.FromSeconds(0.05);

        /// <summary>The longest ideal batch duration for runspaces in the caller's process (ten times the shortest, as joblib's).</summary>
        public static readonly TimeSpan InProcessMaxIdealBatchDuration = TimeSpan.FromSeconds(0.5);

        /// <summary>
        /// The largest batch for runspaces in the caller's process. Tiny items reach it (W1's { $_ * 2 } would make
        /// batches of about 20,000 at 50 ms): at 4,096 items a batch's arrays (items, records) stay under the
        /// 85,000-byte large-object threshold, and the batches held in the pre-dispatch and reorder windows stay a few
        /// megabytes, while the cost of a batch (about 0.3 ms) stays under 0.1 microsecond per item. bench/ W5,
        /// 1,000,000 items, fixed batch sizes in one process: 4,000 ran in 3.0 to 3.3 s, 20,000 in 3.4 to 3.7 s.
        /// </summary>
        public const int InProcessMaxBatchSize = 4096;

        /// <summary>The largest batch size this sizer gives; no limit (joblib's rule) unless the backend sets it.</summary>
        public int MaxBatchSize { get; set; } = int.MaxValue;

        /// <summary>Batches shorter than this grow; joblib's 0.2 s unless the backend sets it.</summary>
        public TimeSpan MinIdealBatchDuration { get; set; } = JoblibMinIdealBatchDuration;

        /// <summary>Batches longer than this shrink; joblib's 2 s unless the backend sets it.</summary>
        public TimeSpan MaxIdealBatchDuration { get; set; } = JoblibMaxIdealBatchDuration;

        /// <summary>
        /// How much a batch may grow in one step. joblib doubles at most, to avoid huge batches starving workers;
        /// there a batch costs microseconds. In PowerShell one batch costs 0.3 to 0.6 ms in a warm runspace and
        /// 5 to 16 ms in a worker process or over SSH (round trips measured by hand on pwsh 7.6.9), so doubling from 1 spends a dozen
        /// round trips before tiny items are batched well (bench/ W1). Growing eightfold reaches the ideal size in
        /// a third of the steps; the ideal size itself still bounds the growth.
        /// </summary>
        public const int DefaultMaxGrowthFactor = 8;

        /// <summary>
        /// How much the first step from a start at one item may grow. A batch of one item measures mostly what a batch
        /// costs (0.3 ms in a runspace, 5 to 16 ms in a worker process or over SSH), so the ideal size computed from it
        /// is a lower bound of the real one and taking it at once cannot overshoot; capping that step at
        /// <see cref="DefaultMaxGrowthFactor"/> only adds a round of batches that are all overhead (bench/Auto-Batching.ps1,
        /// first calls).
        /// </summary>
        internal const int FirstStepMaxGrowthFactor = 1024;

        private readonly int _maxGrowthFactor;
        private int _effectiveBatchSize = 1;
        private double _smoothedSeconds;
        private bool _fromOne = true;

        /// <summary>Creates a sizer; <paramref name="maxGrowthFactor"/> 2 is joblib's own rule.</summary>
        public AutoBatchSizer(int maxGrowthFactor = DefaultMaxGrowthFactor)
        {
            if (maxGrowthFactor < 2) throw new ArgumentOutOfRangeException(nameof(maxGrowthFactor), "A batch must be able to grow: give 2 or more.");
            _maxGrowthFactor = maxGrowthFactor;
        }

        /// <summary>The batch size in force.</summary>
        public int EffectiveBatchSize => _effectiveBatchSize;

        /// <summary>Starts over at a batch size of 1.</summary>
        public void Reset()
        {
            _effectiveBatchSize = 1;
            _smoothedSeconds = 0;
            _fromOne = true;
        }

        /// <summary>
        /// Starts from a known cost of one item (remembered from earlier calls) instead of from one item: the size whose
        /// batch lasts the shortest ideal duration, within <see cref="MaxBatchSize"/>. The first batches still measure
        /// and adapt as usual.
        /// </summary>
        internal void StartFrom(double secondsPerItem)
        {
            if (!(secondsPerItem > 0)) return;
            double size = MinIdealBatchDuration.TotalSeconds / secondsPerItem;
            _effectiveBatchSize = (int)Math.Max(1, Math.Min(Math.Min(MaxBatchSize, int.MaxValue / 2), Math.Floor(size)));
            _smoothedSeconds = 0;
            _fromOne = false;
        }

        /// <summary>Returns the size of the next batch (joblib's compute_batch_size).</summary>
        public int ComputeBatchSize()
        {
            int old = _effectiveBatchSize;
            double duration = _smoothedSeconds;
            double min = MinIdealBatchDuration.TotalSeconds;
            int size = old;
            if (duration > 0 && duration < min)
            {
                // Grow towards the ideal size, at most by the growth factor per step, aiming at twice the ideal to
                // limit oscillation between the two thresholds (joblib).
                long ideal = (long)(old * min / duration) * 2;
                long growth = _fromOne && old == 1 && _maxGrowthFactor > 2 ? FirstStepMaxGrowthFactor : _maxGrowthFactor;
                size = (int)Math.Max(1, Math.Min(growth * old, Math.Min(ideal, Math.Min(MaxBatchSize, int.MaxValue / 2))));
            }
            else if (duration > MaxIdealBatchDuration.TotalSeconds && old >= 2)
            {
                long ideal = (long)(old * min / duration);
                size = (int)Math.Max(2 * ideal, 1);
            }
            if (size != old)
            {
                _effectiveBatchSize = size;
                _smoothedSeconds = 0;
                _fromOne = false;
            }
            return size;
        }

        /// <summary>Records a finished batch; only batches of the size in force count (joblib's batch_completed).</summary>
        public void BatchCompleted(int batchSize, TimeSpan duration)
        {
            if (batchSize != _effectiveBatchSize) return;
            double seconds = duration.TotalSeconds;
            _smoothedSeconds = _smoothedSeconds == 0 ? seconds : 0.8 * _smoothedSeconds + 0.2 * seconds;
        }
    }
}
