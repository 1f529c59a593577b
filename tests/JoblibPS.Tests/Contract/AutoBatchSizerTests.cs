using System;
using Xunit;
using JoblibPS.Config;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Contract
{
    /// <summary>
    /// joblib's AutoBatchingMixin with its thresholds (0.2 s, 2 s): the tests use the default thresholds and
    /// never change the static settings, so they may run in parallel with anything.
    /// </summary>
    public class AutoBatchSizerTests
    {
        private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

        /// <summary>joblib's own growth limit (doubling): these tests pin joblib's formulas with it.</summary>
        private const int JoblibGrowth = 2;

        [Fact]
        public void ThePowerShellDefaultTakesTheIdealSizeAtOnceFromOneItemThenGrowsByUpToEightfold()
        {
            var sizer = new AutoBatchSizer();
            // From one item: ideal = int(1 * 0.2 / 0.01) * 2 = 40, taken at once.
            sizer.BatchCompleted(1, S(0.01));
            Assert.Equal(40, sizer.ComputeBatchSize());
            // Later steps grow eightfold at most: ideal = int(40 * 0.2 / 0.001) * 2 = 16,000.
            sizer.BatchCompleted(40, S(0.001));
            Assert.Equal(320, sizer.ComputeBatchSize());
            // 0.6 s is between the thresholds (0.2 s, 2 s): the size stays.
            sizer.BatchCompleted(320, S(0.6));
            Assert.Equal(320, sizer.ComputeBatchSize());

            // The first step has a bound of its own.
            var fast = new AutoBatchSizer();
            fast.BatchCompleted(1, S(0.000001));
            Assert.Equal(AutoBatchSizer.FirstStepMaxGrowthFactor, fast.ComputeBatchSize());

            // A sizer started from a remembered cost is past its first step: eightfold at most.
            var remembered = new AutoBatchSizer();
            remembered.StartFrom(0.1);
            Assert.Equal(2, remembered.ComputeBatchSize());
            remembered.BatchCompleted(2, S(0.0001));
            Assert.Equal(16, remembered.ComputeBatchSize());

            // Reset starts from one again, first step included.
            remembered.Reset();
            remembered.BatchCompleted(1, S(0.01));
            Assert.Equal(40, remembered.ComputeBatchSize());
        }

        /// <summary>Grows a fresh sizer to <paramref name="size"/> (a power of two) with fast batches.</summary>
        private static AutoBatchSizer GrownTo(int size)
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            int current = sizer.ComputeBatchSize();
            while (current < size)
            {
                sizer.BatchCompleted(current, S(0.001));
                current = sizer.ComputeBatchSize();
            }
            Assert.Equal(size, current);
            return sizer;
        }

        [Fact]
        public void StartsAtOne()
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            Assert.Equal(1, sizer.EffectiveBatchSize);
            Assert.Equal(1, sizer.ComputeBatchSize());
            Assert.Equal(1, sizer.ComputeBatchSize());
        }

        [Fact]
        public void FastBatchesGrowAtMostByDoubling()
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            sizer.BatchCompleted(1, S(0.0001));
            Assert.Equal(2, sizer.ComputeBatchSize());
            sizer.BatchCompleted(2, S(0.0001));
            Assert.Equal(4, sizer.ComputeBatchSize());
            sizer.BatchCompleted(4, S(0.0001));
            Assert.Equal(8, sizer.ComputeBatchSize());
            Assert.Equal(8, sizer.EffectiveBatchSize);
        }

        [Fact]
        public void BatchesBetweenTheThresholdsKeepTheSize()
        {
            AutoBatchSizer sizer = GrownTo(4);
            sizer.BatchCompleted(4, S(0.5));
            Assert.Equal(4, sizer.ComputeBatchSize());
            sizer.BatchCompleted(4, S(1.9));
            Assert.Equal(4, sizer.ComputeBatchSize());
        }

        [Fact]
        public void ADurationOfExactlyTheMinimumDoesNotGrow()
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            sizer.BatchCompleted(1, S(0.2));
            Assert.Equal(1, sizer.ComputeBatchSize());
        }

        [Fact]
        public void SlowBatchesShrinkTowardsTheIdealSize()
        {
            AutoBatchSizer sizer = GrownTo(16);
            // joblib: ideal = int(16 * 0.2 / 3) = 1; new size = max(2 * ideal, 1) = 2.
            sizer.BatchCompleted(16, S(3));
            Assert.Equal(2, sizer.ComputeBatchSize());
        }

        [Fact]
        public void VerySlowBatchesShrinkToOne()
        {
            AutoBatchSizer sizer = GrownTo(4);
            // ideal = int(4 * 0.2 / 5) = 0; new size = max(0, 1) = 1.
            sizer.BatchCompleted(4, S(5));
            Assert.Equal(1, sizer.ComputeBatchSize());
        }

        [Fact]
        public void SizeOneNeverShrinks()
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            sizer.BatchCompleted(1, S(30));
            Assert.Equal(1, sizer.ComputeBatchSize());
        }

        [Fact]
        public void ADurationOfExactlyTheMaximumDoesNotShrink()
        {
            AutoBatchSizer sizer = GrownTo(4);
            sizer.BatchCompleted(4, S(2));
            Assert.Equal(4, sizer.ComputeBatchSize());
        }

        [Fact]
        public void SmoothingKeepsEightTenthsOfTheOldDurationAndTwoTenthsOfTheNew()
        {
            // 0.8 * 0.3 + 0.2 * 0.05 = 0.25 s: above 0.2, no growth. (The last value alone, a plain mean, or
            // 0.2 old + 0.8 new would all be under 0.2 s and grow.)
            var sizer = new AutoBatchSizer(JoblibGrowth);
            sizer.BatchCompleted(1, S(0.3));
            sizer.BatchCompleted(1, S(0.05));
            Assert.Equal(1, sizer.ComputeBatchSize());

            // 0.8 * 0.1 + 0.2 * 0.5 = 0.18 s: under 0.2, grows. (The last value alone, or a plain mean, would not.)
            var other = new AutoBatchSizer(JoblibGrowth);
            other.BatchCompleted(1, S(0.1));
            other.BatchCompleted(1, S(0.5));
            Assert.Equal(2, other.ComputeBatchSize());
        }

        [Fact]
        public void OnlyBatchesOfTheEffectiveSizeCount()
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            sizer.BatchCompleted(3, S(0.001));
            sizer.BatchCompleted(2, S(0.001));
            Assert.Equal(1, sizer.ComputeBatchSize());

            AutoBatchSizer grown = GrownTo(4);
            // A slow batch of the old size, completing late, must not shrink the new size.
            grown.BatchCompleted(2, S(10));
            Assert.Equal(4, grown.ComputeBatchSize());
        }

        [Fact]
        public void TheEstimateStartsAfreshWhenTheSizeChanges()
        {
            var sizer = new AutoBatchSizer(JoblibGrowth);
            sizer.BatchCompleted(1, S(0.01));
            Assert.Equal(2, sizer.ComputeBatchSize());
            // No batch of size 2 finished yet: no estimate, no change.
            Assert.Equal(2, sizer.ComputeBatchSize());
            // The first batch of the new size counts as is (0.5 s: keep the size). Had the old estimate been
            // kept, 0.8 * 0.01 + 0.2 * 0.5 = 0.108 s would have grown it.
            sizer.BatchCompleted(2, S(0.5));
            Assert.Equal(2, sizer.ComputeBatchSize());
        }

        [Fact]
        public void TheEstimateStartsAfreshAfterShrinking()
        {
            AutoBatchSizer sizer = GrownTo(16);
            sizer.BatchCompleted(16, S(3));
            Assert.Equal(2, sizer.ComputeBatchSize());
            sizer.BatchCompleted(2, S(0.5));
            Assert.Equal(2, sizer.ComputeBatchSize());
        }

        [Fact]
        public void ResetStartsOverAtOne()
        {
            AutoBatchSizer sizer = GrownTo(8);
            sizer.BatchCompleted(8, S(0.001));
            sizer.Reset();
            Assert.Equal(1, sizer.EffectiveBatchSize);
            Assert.Equal(1, sizer.ComputeBatchSize());
            sizer.BatchCompleted(1, S(0.5));
            Assert.Equal(1, sizer.ComputeBatchSize());
        }

        [Fact]
        public void ThresholdsAreJoblibs()
        {
            var sizer = new AutoBatchSizer();
            Assert.Equal(S(0.2), sizer.MinIdealBatchDuration);
            Assert.Equal(S(2), sizer.MaxIdealBatchDuration);
        }

        [Fact]
        public void InProcessBackendsAimAtShorterBatches()
        {
            Assert.Equal(AutoBatchSizer.InProcessMinIdealBatchDuration, new ThreadingProbe().Sizer.MinIdealBatchDuration);
            Assert.Equal(AutoBatchSizer.InProcessMaxIdealBatchDuration, new ThreadingProbe().Sizer.MaxIdealBatchDuration);
            Assert.Equal(AutoBatchSizer.InProcessMinIdealBatchDuration, new SequentialProbe().Sizer.MinIdealBatchDuration);
            Assert.Equal(AutoBatchSizer.InProcessMaxBatchSize, new ThreadingProbe().Sizer.MaxBatchSize);
            Assert.Equal(int.MaxValue, new AutoBatchSizer().MaxBatchSize);

            // Tiny items stop growing at the largest batch size.
            var capped = new AutoBatchSizer { MinIdealBatchDuration = S(0.05), MaxBatchSize = 4096 };
            capped.BatchCompleted(1, S(0.000001));
            Assert.Equal(AutoBatchSizer.FirstStepMaxGrowthFactor, capped.ComputeBatchSize());
            for (int size = capped.EffectiveBatchSize; size < 4096; size = capped.EffectiveBatchSize)
            {
                capped.BatchCompleted(size, S(0.000001 * size));
                capped.ComputeBatchSize();
            }
            Assert.Equal(4096, capped.EffectiveBatchSize);
            capped.BatchCompleted(4096, S(0.004));
            Assert.Equal(4096, capped.ComputeBatchSize());

            // The ideal duration bounds growth, towards twice the shortest ideal duration (50 ms here).
            var sizer = new AutoBatchSizer { MinIdealBatchDuration = S(0.05) };
            sizer.BatchCompleted(1, S(0.005));
            Assert.Equal(20, sizer.ComputeBatchSize());       // first step: the ideal, int(1 * 0.05 / 0.005) * 2
            sizer.BatchCompleted(20, S(0.0016));
            Assert.Equal(160, sizer.ComputeBatchSize());      // eightfold, under the ideal of 1,250
            sizer.BatchCompleted(160, S(0.04));
            Assert.Equal(400, sizer.ComputeBatchSize());      // the ideal, int(160 * 0.05 / 0.04) * 2, under eightfold
        }

        [Fact]
        public void StartsFromARememberedItemCostAndStillAdapts()
        {
            // 5 ms items against joblib's 0.2 s: batches of 40 from the start, not 1, 8, 40.
            var sizer = new AutoBatchSizer();
            sizer.StartFrom(0.005);
            Assert.Equal(40, sizer.ComputeBatchSize());
            // The items became 50 ms each: one batch of 40 takes 2 s and more, and the next is cut to the ideal.
            sizer.BatchCompleted(40, S(2.5));
            Assert.Equal(6, sizer.ComputeBatchSize());
            // A tiny cost is held to MaxBatchSize; nothing known leaves the size at one.
            var capped = new AutoBatchSizer { MaxBatchSize = 4096, MinIdealBatchDuration = S(0.05) };
            capped.StartFrom(0.000001);
            Assert.Equal(4096, capped.ComputeBatchSize());
            var fresh = new AutoBatchSizer();
            fresh.StartFrom(0);
            Assert.Equal(1, fresh.ComputeBatchSize());
        }

        [Fact]
        public void RemembersItemCostsPerBackendTypeAndBlockText()
        {
            ItemCostMemory.Clear();
            var threading = new JoblibPS.Backends.Threading.ThreadingBackend();
            var sequential = new JoblibPS.Backends.Sequential.SequentialBackend();
            ItemCostMemory.Key key = ItemCostMemory.KeyFor(threading, "Start-Sleep -m 5");
            ItemCostMemory.Record(key, 10, S(0.05));
            Assert.Equal(0.005, ItemCostMemory.Recall(key).Value, 6);
            // The key is the backend's type, not the instance: a later call's new backend of that type finds it.
            Assert.Equal(0.005, ItemCostMemory.Recall(ItemCostMemory.KeyFor(new JoblibPS.Backends.Threading.ThreadingBackend(), "Start-Sleep -m 5")).Value, 6);
            Assert.Null(ItemCostMemory.Recall(ItemCostMemory.KeyFor(threading, "Start-Sleep -m 50")));
            Assert.Null(ItemCostMemory.Recall(ItemCostMemory.KeyFor(sequential, "Start-Sleep -m 5")));
            Assert.Null(ItemCostMemory.Recall(default(ItemCostMemory.Key)));
            // Later batches move the estimate a fifth of the way, as the batch sizer smooths.
            ItemCostMemory.Record(key, 10, S(0.55));
            Assert.Equal(0.8 * 0.005 + 0.2 * 0.055, ItemCostMemory.Recall(key).Value, 6);
            ItemCostMemory.Clear();
        }

        [Fact]
        public void ACallThatFellBackRecallsAndRecordsCostsUnderTheBackendItRunsOn()
        {
            // The threading backend falls back to sequential for one job: the call's key is made after the fallback.
            string block = "Start-Sleep -m 5 # " + Guid.NewGuid();
            var threading = new JoblibPS.Backends.Threading.ThreadingBackend();
            ItemCostMemory.Key sequentialKey = ItemCostMemory.KeyFor(new JoblibPS.Backends.Sequential.SequentialBackend(), block);
            ItemCostMemory.Record(sequentialKey, 10, S(0.05));
            ItemCostMemory.Record(ItemCostMemory.KeyFor(threading, block), 10, S(5));
            var session = new BackendSession(new ResolvedSettings { Backend = threading, NJobs = 1 }, null);
            session.Start(new ParallelCall(1, null, null, null, true, "auto", "2*n_jobs"), block);
            try
            {
                Assert.IsType<JoblibPS.Backends.Sequential.SequentialBackend>(session.Backend);
                // The sequential backend's sizer starts from the 5 ms remembered for it, not the 500 ms of threading.
                var expected = new SequentialProbe().Sizer;
                expected.StartFrom(0.005);
                Assert.True(expected.ComputeBatchSize() > 1);
                Assert.Equal(expected.ComputeBatchSize(), session.Backend.ComputeBatchSize());
                // What the call records goes to the sequential backend's cost; threading's stays as it was.
                ItemCostMemory.Record(session.CostKey, 10, S(0.55));
                Assert.Equal(0.8 * 0.005 + 0.2 * 0.055, ItemCostMemory.Recall(sequentialKey).Value, 6);
                Assert.Equal(0.5, ItemCostMemory.Recall(ItemCostMemory.KeyFor(threading, block)).Value, 6);
            }
            finally
            {
                session.End();
            }
        }

        private sealed class ThreadingProbe : JoblibPS.Backends.Threading.ThreadingBackend
        {
            public AutoBatchSizer Sizer => AutoBatcher;
        }

        private sealed class SequentialProbe : JoblibPS.Backends.Sequential.SequentialBackend
        {
            public AutoBatchSizer Sizer => AutoBatcher;
        }
    }
}
