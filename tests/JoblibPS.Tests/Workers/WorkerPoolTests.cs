using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using JoblibPS.Workers;
using Xunit;

namespace JoblibPS.Tests.Workers
{
    /// <summary>
    /// The worker core on its own, over <see cref="FakeWorkerKind"/>: no PowerShell, no process, no timing guesses.
    /// Each test drives opens and runs to the path it checks, then checks what the pool did (which worker ran what,
    /// what it opened, probed, closed and reported) and that each batch got exactly one result.
    /// </summary>
    public sealed class WorkerPoolTests
    {
        private static readonly TimeSpan Patience = FakeWorkerKind.Patience;

        private static (WorkerPool Pool, FakeWorkerKind Kind) NewPool(int workers, FakeWorkerKind kind = null, TimeSpan? stopGrace = null)
        {
            kind = kind ?? new FakeWorkerKind();
            if (stopGrace.HasValue) kind.Grace = stopGrace.Value;
            var pool = new WorkerPool(kind) { VerdictDelay = TimeSpan.FromMilliseconds(50) };
            kind.Pool = pool;
            if (kind.OnDemand)
            {
                pool.Resize(workers);
                pool.SetLimit(workers);
            }
            return (pool, kind);
        }

        private static BatchResult ResultOf(BatchFuture future)
        {
            return Assert.IsType<BatchResult>(future.GetResult(Patience));
        }

        private static BatchFuture Submit(WorkerPool pool, BatchTask task) => pool.Submit(task, null, FakeWorkerKind.CallOne);

        /// <summary>Waits for a condition the pool reaches on another thread; fails after <see cref="Patience"/>.</summary>
        private static void WaitUntil(Func<bool> condition, string what)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                Assert.True(clock.Elapsed < Patience, "Timed out waiting until " + what);
                Thread.Sleep(2);
            }
        }

        [Fact]
        public void OpensAWorkerOnlyForABatchNoOpenWorkerTakes()
        {
            var (pool, kind) = NewPool(3);
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                FakeRun runA = kind.NextRun();
                Assert.Equal("w1", runA.Place);
                runA.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(a).Outcome);

                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                FakeRun runB = kind.NextRun();
                Assert.Equal("w1", runB.Place);   // the idle worker, not a new one
                BatchFuture c = Submit(pool, FakeWorkerKind.NewTask(2));
                FakeRun runC = kind.NextRun();
                Assert.Equal("w2", runC.Place);   // w1 is busy: one more opens
                runB.Complete();
                runC.Complete();
                ResultOf(b);
                ResultOf(c);
                Assert.Equal(2, kind.Count("open "));
            }
        }

        [Fact]
        public void ARetriedItemTakesTheIdleWorkerItAvoidsRatherThanWaitForABusyOne()
        {
            var (pool, kind) = NewPool(2);
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                FakeRun runA = kind.NextRun();
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                FakeRun runB = kind.NextRun();
                runB.FailInScript(0);
                Assert.Equal(BatchOutcome.Failed, ResultOf(b).Outcome);

                // The engine retries item 1, preferring another place than the one it failed in; the other worker
                // is busy for long, so the retry takes its old place at once, and a batch behind it is not held back.
                BatchTask retry = FakeWorkerKind.NewTask(2, first: 1);
                retry.Avoid = new[] { runB.Place };
                BatchFuture r = Submit(pool, retry);
                FakeRun runR = kind.NextRun();
                Assert.Equal(runB.Place, runR.Place);
                runR.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(r).Outcome);
                BatchFuture c = Submit(pool, FakeWorkerKind.NewTask(3, first: 2));
                FakeRun runC = kind.NextRun();
                Assert.Equal(runB.Place, runC.Place);
                runC.Complete();
                runA.Complete();
                ResultOf(a);
                ResultOf(c);
                Assert.Equal(2, kind.Count("open "));
            }
        }

        [Fact]
        public void ARetriedItemPrefersAnotherIdleWorker()
        {
            var (pool, kind) = NewPool(2);
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                FakeRun first = kind.NextRun();
                FakeRun second = kind.NextRun();
                first.Complete();
                second.Complete();
                ResultOf(a);
                ResultOf(b);
                BatchTask retry = FakeWorkerKind.NewTask(2);
                retry.Avoid = new[] { "w1" };
                BatchFuture r = Submit(pool, retry);
                FakeRun runR = kind.NextRun();
                Assert.Equal("w2", runR.Place);
                runR.Complete();
                ResultOf(r);
            }
        }

        [Fact]
        public void ABatchLostOnceRunsAgainElsewhereAndLostTwiceFailsNamingWhere()
        {
            var kind = new FakeWorkerKind(opensOnDemand: false, rerunsLostWork: true);
            var (pool, _) = NewPool(0, kind);
            using (pool)
            {
                pool.Adopt(kind.NewWorker());
                pool.Adopt(kind.NewWorker());
                pool.Adopt(kind.NewWorker());
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                FakeRun run1 = kind.NextRun();
                Assert.Equal("w1", run1.Place);
                run1.LoseWorker("connection reset");
                FakeRun run2 = kind.NextRun();
                Assert.NotEqual("w1", run2.Place);
                Assert.False(a.IsCompleted);
                run2.LoseWorker("connection reset");
                BatchResult result = ResultOf(a);
                Assert.Equal(BatchOutcome.Failed, result.Outcome);
                Assert.Equal("FakeLost", result.Error.FullyQualifiedErrorId);
                Assert.Contains("lost in w1," + run2.Place, result.Error.Exception.Message);
                Assert.Equal(1, kind.Count("lost w1"));
                Assert.Contains("rerun 0 from w1", kind.Events);
                Assert.True(kind.NoRunWithin(TimeSpan.FromMilliseconds(100), out _), "a batch lost twice ran a third time");
            }
        }

        [Fact]
        public void ABatchRunAgainAfterItsTimeoutDoesNotComeBackStoppedAtOnce()
        {
            var kind = new FakeWorkerKind(opensOnDemand: false, rerunsLostWork: true);
            var (pool, _) = NewPool(0, kind);
            using (pool)
            {
                pool.Adopt(kind.NewWorker());
                pool.Adopt(kind.NewWorker());
                BatchTask task = FakeWorkerKind.NewTask(0);
                BatchFuture a = Submit(pool, task);
                FakeRun run1 = kind.NextRun();
                run1.BeStuck();
                task.RequestStop();   // its item timed out: the task asked itself to stop...
                run1.LoseWorker("the host went away");   // ...and the worker was lost meanwhile
                FakeRun run2 = kind.NextRun();
                Assert.False(run2.Task.StopRequested);
                Thread.Sleep(30);   // a run that kept the old stop would come back stopped within 5 ms
                Assert.False(a.IsCompleted);
                run2.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(a).Outcome);
            }
        }

        [Fact]
        public void AWorkerStuckAtTheAbortDeadlineIsGivenUpOnAndReplaced()
        {
            var (pool, kind) = NewPool(2, stopGrace: TimeSpan.FromMilliseconds(200));
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                FakeRun runA = kind.NextRun();
                FakeRun runB = kind.NextRun();
                FakeRun stuck = runA.Place == "w1" ? runA : runB;
                stuck.BeStuck();

                int abandoned = pool.Abort(null);

                Assert.Equal(1, abandoned);
                Assert.Equal(BatchOutcome.Stopped, ResultOf(a).Outcome);
                Assert.Equal(BatchOutcome.Stopped, ResultOf(b).Outcome);
                Assert.Contains("close w1 stuck", kind.Events);
                Assert.DoesNotContain("close w2 stuck", kind.Events);
                Assert.Equal(1, pool.StuckThreads);

                // The pool is whole again: the next batch runs, on the warm worker or a fresh one, never on w1.
                BatchFuture c = Submit(pool, FakeWorkerKind.NewTask(2));
                FakeRun runC = kind.NextRun();
                Assert.NotEqual("w1", runC.Place);
                runC.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(c).Outcome);

                stuck.Release();
                WaitUntil(() => pool.StuckThreads == 0, "the stuck thread returned");
                Assert.False(a.GetResult(TimeSpan.Zero) != ResultOf(a), "a result changed after the batch was completed");
            }
        }

        [Fact]
        public void AFailedOpenWhileAnotherWorkerIsHealthyFailsNoBatch()
        {
            var kind = new FakeWorkerKind(autoOpen: false);
            var (pool, _) = NewPool(2, kind);
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                kind.NextOpen().Succeed();
                FakeRun runA = kind.NextRun();
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                kind.NextOpen().Fail("pwsh did not start (transient)");
                WaitUntil(() => pool.SlotCount == 1, "the failed slot is gone");
                Assert.False(b.IsCompleted, "a batch failed because one worker could not open while another was healthy");

                runA.Complete();
                FakeRun runB = kind.NextRun();
                Assert.Equal("w1", runB.Place);
                runB.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(a).Outcome);
                Assert.Equal(BatchOutcome.Completed, ResultOf(b).Outcome);
            }
        }

        [Fact]
        public void AFailedOpenWithNoOtherWorkerFailsTheWaitingBatchesWithItsReason()
        {
            var kind = new FakeWorkerKind(autoOpen: false);
            var (pool, _) = NewPool(1, kind);
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                kind.NextOpen().Fail("no such pwsh");
                foreach (BatchFuture future in new[] { a, b })
                {
                    BatchResult result = ResultOf(future);
                    Assert.Equal("FakeOpenFailed", result.Error.FullyQualifiedErrorId);
                    Assert.Contains("no such pwsh", result.Error.Exception.Message);
                }
            }
        }

        [Fact]
        public void AFailedProbeOnTheOnlyWorkerOfAFixedSetReplacesItWithoutFailingTheQueue()
        {
            var kind = new FakeWorkerKind(opensOnDemand: false) { ProbeAnswer = w => w.Place != "w1" };
            var (pool, _) = NewPool(0, kind);
            using (pool)
            {
                pool.Adopt(kind.NewWorker());
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                BatchFuture c = Submit(pool, FakeWorkerKind.NewTask(2));
                FakeRun runA = kind.NextRun();
                runA.FailWorker();   // not the user's script: the worker is probed, fails, and is replaced
                Assert.Equal(BatchOutcome.Failed, ResultOf(a).Outcome);
                FakeRun runB = kind.NextRun();
                Assert.Equal("w2", runB.Place);
                runB.Complete();
                FakeRun runC = kind.NextRun();
                runC.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(b).Outcome);
                Assert.Equal(BatchOutcome.Completed, ResultOf(c).Outcome);
                Assert.Contains("close w1 stuck", kind.Events);
                Assert.True(kind.Events.ToList().IndexOf("probe w1") < kind.Events.ToList().IndexOf("close w1 stuck"));
            }
        }

        [Fact]
        public void AWorkerIsReplacedAfterMaxTasksPerWorkerBatches()
        {
            var (pool, kind) = NewPool(1);
            pool.MaxTasksPerWorker = 2;
            using (pool)
            {
                for (int i = 0; i < 3; i++)
                {
                    BatchFuture future = Submit(pool, FakeWorkerKind.NewTask(i));
                    FakeRun run = kind.NextRun();
                    Assert.Equal(i < 2 ? "w1" : "w2", run.Place);
                    run.Complete();
                    ResultOf(future);
                }
                Assert.Contains("close w1", kind.Events);
                Assert.DoesNotContain("close w1 stuck", kind.Events);
            }
        }

        [Fact]
        public void AWorkerAtMaxTasksAfterABatchThatDidNotEndIsProbedBeforeItIsClosed()
        {
            var (pool, kind) = NewPool(1);
            pool.MaxTasksPerWorker = 1;
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                kind.NextRun().FailWorker();
                ResultOf(a);
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                FakeRun runB = kind.NextRun();
                Assert.Equal("w2", runB.Place);
                runB.Complete();
                ResultOf(b);
                var events = kind.Events.ToList();
                int probe = events.IndexOf("probe w1");
                int close = events.IndexOf("close w1");
                Assert.True(probe >= 0 && close > probe, "w1 was closed before its probe: " + string.Join(" | ", events));
            }
        }

        [Fact]
        public void AnIdleWorkerRetiresAfterTheIdleTimeoutAndAFreshOneOpensForNewWork()
        {
            var (pool, kind) = NewPool(1);
            using (pool)
            {
                pool.SetIdleTimeout(TimeSpan.FromMilliseconds(50));
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                kind.NextRun().Complete();
                ResultOf(a);
                WaitUntil(() => kind.Events.Contains("close w1"), "the idle worker retired");
                Assert.Empty(pool.Workers);
                BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
                FakeRun runB = kind.NextRun();
                Assert.Equal("w2", runB.Place);
                runB.Complete();
                ResultOf(b);
            }
        }

        [Fact]
        public void DisposeWhileBatchesRunStopsEveryBatchOnceAndClosesEveryWorker()
        {
            var (pool, kind) = NewPool(2);
            BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
            BatchFuture b = Submit(pool, FakeWorkerKind.NewTask(1));
            kind.NextRun();
            kind.NextRun();
            BatchFuture c = Submit(pool, FakeWorkerKind.NewTask(2));
            int closed = 0;
            pool.Closed = () => closed++;

            pool.Dispose();
            pool.Dispose();

            foreach (BatchFuture future in new[] { a, b, c }) Assert.Equal(BatchOutcome.Stopped, ResultOf(future).Outcome);
            Assert.Equal(1, kind.Count("close w1"));
            Assert.Equal(1, kind.Count("close w2"));
            Assert.Equal(1, closed);
            Assert.True(pool.IsDisposed);
            Assert.Throws<ObjectDisposedException>(() => Submit(pool, FakeWorkerKind.NewTask(3)));
        }

        [Fact]
        public void AWorkerLostBeforeItsSlotHoldsItIsReportedAndTheBatchRunsOnAnother()
        {
            var kind = new FakeWorkerKind(autoOpen: false);
            var (pool, _) = NewPool(1, kind);
            using (pool)
            {
                BatchFuture a = Submit(pool, FakeWorkerKind.NewTask(0));
                kind.NextOpen().SucceedButDie("exited with code 1 while starting");
                kind.NextOpen().Succeed();
                FakeRun run = kind.NextRun();
                Assert.Equal("w2", run.Place);
                run.Complete();
                Assert.Equal(BatchOutcome.Completed, ResultOf(a).Outcome);
                // Reported by the slot that opened w1, after it let go of it: not ordered with w2's run.
                WaitUntil(() => kind.Events.Contains("close w1"), "w1 was closed");
                Assert.Single(kind.Events, e => e.StartsWith("lost w1: exited with code 1 while starting", StringComparison.Ordinal));
            }
        }

        [Fact]
        public async Task WaitReadyReturnsWhenTheCallIsStoppedWhileWorkersStart()
        {
            var kind = new FakeWorkerKind(autoOpen: false);
            var (pool, _) = NewPool(1, kind);
            using (pool)
            using (var stop = new CancellationTokenSource())
            {
                pool.Prestart();
                FakeOpen open = kind.NextOpen();
                Task<bool> waiting = Task.Run(() => pool.WaitReady(TimeSpan.FromMinutes(1), stop.Token));
                Assert.NotSame(waiting, await Task.WhenAny(waiting, Task.Delay(50)));
                stop.Cancel();
                Assert.Same(waiting, await Task.WhenAny(waiting, Task.Delay(Patience)));
                Assert.False(await waiting);
                open.Succeed();
            }
        }
    }
}
