using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Xunit;
using JoblibPS.Caller;
using JoblibPS.Config;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Engine
{
    /// <summary>
    /// The engine on its own, over <see cref="ScriptedBackend"/>: for each failure path (fail-fast, -OnError Continue,
    /// -Retry, a lost worker, a stuck item, a stop), every item that finished is written exactly once, in input
    /// order, and a failure is an error on the right item; each path runs under several completion orders (seeds).
    /// </summary>
    public sealed class ParallelRunTests
    {
        private static readonly int[] Seeds = { 1, 2, 3, 4, 5, 6, 7, 8 };

        private static string[] Outs(IEnumerable<int> items) => items.Select(i => "out " + i).ToArray();

        private static string[] Range(int first, int count) => Outs(Enumerable.Range(first, count));

        [Theory]
        [InlineData(1)]
        [InlineData(3)]
        [InlineData(null)]
        public void EveryItemIsWrittenOnceInOrderWhateverOrderBatchesComeBackIn(int? batchSize)
        {
            foreach (int seed in Seeds)
            {
                var backend = new ScriptedBackend((item, run) => ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 60, nJobs: 3, batchSize: batchSize);
                Assert.Null(error);
                Assert.Equal(Range(0, 60), writer.Written);
            }
        }

        [Fact]
        public void FailFastWritesEveryItemBeforeTheFailingOneOnceThenTheError()
        {
            foreach (int seed in Seeds)
            {
                var backend = new ScriptedBackend((item, run) => item == 12 ? ItemVerdict.Fail : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 20, nJobs: 3);
                Assert.Equal(Range(0, 12), writer.Written);
                Assert.Equal("12: JoblibTaskFailed", RecordingWriter.Describe(error));
            }
        }

        [Fact]
        public void FailFastWaitsForAnEarlierItemsPendingRetryAndWritesIt()
        {
            // Item 1 fails once and is retried after a delay; item 5 fails every time. Everything before item 5
            // finished (item 1 on its retry) and is written before the error (it was lost before: issue 20, point 4).
            foreach (int seed in Seeds.Take(4))
            {
                var backend = new ScriptedBackend((item, run) => item == 1 && run == 1 || item == 5 ? ItemVerdict.Fail : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 10, nJobs: 4, retry: 1, retryDelaySeconds: 0.2);
                Assert.Equal(Range(0, 5), writer.Written);
                Assert.Equal("5: JoblibTaskFailed", RecordingWriter.Describe(error));
                Assert.Equal(2, backend.RunsOf(1));
            }
        }

        [Fact]
        public void AnEarlierItemThatFailsForGoodOnItsRetryBecomesTheCallsError()
        {
            var backend = new ScriptedBackend((item, run) => item == 1 || item == 5 ? ItemVerdict.Fail : ItemVerdict.Ok, 1);
            var (writer, error) = EngineRun.Run(backend, 10, nJobs: 4, retry: 1, retryDelaySeconds: 0.1);
            Assert.Equal(Range(0, 1), writer.Written);
            Assert.Equal("1: JoblibTaskFailed", RecordingWriter.Describe(error));
        }

        [Fact]
        public void OnErrorContinueWritesEachFailureInItsPlaceAndEveryOtherItem()
        {
            foreach (int seed in Seeds)
            {
                var backend = new ScriptedBackend((item, run) => item == 3 || item == 7 ? ItemVerdict.Fail : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 10, nJobs: 3, batchSize: 2, onError: OnErrorAction.Continue);
                Assert.Null(error);
                var expected = Range(0, 3).Concat(new[] { "error 3: JoblibTaskFailed" }).Concat(Range(4, 3))
                    .Concat(new[] { "error 7: JoblibTaskFailed" }).Concat(Range(8, 2));
                Assert.Equal(expected, writer.Written);
            }
        }

        [Fact]
        public void RetryRunsAFailedItemAgainAndWritesItOnceInItsPlace()
        {
            foreach (int seed in Seeds)
            {
                var backend = new ScriptedBackend((item, run) => (item == 4 || item == 9) && run < 3 ? ItemVerdict.Fail : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 12, nJobs: 3, batchSize: 3, retry: 2);
                Assert.Null(error);
                Assert.Equal(Range(0, 12), writer.Written);
                Assert.Equal(3, backend.RunsOf(4));
                Assert.Equal(3, backend.RunsOf(9));
            }
        }

        [Fact]
        public void ALostWorkersFinishedItemsRunAgainAndAreWrittenOnce()
        {
            int lostOutputs = 0;
            foreach (int seed in Seeds)
            {
                // Batches of 3 (the first item goes alone): item 5 loses its worker on its first run, taking the
                // output of the items before it in its batch with it.
                var backend = new ScriptedBackend((item, run) => item == 5 && run == 1 ? ItemVerdict.LoseWorker : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 9, nJobs: 2, batchSize: 3, onError: OnErrorAction.Continue, retry: 1);
                Assert.Null(error);
                Assert.Equal(Range(0, 9), writer.Written);
                foreach (long lost in backend.LostWith) Assert.Equal(2, backend.RunsOf(lost));
                lostOutputs += backend.LostWith.Count;
            }
            Assert.True(lostOutputs > 0, "no batch lost finished items' output: the test did not reach its path");
        }

        [Fact]
        public void ALostWorkerUnderFailFastWritesTheItemsBeforeItOnceThenTheError()
        {
            foreach (int seed in Seeds)
            {
                var backend = new ScriptedBackend((item, run) => item == 5 ? ItemVerdict.LoseWorker : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 9, nJobs: 2, batchSize: 3);
                Assert.Equal(Range(0, 5), writer.Written);
                Assert.Equal("5: JoblibWorkerCrashed", RecordingWriter.Describe(error));
            }
        }

        [Fact]
        public void AStuckItemUnderOnErrorContinueIsATimeoutInItsPlaceAndTheCallGoesOn()
        {
            // Issue 20, point 3: the stall guard used to end the call with a terminating timeout.
            var backend = new ScriptedBackend((item, run) => item == 2 ? ItemVerdict.Stuck : ItemVerdict.Ok, 1);
            var (writer, error) = EngineRun.Run(backend, 6, nJobs: 2, onError: OnErrorAction.Continue, timeoutSeconds: 0.2);
            Assert.Null(error);
            var expected = Range(0, 2).Concat(new[] { "error 2: JoblibTaskTimeout" }).Concat(Range(3, 3));
            Assert.Equal(expected, writer.Written);
        }

        [Fact]
        public void AStuckItemWithRetryRunsAgain()
        {
            var backend = new ScriptedBackend((item, run) => item == 2 && run == 1 ? ItemVerdict.Stuck : ItemVerdict.Ok, 2);
            var (writer, error) = EngineRun.Run(backend, 6, nJobs: 2, retry: 1, timeoutSeconds: 0.2);
            Assert.Null(error);
            Assert.Equal(Range(0, 6), writer.Written);
            Assert.Equal(2, backend.RunsOf(2));
        }

        [Fact]
        public void AStuckItemBeforeAFailingOneIsTheCallsErrorUnderFailFast()
        {
            var backend = new ScriptedBackend((item, run) => item == 2 ? ItemVerdict.Stuck : item == 4 ? ItemVerdict.Fail : ItemVerdict.Ok, 4);
            var (writer, error) = EngineRun.Run(backend, 8, nJobs: 3, timeoutSeconds: 0.2);
            Assert.Equal(Range(0, 2), writer.Written);
            Assert.Equal("2: JoblibTaskTimeout", RecordingWriter.Describe(error));
        }

        [Fact]
        public void ATimedOutItemIsReportedAtTheItemThatRanTooLong()
        {
            var backend = new ScriptedBackend((item, run) => item == 5 ? ItemVerdict.TimeOut : ItemVerdict.Ok, 5);
            var (writer, error) = EngineRun.Run(backend, 8, nJobs: 2, batchSize: 4, onError: OnErrorAction.Continue, timeoutSeconds: 5);
            Assert.Null(error);
            Assert.Equal(Range(0, 5).Concat(new[] { "error 5: JoblibTaskTimeout" }).Concat(Range(6, 2)), writer.Written);
        }

        [Fact]
        public void UnorderedOutputWritesEveryItemExactlyOnce()
        {
            foreach (int seed in Seeds)
            {
                var backend = new ScriptedBackend((item, run) => item % 7 == 3 && run == 1 ? ItemVerdict.Fail : ItemVerdict.Ok, seed);
                var (writer, error) = EngineRun.Run(backend, 40, nJobs: 3, batchSize: 2, retry: 1, ordered: false);
                Assert.Null(error);
                Assert.Equal(Range(0, 40), writer.Written.OrderBy(w => int.Parse(w.Substring(4))).ToArray());
            }
        }

        [Fact]
        public void AStopBeforeTheFirstBatchDispatchesNothing()
        {
            var backend = new ScriptedBackend((item, run) => ItemVerdict.Ok, 1);
            var request = new RunRequest
            {
                Script = WorkerScript.From(ScriptBlock.Create("$_")),
                Preferences = Array.Empty<object>(),
                FixedBatchSize = 1,
                BatchSizeText = "1",
            };
            var settings = new ResolvedSettings { Backend = backend, NJobs = 2, CallOwnsBackend = true, BackendArguments = new System.Collections.Hashtable() };
            using (var run = new ParallelRun(request, settings, new RecordingWriter()))
            {
                run.Start();
                run.Cancel();
                Assert.Throws<PipelineStoppedException>(() => run.Add(0));
            }
            Assert.Equal(0, backend.Submitted);
        }
    }
}
