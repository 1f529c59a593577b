using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>
    /// What happens when a worker goes away or cannot be had: a worker lost between batches or while it runs one, a
    /// run whose worker the kind says is gone, an open that failed, a replacement that could not be made. Members
    /// say whether they take <see cref="PoolState.Gate"/> themselves or expect it held.
    /// </summary>
    /// <remarks>
    /// A lost worker's batch fails at once with the kind's result, or runs again elsewhere
    /// (<see cref="WorkerKind.RerunsLostWork"/>): at most <see cref="WorkerPool.MaxAttempts"/> runs in all, after
    /// which it waits <see cref="PoolState.VerdictDelay"/> for news of the other workers before it fails, so the
    /// engine sees exactly one result per batch. Each lost worker is reported to the kind once
    /// (<see cref="WorkerKind.WorkerLost"/>).
    /// </remarks>
    internal sealed class WorkerLoss
    {
        private readonly PoolState _state;
        private readonly PoolScheduler _scheduler;

        public WorkerLoss(PoolState state, PoolScheduler scheduler)
        {
            _state = state;
            _scheduler = scheduler;
        }

        /// <summary>
        /// The worker is gone (its process exited, its connection broke). Any thread; takes the lock. A worker that
        /// no slot holds yet (it is still opening) is reported by the slot that opens it.
        /// </summary>
        public void Lost(Worker worker, string reason)
        {
            if (!worker.MarkLost(reason)) return;
            PoolState s = _state;
            var after = new List<Action>();
            int remaining;
            lock (s.Gate)
            {
                Slot slot = s.Slots.FirstOrDefault(x => x.Worker == worker);
                if (slot == null || s.Disposed) return;
                PoolJob job = slot.Assigned;
                if (job == null || slot.Settling)
                {
                    s.RemoveSlot(slot);
                    after.Add(() => s.CloseWorker(worker, stuck: slot.Settling));
                }
                else if (!s.Kind.RerunsLostWork)
                {
                    // The invocation may not return for a long time (a dead process's runspace notices after about
                    // 60 s): the batch fails now and the slot's thread is left to end when it returns.
                    s.RemoveSlot(slot);
                    slot.Assigned = null;
                    DateTime started = job.Started;
                    after.Add(() => job.Complete(job.Aborted
                        ? BatchResult.ForStopped(job.Future.Task, started)
                        : s.Kind.LostResult(worker, job.Future.Task, started, reason, null, null)));
                    after.Add(() => s.CloseWorker(worker, stuck: true));
                }
                // Else the batch runs again elsewhere once its invocation returned (a task runs once at a time).
                remaining = s.UsableCount();
                _scheduler.Schedule(after);
            }
            after.Insert(0, () => s.Kind.WorkerLost(worker, reason, remaining));
            PoolState.RunAll(after);
        }

        /// <summary>
        /// A run ended and the kind says its worker is gone (<paramref name="lost"/>): the batch runs again elsewhere,
        /// waits for its verdict, or fails. Lock held; completions go to <paramref name="after"/>.
        /// </summary>
        public void LostRun(PoolJob job, Worker worker, string lost, BatchResult result, Exception thrown, List<Action> after)
        {
            PoolState s = _state;
            BatchTask task = job.Future.Task;
            if (!s.Kind.RerunsLostWork)
            {
                // What the invocation ended with: thrown, or caught by the task into its result.
                Exception error = thrown ?? result?.Error?.Exception;
                after.Add(() => job.Complete(s.Kind.LostResult(worker, task, job.Started, lost, error, null)));
                return;
            }
            job.Attempts++;
            job.LostIn.Add(worker.Place);
            if (s.UsableCount() == 0 && !s.Kind.OpensOnDemand)
            {
                after.Add(() => job.Complete(s.Kind.NoWorkersLeft(task)));
            }
            else if (job.Attempts >= WorkerPool.MaxAttempts)
            {
                // Workers going down one after the other (a network outage) must read as "every worker lost", not as
                // a batch that kills its workers: the verdict waits a moment for the others' news.
                s.Parked.Add(job);
                job.Verdict = new Timer(_ => FailParked(job, worker, lost), null, s.VerdictDelay, Timeout.InfiniteTimeSpan);
            }
            else
            {
                after.Add(() => s.Kind.WorkRerun(worker, task, lost));
                // Its stop or timeout belonged to the lost run: the next run starts clean.
                task.ResetForRerun();
                _scheduler.Enqueue(job);
            }
        }

        /// <summary>The slot ends with the worker it could not replace, which counts as lost. Takes the lock.</summary>
        public void LoseSlot(Slot slot, Worker replaced, string reason)
        {
            PoolState s = _state;
            bool first = replaced.MarkLost(reason);
            var after = new List<Action>();
            int remaining;
            lock (s.Gate)
            {
                s.RemoveSlot(slot);
                remaining = s.UsableCount();
                _scheduler.Schedule(after);
            }
            if (first) s.Kind.WorkerLost(replaced, reason, remaining);
            PoolState.RunAll(after);
        }

        /// <summary>
        /// A worker could not open: the slot ends. While another worker is usable or opening, the waiting batches
        /// wait for it (a transient start failure must not fail other calls' batches) and the pool opens no worker on
        /// demand for a while; when none is, they fail now with the reason (a bad PwshPath must not hang the call).
        /// Takes the lock.
        /// </summary>
        public void FailOpen(Slot slot, Exception error)
        {
            PoolState s = _state;
            var failed = new List<PoolJob>();
            var after = new List<Action>();
            lock (s.Gate)
            {
                bool abandoned = slot.Abandoned;
                s.RemoveSlot(slot);
                if (!abandoned && !s.Disposed)
                {
                    if (s.UsableCount() == 0 && !s.Slots.Any(x => x.Opening))
                    {
                        failed.AddRange(s.Queue);
                        s.Queue.Clear();
                    }
                    else
                    {
                        _scheduler.NoteOpenFailed();
                    }
                }
                _scheduler.Schedule(after);
                Monitor.PulseAll(s.Gate);
            }
            foreach (PoolJob job in failed) job.Complete(s.Kind.OpenFailed(job.Future.Task, error));
            PoolState.RunAll(after);
        }

        /// <summary>The verdict timer of a batch lost too often: it fails (or completes stopped, if aborted meanwhile). Takes the lock.</summary>
        private void FailParked(PoolJob job, Worker worker, string reason)
        {
            lock (_state.Gate)
            {
                if (!_state.Parked.Remove(job)) return;
            }
            job.Verdict?.Dispose();
            job.Complete(job.Aborted
                ? BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow)
                : _state.Kind.LostResult(worker, job.Future.Task, job.Started, reason, null, job.LostIn));
        }
    }
}
