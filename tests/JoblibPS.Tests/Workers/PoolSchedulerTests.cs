using System;
using System.Collections.Generic;
using System.Linq;
using JoblibPS.Workers;
using Xunit;

namespace JoblibPS.Tests.Workers
{
    /// <summary>
    /// The scheduler on its own: no threads, slots and batches set up by hand in a <see cref="PoolState"/>, one call
    /// of Schedule, then where each batch went and how many slots it asked to open.
    /// </summary>
    public sealed class PoolSchedulerTests
    {
        private readonly FakeWorkerKind _kind = new FakeWorkerKind();
        private readonly PoolState _state;
        private readonly PoolScheduler _scheduler;
        private int _opened;

        public PoolSchedulerTests()
        {
            _state = new PoolState(_kind) { Target = 4 };
            _scheduler = new PoolScheduler(_state, () =>
            {
                _opened++;
                var slot = new Slot(100 + _opened) { Opening = true };
                _state.Slots.Add(slot);
                return slot;
            });
        }

        private Slot Idle(string place)
        {
            var slot = new Slot(_state.Slots.Count + 1) { Worker = new Worker(null, place) };
            _state.Slots.Add(slot);
            return slot;
        }

        private Slot Busy(string place)
        {
            Slot slot = Idle(place);
            slot.Assigned = Job(99);
            return slot;
        }

        private static PoolJob Job(int batch)
        {
            return new PoolJob(new BatchFuture(FakeWorkerKind.NewTask(batch), null), FakeWorkerKind.CallOne);
        }

        private PoolJob Queue(int batch)
        {
            PoolJob job = Job(batch);
            _state.Queue.AddLast(job);
            return job;
        }

        private List<Action> Schedule()
        {
            var after = new List<Action>();
            lock (_state.Gate) _scheduler.Schedule(after);
            return after;
        }

        [Fact]
        public void ABatchGoesToThePlaceWithFewestBusyWorkers()
        {
            Busy("hostA");
            Slot a2 = Idle("hostA");
            Slot b1 = Idle("hostB");
            PoolJob job = Queue(0);
            Schedule();
            Assert.Same(job, b1.Assigned);
            Assert.Null(a2.Assigned);
        }

        [Fact]
        public void ABatchLostOnAHostAvoidsItWhileAnotherHostHasAUsableWorkerEvenABusyOne()
        {
            Slot a = Idle("hostA");
            Busy("hostB");
            PoolJob job = Queue(0);
            job.LostIn.Add("hostA");
            PoolJob next = Queue(1);
            Schedule();
            Assert.False(job.Future.IsCompleted);
            Assert.Same(next, a.Assigned);   // the rerun waits for hostB; the batch behind it is not held back
            Assert.Contains(job, _state.Queue);
        }

        [Fact]
        public void ARetryPrefersAnotherPlaceOnlyWhileOneHasAnIdleWorker()
        {
            Slot a = Idle("hostA");
            Busy("hostB");
            PoolJob retry = Queue(0);
            retry.Prefers.Add("hostA");
            Schedule();
            Assert.Same(retry, a.Assigned);
        }

        [Fact]
        public void NoMoreBatchesRunThanTheLimit()
        {
            _state.Limit = 1;
            Idle("w1");
            Idle("w2");
            Queue(0);
            Queue(1);
            Schedule();
            Assert.Equal(1, _state.Slots.Count(s => s.Assigned != null));
            Assert.Single(_state.Queue);
        }

        [Fact]
        public void WorkersOpenOnlyForBatchesNoOpenWorkerTakesAndUpToTheTarget()
        {
            Busy("w1");
            Queue(0);
            Queue(1);
            Schedule();
            Assert.Equal(2, _opened);
            Schedule();
            Assert.Equal(2, _opened);   // the two opening slots count: nothing more opens for the same two batches
        }

        [Fact]
        public void NoWorkerOpensOnDemandWhileBackingOffAfterAFailedOpenBesideUsableWorkers()
        {
            Busy("w1");
            Queue(0);
            lock (_state.Gate) _scheduler.NoteOpenFailed();
            Schedule();
            Assert.Equal(0, _opened);
        }

        [Fact]
        public void AFixedSetWithNoUsableWorkerLeftFailsWhatWaits()
        {
            var kind = new FakeWorkerKind(opensOnDemand: false);
            var state = new PoolState(kind);
            var scheduler = new PoolScheduler(state, () => throw new InvalidOperationException("a fixed set opens no worker on demand"));
            PoolJob job = Job(0);
            state.Queue.AddLast(job);
            var after = new List<Action>();
            lock (state.Gate) scheduler.Schedule(after);
            PoolState.RunAll(after);
            var result = Assert.IsType<BatchResult>(job.Future.GetResult(TimeSpan.Zero));
            Assert.Equal("FakeNoWorkersLeft", result.Error.FullyQualifiedErrorId);
            Assert.Empty(state.Queue);
        }

        [Fact]
        public void AFixedSetWhoseOnlySlotOpensAReplacementKeepsItsQueue()
        {
            var kind = new FakeWorkerKind(opensOnDemand: false);
            var state = new PoolState(kind);
            var scheduler = new PoolScheduler(state, () => throw new InvalidOperationException("not on demand"));
            state.Slots.Add(new Slot(1) { Opening = true });
            PoolJob job = Job(0);
            state.Queue.AddLast(job);
            var after = new List<Action>();
            lock (state.Gate) scheduler.Schedule(after);
            Assert.Empty(after);
            Assert.False(job.Future.IsCompleted);
        }
    }
}
