using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>
    /// A slot's life on its own thread: open its worker, take the batches the scheduler assigns it, run each, and
    /// after a batch that did not run to its end probe the worker before it takes more work (a pipeline still winding
    /// down or a broken runspace never reaches the next batch or call; a worker that fails the probe is closed as
    /// stuck and replaced). The slot ends when the pool lets go of it, the pool shrinks, its idle time runs out, or
    /// its worker is lost.
    /// </summary>
    /// <remarks>
    /// Threading: one dedicated background thread per slot (a slot's thread must never keep the process alive); the
    /// kind's Open, Reset, Run and Probe are called on it, with <see cref="PoolState.Gate"/> not held.
    /// </remarks>
    internal sealed class SlotRunner
    {
        private readonly PoolState _state;
        private readonly PoolScheduler _scheduler;
        private readonly WorkerLoss _loss;

        public SlotRunner(PoolState state, PoolScheduler scheduler, WorkerLoss loss)
        {
            _state = state;
            _scheduler = scheduler;
            _loss = loss;
        }

        /// <summary>A slot with an open worker, or one that opens its worker on its thread when given none. Lock held.</summary>
        public Slot NewSlot(Worker worker = null)
        {
            var slot = new Slot(++_state.SlotNumber) { Opening = worker == null, Worker = worker };
            _state.Slots.Add(slot);
            var thread = new Thread(() => Loop(slot)) { IsBackground = true, Name = $"JoblibPS {_state.Kind.Name} worker {slot.Number}" };
            thread.Start();
            return slot;
        }

        /// <summary>
        /// A slot's thread. An exception must never leave it (it would end the caller's process): one that escapes
        /// the core's own code fails the slot's batch with that exception and gives up on the slot.
        /// </summary>
        private void Loop(Slot slot)
        {
            try
            {
                while (true)
                {
                    if (slot.Worker == null && !OpenWorker(slot)) return;
                    PoolJob job = TakeJob(slot);
                    if (job == null)
                    {
                        if (slot.Worker == null) continue;   // replaced while idle: open a fresh one
                        return;
                    }
                    RunJob(slot, job);
                }
            }
            catch (Exception ex)
            {
                GiveUp(slot, ex);
            }
        }

        private void GiveUp(Slot slot, Exception ex)
        {
            PoolState s = _state;
            PoolJob job;
            Worker worker;
            var after = new List<Action>();
            lock (s.Gate)
            {
                job = slot.Assigned;
                worker = slot.Worker;
                slot.Assigned = null;
                s.RemoveSlot(slot);
                _scheduler.Schedule(after);
            }
            try
            {
                job?.Complete(BatchResult.FromDriverOutput(job.Future.Task, null, ex, false, false, DateTime.UtcNow - job.Started));
                s.CloseWorker(worker, stuck: true);
                PoolState.RunAll(after);
            }
            catch (Exception)
            {
                // Nothing more can be done on this thread.
            }
        }

        /// <summary>Opens the slot's worker; false when the slot must end.</summary>
        private bool OpenWorker(Slot slot)
        {
            PoolState s = _state;
            Worker replacing;
            lock (s.Gate)
            {
                if (slot.Abandoned || s.Disposed) return false;
                replacing = slot.Replacing;
                slot.Opening = true;
            }
            Worker worker;
            try
            {
                worker = s.Kind.Open(replacing);
            }
            catch (Exception ex) when (replacing != null && !s.Kind.OpensOnDemand)
            {
                // A fixed set (remote hosts): a worker that cannot be replaced is lost, never a reason to fail batches.
                _loss.LoseSlot(slot, replacing, ex.Message);
                return false;
            }
            catch (Exception ex)
            {
                _loss.FailOpen(slot, ex);
                return false;
            }
            if (worker == null && replacing != null)
            {
                _loss.LoseSlot(slot, replacing, "it could not be replaced after a stop.");
                return false;
            }
            return TakeOpened(slot, worker);
        }

        /// <summary>The slot takes the worker its kind opened (or the pool lets go of both); false when the slot must end.</summary>
        private bool TakeOpened(Slot slot, Worker worker)
        {
            PoolState s = _state;
            var after = new List<Action>();
            lock (s.Gate)
            {
                slot.Opening = false;
                slot.Replacing = null;
                if (worker != null) s.OpenFailures = 0;
                if (worker == null || slot.Abandoned || s.Disposed)
                {
                    s.RemoveSlot(slot);
                    if (worker != null) after.Add(() => s.CloseWorker(worker, stuck: false));
                }
                else
                {
                    if (worker.Place == null) worker.Place = s.Kind.Name + " worker " + slot.Number;
                    if (worker.LostReason != null)
                    {
                        // Lost between its start and now (its process exited): Lost found no slot holding it, so the
                        // loss is reported here, once, like any other.
                        s.RemoveSlot(slot);
                        int remaining = s.UsableCount();
                        string reason = worker.LostReason;
                        after.Add(() => s.Kind.WorkerLost(worker, reason, remaining));
                        after.Add(() => s.CloseWorker(worker, stuck: false));
                    }
                    else
                    {
                        slot.Worker = worker;
                    }
                }
                _scheduler.Schedule(after);
                Monitor.PulseAll(s.Gate);
            }
            PoolState.RunAll(after);
            return worker != null && slot.Worker == worker;
        }

        /// <summary>Waits for a batch assigned to the slot; null when the slot must end, or (with the slot's worker cleared) when its worker was replaced.</summary>
        private PoolJob TakeJob(Slot slot)
        {
            PoolState s = _state;
            var after = new List<Action>();
            try
            {
                lock (s.Gate)
                {
                    var idle = Stopwatch.StartNew();
                    while (true)
                    {
                        if (slot.Abandoned || s.Disposed) return null;
                        if (slot.Assigned != null) return slot.Assigned;
                        // (A stale worker is never assigned work: see PoolState.Idle.)
                        Worker worker = slot.Worker;
                        if (slot.Retiring || worker.LostReason != null)
                        {
                            s.RemoveSlot(slot);
                            after.Add(() => s.CloseWorker(worker, stuck: false));
                            _scheduler.Schedule(after);
                            return null;
                        }
                        if (s.Kind.IsStale(worker))
                        {
                            // Started with settings that changed since (NJobs changed a process's thread limits): replace it while idle.
                            slot.Worker = null;
                            after.Add(() => s.CloseWorker(worker, stuck: false));
                            return null;
                        }
                        if (!WaitForWork(idle))
                        {
                            // loky: an idle worker exits after the idle timeout; the pool opens one again when work comes.
                            s.RemoveSlot(slot);
                            after.Add(() => s.CloseWorker(worker, stuck: false));
                            return null;
                        }
                    }
                }
            }
            finally
            {
                PoolState.RunAll(after);
            }
        }

        /// <summary>Waits on the lock (held) for a change; false once the idle timeout of a kind that opens on demand ran out.</summary>
        private bool WaitForWork(Stopwatch idle)
        {
            PoolState s = _state;
            if (!s.IdleTimeout.HasValue || !s.Kind.OpensOnDemand)
            {
                Monitor.Wait(s.Gate);
                return true;
            }
            TimeSpan left = s.IdleTimeout.Value - idle.Elapsed;
            if (left <= TimeSpan.Zero) return false;
            Monitor.Wait(s.Gate, left < TimeSpan.FromMilliseconds(int.MaxValue) ? left : TimeSpan.FromMilliseconds(int.MaxValue));
            return true;
        }

        private void RunJob(Slot slot, PoolJob job)
        {
            WorkerKind kind = _state.Kind;
            Worker worker = slot.Worker;
            BatchTask task = job.Future.Task;
            BatchResult result = null;
            Exception thrown = null;
            bool resetFailed = false;
            if (job.Aborted)
            {
                result = BatchResult.ForStopped(task, DateTime.UtcNow);
            }
            else
            {
                if (worker.CallServed != null && !ReferenceEquals(worker.CallServed, task.CallToken))
                {
                    try { kind.Reset(worker); }
                    catch (Exception) { resetFailed = true; }
                }
                if (!resetFailed)
                {
                    worker.CallServed = task.CallToken;
                    task.RanOn = worker.Place;
                    try { result = kind.Run(worker, task); }
                    catch (Exception ex) { thrown = ex; }
                    worker.Tasks++;
                }
            }
            string lost = resetFailed ? "it could not be reset for a new call."
                : thrown != null || result.Outcome != BatchOutcome.Completed ? SafeLostReason(worker, result, thrown)
                : worker.LostReason;
            // A batch that failed in the transport of a worker that is still there: say which value could not travel
            // (a lost worker's batch gets its kind's verdict instead).
            if (lost == null && result != null && worker.Runspace != null && worker.Runspace.RunspaceIsRemote)
            {
                result = TransportFailure.Diagnose(kind.Name, task, result);
            }
            Finish(slot, worker, job, result, thrown, lost, resetFailed);
        }

        private void Finish(Slot slot, Worker worker, PoolJob job, BatchResult result, Exception thrown, string lost, bool notStarted)
        {
            PoolState s = _state;
            var after = new List<Action>();
            bool probe;
            int remaining = -1;
            lock (s.Gate)
            {
                if (slot.Abandoned)
                {
                    // Given up on (an abort's deadline, a lost process, dispose): the batch was completed then.
                    if (slot.Stuck)
                    {
                        slot.Stuck = false;
                        Interlocked.Decrement(ref s.StuckThreads);
                    }
                    return;
                }
                slot.Assigned = null;
                if (lost != null)
                {
                    bool first = worker.MarkLost(lost);
                    s.RemoveSlot(slot);
                    if (first) remaining = s.UsableCount();
                }
                probe = Complete(job, worker, result, thrown, lost, notStarted, after);
                if (lost == null && !probe && s.Spent(worker))
                {
                    // loky's max_tasks_per_child: the worker is replaced before the slot takes more work. (After a
                    // batch that did not run to its end, Settle does this once the probe says the worker is idle:
                    // closing a runspace while its pipeline winds down can wait forever.)
                    slot.Worker = null;
                    after.Add(() => s.CloseWorker(worker, stuck: false));
                }
                slot.Settling = probe;
                if (!probe) _scheduler.Schedule(after);
            }
            if (remaining >= 0) after.Insert(0, () => s.Kind.WorkerLost(worker, lost, remaining));
            // Closed last: the batch's result may still read what the worker leaves behind (a process's item counter).
            if (lost != null) after.Add(() => s.CloseWorker(worker, stuck: false));
            PoolState.RunAll(after);
            if (probe) Settle(slot, worker);
        }

        /// <summary>Completes (or queues again) the batch of a run that ended; true when the worker must be probed first. Lock held.</summary>
        private bool Complete(PoolJob job, Worker worker, BatchResult result, Exception thrown, string lost, bool notStarted, List<Action> after)
        {
            PoolState s = _state;
            BatchTask task = job.Future.Task;
            if (job.Aborted || s.Disposed)
            {
                BatchResult stopped = result != null && lost == null ? result : BatchResult.ForStopped(task, job.Started);
                after.Add(() => job.Complete(stopped));
                return lost == null && (result == null || result.Outcome != BatchOutcome.Completed);
            }
            if (notStarted)
            {
                // The worker could not be reset: the batch never ran and goes back to the front of the queue.
                _scheduler.Enqueue(job);
                return false;
            }
            if (lost != null)
            {
                _loss.LostRun(job, worker, lost, result, thrown, after);
                return false;
            }
            if (thrown != null)
            {
                after.Add(() => job.Complete(BatchResult.FromDriverOutput(task, null, thrown, false, false, DateTime.UtcNow - job.Started)));
                return true;
            }
            after.Add(() => job.Complete(s.Kind.Completing(task, result)));
            return result.Outcome != BatchOutcome.Completed && !IsScriptError(worker, result);
        }

        /// <summary>After a batch that did not run to its end: the worker takes no work until it proved idle and healthy; else it is replaced.</summary>
        private void Settle(Slot slot, Worker worker)
        {
            PoolState s = _state;
            bool healthy;
            try { healthy = s.Kind.Probe(worker); }
            catch (Exception) { healthy = false; }
            var after = new List<Action>();
            lock (s.Gate)
            {
                slot.Settling = false;
                Monitor.PulseAll(s.Gate);
                if (!slot.Abandoned && slot.Worker == worker && (!healthy || s.Spent(worker)))
                {
                    slot.Worker = null;
                    // The slot opens the replacement next: it counts as opening from now on, so that a pool of a
                    // fixed set whose only worker this was does not fail its queue as "no worker left".
                    slot.Opening = true;
                    if (!healthy) slot.Replacing = worker;
                    after.Add(() => s.CloseWorker(worker, stuck: !healthy));
                }
                _scheduler.Schedule(after);
            }
            PoolState.RunAll(after);
        }

        /// <summary>True when a failed batch failed in the user's script (the worker is as healthy as before), not in the worker or the transport.</summary>
        private static bool IsScriptError(Worker worker, BatchResult result)
        {
            if (result.Outcome != BatchOutcome.Failed) return false;
            Exception error = result.Error?.Exception;
            bool remote = worker.Runspace != null && worker.Runspace.RunspaceIsRemote;
            return remote ? error is RemoteException : error is RuntimeException;
        }

        private string SafeLostReason(Worker worker, BatchResult result, Exception thrown)
        {
            try { return _state.Kind.LostReason(worker, result, thrown); }
            catch (Exception ex) { return ex.Message; }
        }
    }
}
