using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>
    /// The one worker core behind every built-in backend: a queue of batches, slots that each own one worker and a
    /// dedicated thread, workers opened when there is work for them, one owner-scoped abort under a single deadline,
    /// lost and stuck workers retired and replaced, and dispose. What differs between runspaces of this process,
    /// pwsh worker processes and SSH hosts is the <see cref="WorkerKind"/>. Every public member may be called from
    /// any thread.
    /// </summary>
    /// <remarks>
    /// Scheduling: a batch goes to an idle usable worker in the place with the fewest busy workers (so remote work
    /// spreads over hosts), while fewer than <see cref="SetLimit">the limit</see> run; a batch that is run again
    /// (its worker was lost) avoids the places it ran in while another place is usable. When no idle worker is
    /// there and fewer than <see cref="Resize">the target</see> are open, a slot opens one; never more slots open
    /// than there are batches waiting.
    /// After a batch that did not run to its end (stopped, timed out, failed outside the user's script) the slot
    /// probes its worker (<see cref="WorkerKind.Probe"/>) before it takes more work: a pipeline still winding down
    /// or a broken runspace never reaches the next batch or call. A worker that fails the probe is closed as stuck
    /// and replaced.
    /// Losing a worker (<see cref="Lost"/>, or the kind's verdict after a run): its batch fails at once with the
    /// kind's result, or runs again elsewhere (<see cref="WorkerKind.RerunsLostWork"/>, at most
    /// <see cref="MaxAttempts"/> runs in all, so the engine sees exactly one result per batch).
    /// </remarks>
    internal sealed class WorkerPool : IDisposable
    {
        /// <summary>How many times a batch may run when lost work runs again: once, and once more after its worker was lost.</summary>
        public const int MaxAttempts = 2;

        /// <summary>
        /// How long a batch lost <see cref="MaxAttempts"/> times waits before it fails as lost too often, in case every
        /// worker is going down (a network outage takes hosts one after the other, milliseconds apart).
        /// </summary>
        internal TimeSpan VerdictDelay { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>
        /// How long the pool opens no worker on demand after an open failed while other workers were usable (a
        /// transient pwsh start failure): the first wait, doubled after each further failure up to
        /// <see cref="MaxOpenBackoff"/>, and forgotten after an open that succeeds.
        /// </summary>
        internal TimeSpan OpenBackoff { get; set; } = TimeSpan.FromSeconds(1);

        private static readonly TimeSpan MaxOpenBackoff = TimeSpan.FromSeconds(30);

        /// <summary>How long <see cref="Dispose"/> waits for workers probing after a stopped batch (a probe takes a round trip, milliseconds).</summary>
        private static readonly TimeSpan SettleWait = TimeSpan.FromSeconds(3);

        /// <summary>How long <see cref="Dispose"/> waits for workers to close (in parallel).</summary>
        private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(10);

        private readonly object _gate = new object();
        private readonly WorkerKind _kind;
        private readonly LinkedList<PoolJob> _queue = new LinkedList<PoolJob>();
        private readonly List<PoolJob> _parked = new List<PoolJob>();
        private readonly List<Slot> _slots = new List<Slot>();
        private readonly HashSet<object> _holders = new HashSet<object>();
        private int _target;
        private int _limit = int.MaxValue;
        private TimeSpan? _idleTimeout;
        private int _slotNumber;
        private int _stuckThreads;
        private int _openFailures;
        private long _noOpenUntilTicks;
        private bool _disposed;
        private bool _draining;

        /// <param name="kind">The kind of worker; the pool owns it for its life.</param>
        /// <param name="stopGrace">
        /// How long an abort waits, in all, for the running batches to stop before it gives up on their workers
        /// (they are closed as stuck and replaced).
        /// </param>
        public WorkerPool(WorkerKind kind, TimeSpan stopGrace)
        {
            _kind = kind;
            StopGrace = stopGrace;
        }

        /// <summary>The abort deadline: see the constructor.</summary>
        public TimeSpan StopGrace { get; }

        /// <summary>Replace a worker after it ran this many batches (loky's max_tasks_per_child); 0 for never.</summary>
        public int MaxTasksPerWorker { get; set; }

        /// <summary>Called once at the end of <see cref="Dispose"/> (for the registry of live pools).</summary>
        public Action Closed { get; set; }

        /// <summary>True once disposed.</summary>
        public bool IsDisposed
        {
            get { lock (_gate) return _disposed; }
        }

        /// <summary>The workers open and usable now.</summary>
        public IReadOnlyList<Worker> Workers
        {
            get { lock (_gate) return _slots.Where(s => s.Worker != null && !s.Opening && s.Worker.LostReason == null).Select(s => s.Worker).ToList(); }
        }

        /// <summary>The slots the pool holds (opening, working or idle), for tests that wait for the pool to let one go.</summary>
        internal int SlotCount
        {
            get { lock (_gate) return _slots.Count; }
        }

        /// <summary>The threads given up on because their worker would not stop (an item stuck in a .NET call) and still running.</summary>
        public int StuckThreads => Volatile.Read(ref _stuckThreads);

        /// <summary>Keeps at most <paramref name="target"/> workers; surplus ones end (an idle one at once, a busy one after its batch).</summary>
        public void Resize(int target)
        {
            var after = new List<Action>();
            lock (_gate)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(WorkerPool), "The worker pool was shut down.");
                _target = Math.Max(0, target);
                int surplus = _slots.Count(s => !s.Retiring) - _target;
                foreach (Slot slot in _slots.Where(s => !s.Retiring).OrderBy(s => s.Assigned == null ? 0 : 1).Take(Math.Max(0, surplus)))
                {
                    slot.Retiring = true;
                }
                Schedule(after);
            }
            RunAll(after);
        }

        /// <summary>Sets how many batches may run at once.</summary>
        public void SetLimit(int limit)
        {
            var after = new List<Action>();
            lock (_gate)
            {
                _limit = Math.Max(1, limit);
                Schedule(after);
            }
            RunAll(after);
        }

        /// <summary>Sets how long an idle worker waits for work before it ends; null to wait forever.</summary>
        public void SetIdleTimeout(TimeSpan? idleTimeout)
        {
            lock (_gate)
            {
                _idleTimeout = idleTimeout;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>Takes in a worker the kind opened itself (remote hosts, opened in parallel up front).</summary>
        public void Adopt(Worker worker)
        {
            var after = new List<Action>();
            lock (_gate)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(WorkerPool));
                NewSlot(worker);
                _target = Math.Max(_target, _slots.Count(s => !s.Retiring));
                Schedule(after);
            }
            RunAll(after);
        }

        /// <summary>Opens workers up to the target now rather than on demand, for calls that must not count start-up against an item's timeout.</summary>
        public void Prestart()
        {
            lock (_gate)
            {
                if (_disposed || !_kind.OpensOnDemand) return;
                while (_slots.Count(s => !s.Retiring) < _target) NewSlot();
            }
        }

        /// <summary>
        /// Waits until no slot is still opening its worker (at most <paramref name="timeout"/>, and no longer than
        /// <paramref name="stopping"/> stays unsignalled: Ctrl+C must not wait for a pwsh to start); false on timeout
        /// or stop.
        /// </summary>
        public bool WaitReady(TimeSpan timeout, CancellationToken stopping = default(CancellationToken))
        {
            var clock = Stopwatch.StartNew();
            using (stopping.Register(() => { lock (_gate) Monitor.PulseAll(_gate); }))
            {
                lock (_gate)
                {
                    while (!_disposed && _slots.Any(s => s.Opening))
                    {
                        TimeSpan left = timeout - clock.Elapsed;
                        if (left <= TimeSpan.Zero || stopping.IsCancellationRequested) return false;
                        Monitor.Wait(_gate, left);
                    }
                    return true;
                }
            }
        }

        /// <summary>Queues a batch of <paramref name="owner"/> (the backend instance whose call submitted it); its future completes from a slot thread.</summary>
        public BatchFuture Submit(BatchTask task, Action<object> callback, object owner)
        {
            var future = new BatchFuture(task, callback);
            var after = new List<Action>();
            lock (_gate)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(WorkerPool), "The worker pool was shut down.");
                var job = new PoolJob(future, owner);
                if (task.Avoid != null) job.Prefers.AddRange(task.Avoid);
                _queue.AddLast(job);
                Schedule(after);
            }
            RunAll(after);
            return future;
        }

        /// <summary>
        /// Aborts the batches of <paramref name="owner"/> (null: every batch), returning within about
        /// <see cref="StopGrace"/>: queued ones complete as stopped; running ones are asked to stop, all at once, and
        /// those still running at the deadline complete as stopped while their workers are closed as stuck and
        /// replaced, so the pool is whole again. A worker whose batch stopped in time stays warm. Returns how many
        /// workers were given up on that way (their threads are counted in <see cref="StuckThreads"/> until they return).
        /// </summary>
        public int Abort(object owner)
        {
            var dropped = new List<PoolJob>();
            var running = new List<(Slot Slot, PoolJob Job)>();
            lock (_gate)
            {
                TakeQueued(owner, dropped);
                foreach (Slot slot in _slots.Where(s => s.Assigned != null && (owner == null || s.Assigned.Owner == owner)))
                {
                    slot.Assigned.Aborted = true;
                    running.Add((slot, slot.Assigned));
                }
            }
            foreach (PoolJob job in dropped) job.CompleteStopped();
            return StopAndAbandon(running);
        }

        /// <summary>
        /// Reports that <paramref name="worker"/> is gone (its process exited, its connection broke). Any thread. A batch
        /// it ran fails at once with the kind's result, or runs again elsewhere once its invocation returned.
        /// </summary>
        public void Lost(Worker worker, string reason)
        {
            if (!worker.MarkLost(reason)) return;
            var after = new List<Action>();
            int remaining;
            lock (_gate)
            {
                Slot slot = _slots.FirstOrDefault(s => s.Worker == worker);
                if (slot == null || _disposed) return;
                PoolJob job = slot.Assigned;
                if (job == null || slot.Settling)
                {
                    RemoveSlot(slot);
                    after.Add(() => CloseWorker(worker, stuck: slot.Settling));
                }
                else if (!_kind.RerunsLostWork)
                {
                    // The invocation may not return for a long time (a dead process's runspace notices after about
                    // 60 s): the batch fails now and the slot's thread is left to end when it returns.
                    RemoveSlot(slot);
                    slot.Assigned = null;
                    DateTime started = job.Started;
                    after.Add(() => job.Complete(job.Aborted
                        ? BatchResult.ForStopped(job.Future.Task, started)
                        : _kind.LostResult(worker, job.Future.Task, started, reason, null, null)));
                    after.Add(() => CloseWorker(worker, stuck: true));
                }
                // Else the batch runs again elsewhere once its invocation returned (a task runs once at a time).
                remaining = UsableCount();
                Schedule(after);
            }
            after.Insert(0, () => _kind.WorkerLost(worker, reason, remaining));
            RunAll(after);
        }

        /// <summary>Records that <paramref name="holder"/> (a backend instance) uses the pool until it calls <see cref="Release"/>.</summary>
        public void Hold(object holder)
        {
            lock (_gate) _holders.Add(holder);
        }

        /// <summary>Ends <paramref name="holder"/>'s use; a drained pool that nobody holds any more is disposed.</summary>
        public void Release(object holder)
        {
            lock (_gate) _holders.Remove(holder);
            DisposeIfDrained();
        }

        /// <summary>Retires the pool: the instances that hold it keep using it, and it is disposed when the last one lets go.</summary>
        public void Drain()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _draining = true;
            }
            DisposeIfDrained();
        }

        /// <summary>
        /// Stops everything and closes every worker (in parallel, <see cref="CloseWait"/> at most): queued batches and
        /// running ones complete as stopped. Idempotent.
        /// </summary>
        public void Dispose()
        {
            var dropped = new List<PoolJob>();
            var running = new List<(Slot Slot, PoolJob Job)>();
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                TakeQueued(null, dropped);
                foreach (Slot slot in _slots.Where(s => s.Assigned != null))
                {
                    slot.Assigned.Aborted = true;
                    running.Add((slot, slot.Assigned));
                }
                Monitor.PulseAll(_gate);
            }
            foreach (PoolJob job in dropped) job.CompleteStopped();
            StopAndAbandon(running);
            var closing = new List<(Worker Worker, bool Busy)>();
            lock (_gate)
            {
                // A worker still proving itself after a stopped batch answers within its probe's bound: closed
                // while idle it ends cleanly, where closing it busy would kill it and leave its runspace to time out.
                var settling = Stopwatch.StartNew();
                while (_slots.Any(s => s.Settling) && settling.Elapsed < SettleWait)
                {
                    Monitor.Wait(_gate, SettleWait - settling.Elapsed);
                }
                foreach (Slot slot in _slots.ToList())
                {
                    if (slot.Worker != null) closing.Add((slot.Worker, slot.Assigned != null || slot.Settling));
                    RemoveSlot(slot);
                }
                Monitor.PulseAll(_gate);
            }
            System.Threading.Tasks.Task[] ending = closing
                .Select(c => System.Threading.Tasks.Task.Run(() => CloseWorker(c.Worker, c.Busy)))
                .ToArray();
            System.Threading.Tasks.Task.WaitAll(ending, CloseWait);
            Closed?.Invoke();
        }

        // ---- slots ---------------------------------------------------------------------------------------------

        /// <summary>
        /// A slot's thread. An exception must never leave it (it would end the caller's process): one that escapes
        /// the pool's own code fails the slot's batch with that exception and gives up on the slot.
        /// </summary>
        private void SlotLoop(Slot slot)
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
                PoolJob job;
                Worker worker;
                var after = new List<Action>();
                lock (_gate)
                {
                    job = slot.Assigned;
                    worker = slot.Worker;
                    slot.Assigned = null;
                    RemoveSlot(slot);
                    Schedule(after);
                }
                try
                {
                    job?.Complete(BatchResult.FromDriverOutput(job.Future.Task, null, ex, false, false, DateTime.UtcNow - job.Started));
                    CloseWorker(worker, stuck: true);
                    RunAll(after);
                }
                catch (Exception)
                {
                    // Nothing more can be done on this thread.
                }
            }
        }

        /// <summary>Opens the slot's worker; false when the slot must end.</summary>
        private bool OpenWorker(Slot slot)
        {
            Worker replacing;
            lock (_gate)
            {
                if (slot.Abandoned || _disposed) return false;
                replacing = slot.Replacing;
                slot.Opening = true;
            }
            Worker worker;
            try
            {
                worker = _kind.Open(replacing);
            }
            catch (Exception ex) when (replacing != null && !_kind.OpensOnDemand)
            {
                // A fixed set (remote hosts): a worker that cannot be replaced is lost, never a reason to fail batches.
                LoseSlot(slot, replacing, ex.Message);
                return false;
            }
            catch (Exception ex)
            {
                FailOpen(slot, ex);
                return false;
            }
            if (worker == null && replacing != null)
            {
                LoseSlot(slot, replacing, "it could not be replaced after a stop.");
                return false;
            }
            var after = new List<Action>();
            lock (_gate)
            {
                slot.Opening = false;
                slot.Replacing = null;
                if (worker != null) _openFailures = 0;
                if (worker == null || slot.Abandoned || _disposed)
                {
                    RemoveSlot(slot);
                    if (worker != null) after.Add(() => CloseWorker(worker, stuck: false));
                    Schedule(after);
                }
                else if (worker.LostReason != null)
                {
                    // Lost between its start and now (its process exited): Lost found no slot holding it, so the
                    // loss is reported here, once, like any other.
                    if (worker.Place == null) worker.Place = _kind.Name + " worker " + slot.Number;
                    RemoveSlot(slot);
                    int remaining = UsableCount();
                    string reason = worker.LostReason;
                    after.Add(() => _kind.WorkerLost(worker, reason, remaining));
                    after.Add(() => CloseWorker(worker, stuck: false));
                    Schedule(after);
                }
                else
                {
                    if (worker.Place == null) worker.Place = _kind.Name + " worker " + slot.Number;
                    slot.Worker = worker;
                    Schedule(after);
                }
                Monitor.PulseAll(_gate);
            }
            RunAll(after);
            return worker != null && slot.Worker == worker;
        }

        /// <summary>The slot ends with the worker it could not replace, which counts as lost.</summary>
        private void LoseSlot(Slot slot, Worker replaced, string reason)
        {
            bool first = replaced.MarkLost(reason);
            var after = new List<Action>();
            int remaining;
            lock (_gate)
            {
                RemoveSlot(slot);
                remaining = UsableCount();
                Schedule(after);
            }
            if (first) _kind.WorkerLost(replaced, reason, remaining);
            RunAll(after);
        }

        /// <summary>
        /// A worker could not open: the slot ends. While another worker is usable or opening, the waiting batches
        /// wait for it (a transient start failure must not fail other calls' batches) and the pool opens no worker
        /// on demand for a while (<see cref="OpenBackoff"/>); when none is, they fail now with the reason (a bad
        /// PwshPath must not hang the call).
        /// </summary>
        private void FailOpen(Slot slot, Exception error)
        {
            var failed = new List<PoolJob>();
            var after = new List<Action>();
            lock (_gate)
            {
                bool abandoned = slot.Abandoned;
                RemoveSlot(slot);
                if (!abandoned && !_disposed)
                {
                    if (UsableCount() == 0 && !_slots.Any(s => s.Opening))
                    {
                        failed.AddRange(_queue);
                        _queue.Clear();
                    }
                    else
                    {
                        double wait = Math.Min(MaxOpenBackoff.TotalMilliseconds, OpenBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(16, _openFailures)));
                        _openFailures++;
                        _noOpenUntilTicks = Stopwatch.GetTimestamp() + (long)(wait / 1000.0 * Stopwatch.Frequency);
                    }
                }
                Schedule(after);
                Monitor.PulseAll(_gate);
            }
            foreach (PoolJob job in failed) job.Complete(_kind.OpenFailed(job.Future.Task, error));
            RunAll(after);
        }

        /// <summary>Waits for a batch assigned to the slot; null when the slot must end, or (with the slot's worker cleared) when its worker was replaced.</summary>
        private PoolJob TakeJob(Slot slot)
        {
            var after = new List<Action>();
            try
            {
                lock (_gate)
                {
                    var idle = Stopwatch.StartNew();
                    while (true)
                    {
                        if (slot.Abandoned || _disposed) return null;
                        if (slot.Assigned != null) return slot.Assigned;
                        // (A stale worker is never assigned work: see PickSlot.)
                        if (slot.Retiring || slot.Worker.LostReason != null)
                        {
                            RemoveSlot(slot);
                            Worker gone = slot.Worker;
                            after.Add(() => CloseWorker(gone, stuck: false));
                            Schedule(after);
                            return null;
                        }
                        if (_kind.IsStale(slot.Worker))
                        {
                            // Started with settings that changed since (NJobs changed a process's thread limits): replace it while idle.
                            Worker stale = slot.Worker;
                            slot.Worker = null;
                            after.Add(() => CloseWorker(stale, stuck: false));
                            return null;
                        }
                        if (_idleTimeout.HasValue && _kind.OpensOnDemand)
                        {
                            TimeSpan left = _idleTimeout.Value - idle.Elapsed;
                            if (left <= TimeSpan.Zero)
                            {
                                // loky: an idle worker exits after the idle timeout; the pool opens one again when work comes.
                                RemoveSlot(slot);
                                Worker idleWorker = slot.Worker;
                                after.Add(() => CloseWorker(idleWorker, stuck: false));
                                return null;
                            }
                            Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(int.MaxValue) ? left : TimeSpan.FromMilliseconds(int.MaxValue));
                        }
                        else
                        {
                            Monitor.Wait(_gate);
                        }
                    }
                }
            }
            finally
            {
                RunAll(after);
            }
        }

        private void RunJob(Slot slot, PoolJob job)
        {
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
                    try { _kind.Reset(worker); }
                    catch (Exception) { resetFailed = true; }
                }
                if (!resetFailed)
                {
                    worker.CallServed = task.CallToken;
                    task.RanOn = worker.Place;
                    try
                    {
                        result = _kind.Run(worker, task);
                    }
                    catch (Exception ex)
                    {
                        thrown = ex;
                    }
                    worker.Tasks++;
                }
            }
            string lost = resetFailed ? "it could not be reset for a new call."
                : thrown != null || result.Outcome != BatchOutcome.Completed ? SafeLostReason(worker, result, thrown)
                : worker.LostReason;
            // A batch that failed in the transport of a worker that is still there: say which value could not travel
            // (a lost worker's batch gets its kind's verdict instead, in Finish).
            if (lost == null && result != null && worker.Runspace != null && worker.Runspace.RunspaceIsRemote)
            {
                result = TransportFailure.Diagnose(_kind.Name, task, result);
            }
            Finish(slot, worker, job, result, thrown, lost, resetFailed);
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
            try { return _kind.LostReason(worker, result, thrown); }
            catch (Exception ex) { return ex.Message; }
        }

        private void Finish(Slot slot, Worker worker, PoolJob job, BatchResult result, Exception thrown, string lost, bool notStarted)
        {
            var after = new List<Action>();
            bool probe = false;
            int remaining = -1;
            lock (_gate)
            {
                if (slot.Abandoned)
                {
                    // Given up on (an abort's deadline, a lost process, dispose): the batch was completed then.
                    if (slot.Stuck)
                    {
                        slot.Stuck = false;
                        Interlocked.Decrement(ref _stuckThreads);
                    }
                    return;
                }
                slot.Assigned = null;
                BatchTask task = job.Future.Task;
                if (lost != null)
                {
                    bool first = worker.MarkLost(lost);
                    RemoveSlot(slot);
                    if (first) remaining = UsableCount();
                }
                if (job.Aborted || _disposed)
                {
                    BatchResult stopped = result != null && lost == null ? result : BatchResult.ForStopped(task, job.Started);
                    after.Add(() => job.Complete(stopped));
                    probe = lost == null && (result == null || result.Outcome != BatchOutcome.Completed);
                }
                else if (notStarted)
                {
                    // The worker could not be reset: the batch never ran and goes back to the front of the queue.
                    Enqueue(job);
                }
                else if (lost != null && _kind.RerunsLostWork)
                {
                    job.Attempts++;
                    job.LostIn.Add(worker.Place);
                    if (UsableCount() == 0 && !_kind.OpensOnDemand)
                    {
                        after.Add(() => job.Complete(_kind.NoWorkersLeft(task)));
                    }
                    else if (job.Attempts >= MaxAttempts)
                    {
                        // Workers going down one after the other (a network outage) must read as "every worker lost",
                        // not as a batch that kills its workers: the verdict waits a moment for the others' news.
                        string reason = lost;
                        _parked.Add(job);
                        job.Verdict = new Timer(_ => FailParked(job, worker, reason), null, VerdictDelay, Timeout.InfiniteTimeSpan);
                    }
                    else
                    {
                        string reason = lost;
                        after.Add(() => _kind.WorkRerun(worker, task, reason));
                        // Its stop or timeout belonged to the lost run: the next run starts clean.
                        task.ResetForRerun();
                        Enqueue(job);
                    }
                }
                else if (lost != null)
                {
                    // What the invocation ended with: thrown, or caught by the task into its result.
                    string reason = lost;
                    Exception error = thrown ?? result?.Error?.Exception;
                    after.Add(() => job.Complete(_kind.LostResult(worker, task, job.Started, reason, error, null)));
                }
                else if (thrown != null)
                {
                    after.Add(() => job.Complete(BatchResult.FromDriverOutput(task, null, thrown, false, false, DateTime.UtcNow - job.Started)));
                    probe = true;
                }
                else
                {
                    after.Add(() => job.Complete(_kind.Completing(task, result)));
                    probe = result.Outcome != BatchOutcome.Completed && !IsScriptError(worker, result);
                }
                if (lost == null && !probe && Spent(worker))
                {
                    // loky's max_tasks_per_child: the worker is replaced before the slot takes more work. (After a
                    // batch that did not run to its end, Settle does this once the probe says the worker is idle:
                    // closing a runspace while its pipeline winds down can wait forever.)
                    slot.Worker = null;
                    after.Add(() => CloseWorker(worker, stuck: false));
                }
                slot.Settling = probe;
                if (!probe) Schedule(after);
            }
            if (remaining >= 0) after.Insert(0, () => _kind.WorkerLost(worker, lost, remaining));
            // Closed last: the batch's result may still read what the worker leaves behind (a process's item counter).
            if (lost != null) after.Add(() => CloseWorker(worker, stuck: false));
            RunAll(after);
            if (probe) Settle(slot, worker);
        }

        /// <summary>After a batch that did not run to its end: the worker takes no work until it proved idle and healthy; else it is replaced.</summary>
        private void Settle(Slot slot, Worker worker)
        {
            bool healthy;
            try { healthy = _kind.Probe(worker); }
            catch (Exception) { healthy = false; }
            var after = new List<Action>();
            lock (_gate)
            {
                slot.Settling = false;
                Monitor.PulseAll(_gate);
                if (!slot.Abandoned && slot.Worker == worker && (!healthy || Spent(worker)))
                {
                    slot.Worker = null;
                    // The slot opens the replacement next: it counts as opening from now on, so that a pool of a
                    // fixed set whose only worker this was does not fail its queue as "no worker left".
                    slot.Opening = true;
                    if (!healthy) slot.Replacing = worker;
                    after.Add(() => CloseWorker(worker, stuck: !healthy));
                }
                Schedule(after);
            }
            RunAll(after);
        }

        /// <summary>True when the worker ran its <see cref="MaxTasksPerWorker"/> batches and is replaced.</summary>
        private bool Spent(Worker worker) => MaxTasksPerWorker > 0 && worker.Tasks >= MaxTasksPerWorker;

        private void FailParked(PoolJob job, Worker worker, string reason)
        {
            lock (_gate)
            {
                if (!_parked.Remove(job)) return;
            }
            job.Verdict?.Dispose();
            job.Complete(job.Aborted
                ? BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow)
                : _kind.LostResult(worker, job.Future.Task, job.Started, reason, null, job.LostIn));
        }

        /// <summary>Asks the running batches to stop, waits for them up to one deadline, and gives up on the workers of those still running (returns how many).</summary>
        private int StopAndAbandon(List<(Slot Slot, PoolJob Job)> running)
        {
            if (running.Count == 0) return 0;
            TimeSpan minAge = _kind.MinRunBeforeStop;
            if (minAge > TimeSpan.Zero)
            {
                TimeSpan? age = running.Select(r => r.Job.Future.Task.SinceProgress).Where(a => a.HasValue).DefaultIfEmpty(null).Min();
                if (age.HasValue && age.Value < minAge) Thread.Sleep(minAge - age.Value);
            }
            foreach (var (_, job) in running) job.Future.Task.RequestStop();
            var clock = Stopwatch.StartNew();
            foreach (var (_, job) in running)
            {
                TimeSpan left = StopGrace - clock.Elapsed;
                try { job.Future.GetResult(left > TimeSpan.Zero ? left : TimeSpan.Zero); }
                catch (TimeoutException) { }
            }
            var after = new List<Action>();
            int abandoned = 0;
            lock (_gate)
            {
                foreach (var (slot, job) in running)
                {
                    if (slot.Assigned != job || slot.Abandoned) continue;
                    Worker worker = slot.Worker;
                    abandoned++;
                    slot.Stuck = true;
                    Interlocked.Increment(ref _stuckThreads);
                    RemoveSlot(slot);
                    after.Add(() => job.CompleteStopped());
                    if (worker != null) after.Add(() => CloseWorker(worker, stuck: true));
                }
                Schedule(after);
            }
            RunAll(after);
            return abandoned;
        }

        // ---- scheduling (called with _gate held) ----------------------------------------------------------------

        private void Schedule(List<Action> after)
        {
            if (_disposed) return;
            if ((_queue.Count > 0 || _parked.Count > 0) && !_kind.OpensOnDemand && UsableCount() == 0 && !_slots.Any(s => s.Opening || s.Settling))
            {
                foreach (PoolJob job in _queue.Concat(_parked).ToList())
                {
                    PoolJob failed = job;
                    failed.Verdict?.Dispose();
                    after.Add(() => failed.Complete(_kind.NoWorkersLeft(failed.Future.Task)));
                }
                _queue.Clear();
                _parked.Clear();
                return;
            }
            int running = _slots.Count(s => s.Assigned != null);
            // In queue order; a batch that cannot be placed now (it avoids the only idle workers' place) does not
            // hold back the batches behind it.
            for (LinkedListNode<PoolJob> node = _queue.First; node != null && running < _limit;)
            {
                LinkedListNode<PoolJob> next = node.Next;
                Slot slot = PickSlot(node.Value);
                if (slot != null)
                {
                    PoolJob job = node.Value;
                    _queue.Remove(node);
                    job.Started = DateTime.UtcNow;
                    slot.Assigned = job;
                    running++;
                }
                else if (!_slots.Any(s => Idle(s)))
                {
                    break;
                }
                node = next;
            }
            bool backingOff = _openFailures > 0 && Stopwatch.GetTimestamp() < _noOpenUntilTicks && UsableCount() > 0;
            if (_kind.OpensOnDemand && !backingOff)
            {
                // Open workers for the batches no open worker will take soon: never more than are waiting.
                int opening = _slots.Count(s => s.Opening);
                int open = _slots.Count(s => !s.Retiring);
                while (_queue.Count > opening && open < _target && running + opening < _limit)
                {
                    NewSlot();
                    opening++;
                    open++;
                }
            }
            Monitor.PulseAll(_gate);
        }

        /// <summary>
        /// An idle usable worker in the place with the fewest busy workers. A batch whose worker was lost avoids the
        /// places it was lost in while another place has a usable worker (busy or not: a host going down loses its
        /// other workers within milliseconds). A batch the engine retries after a failure in the user's script
        /// (<see cref="BatchTask.Avoid"/>) prefers another place only while one has an idle worker: its place is as
        /// healthy as any, and an idle worker must not sit unused while it waits.
        /// </summary>
        private Slot PickSlot(PoolJob job)
        {
            bool hard = job.LostIn.Count > 0 && _slots.Any(s => Usable(s) && !job.LostIn.Contains(s.Worker.Place));
            bool soft = job.Prefers.Count > 0 && _slots.Any(s => Idle(s) && !job.Prefers.Contains(s.Worker.Place) && !(hard && job.LostIn.Contains(s.Worker.Place)));
            Slot best = null;
            int bestBusy = int.MaxValue;
            foreach (Slot slot in _slots)
            {
                if (!Idle(slot)) continue;
                if (hard && job.LostIn.Contains(slot.Worker.Place)) continue;
                if (soft && job.Prefers.Contains(slot.Worker.Place)) continue;
                string place = slot.Worker.Place;
                int busy = _slots.Count(s => s.Assigned != null && s.Worker != null && s.Worker.Place == place);
                if (busy < bestBusy)
                {
                    best = slot;
                    bestBusy = busy;
                }
            }
            return best;
        }

        private static bool Usable(Slot slot)
        {
            return !slot.Abandoned && !slot.Opening && !slot.Retiring && slot.Worker != null && slot.Worker.LostReason == null;
        }

        /// <summary>A usable worker that may take a batch now.</summary>
        private bool Idle(Slot slot)
        {
            return Usable(slot) && slot.Assigned == null && !slot.Settling && !_kind.IsStale(slot.Worker);
        }

        private int UsableCount() => _slots.Count(Usable);

        // A job that runs again goes before every batch submitted after it, so input order is kept.
        private void Enqueue(PoolJob job)
        {
            LinkedListNode<PoolJob> node = _queue.First;
            while (node != null && node.Value.Future.Task.BatchIndex < job.Future.Task.BatchIndex) node = node.Next;
            if (node == null) _queue.AddLast(job);
            else _queue.AddBefore(node, job);
        }

        private void TakeQueued(object owner, List<PoolJob> taken)
        {
            for (LinkedListNode<PoolJob> node = _queue.First; node != null;)
            {
                LinkedListNode<PoolJob> next = node.Next;
                if (owner == null || node.Value.Owner == owner)
                {
                    taken.Add(node.Value);
                    _queue.Remove(node);
                }
                node = next;
            }
            foreach (PoolJob job in _parked.Where(j => owner == null || j.Owner == owner).ToList())
            {
                job.Verdict?.Dispose();
                _parked.Remove(job);
                taken.Add(job);
            }
        }

        // A slot with an open worker, or one that opens its worker on its thread when given none.
        private Slot NewSlot(Worker worker = null)
        {
            var slot = new Slot(++_slotNumber) { Opening = worker == null, Worker = worker };
            _slots.Add(slot);
            var thread = new Thread(() => SlotLoop(slot)) { IsBackground = true, Name = $"JoblibPS {_kind.Name} worker {slot.Number}" };
            thread.Start();
            return slot;
        }

        // The pool lets go of the slot: its thread ends when it next looks, touching nothing.
        private void RemoveSlot(Slot slot)
        {
            slot.Abandoned = true;
            _slots.Remove(slot);
            Monitor.PulseAll(_gate);
        }

        private void CloseWorker(Worker worker, bool stuck)
        {
            if (worker == null || !worker.MarkClosed()) return;
            try { _kind.Close(worker, stuck); }
            catch (Exception) { }
        }

        private void DisposeIfDrained()
        {
            bool empty;
            lock (_gate) empty = _draining && !_disposed && _holders.Count == 0;
            if (empty) Dispose();
        }

        private static void RunAll(List<Action> actions)
        {
            foreach (Action action in actions) action();
        }

        private sealed class Slot
        {
            public Slot(int number) { Number = number; }

            public int Number { get; }

            /// <summary>The slot's worker; null while it opens or after it was replaced.</summary>
            public Worker Worker { get; set; }

            /// <summary>The worker a fresh one takes the place of (see <see cref="WorkerKind.Open"/>).</summary>
            public Worker Replacing { get; set; }

            /// <summary>The batch the slot runs or is about to run, or null when idle.</summary>
            public PoolJob Assigned { get; set; }

            public bool Opening { get; set; }

            /// <summary>True while the slot probes its worker after a batch that did not run to its end: it takes no work.</summary>
            public bool Settling { get; set; }

            /// <summary>True when the slot ends after its batch (the pool shrank).</summary>
            public bool Retiring { get; set; }

            /// <summary>True once the pool let go of the slot; its thread ends when it next looks, touching nothing.</summary>
            public bool Abandoned { get; set; }

            /// <summary>True while the slot's thread is still inside a batch the pool gave up on.</summary>
            public bool Stuck { get; set; }
        }
    }

    /// <summary>One queued or running batch, with the backend instance whose call submitted it.</summary>
    internal sealed class PoolJob
    {
        public PoolJob(BatchFuture future, object owner)
        {
            Future = future;
            Owner = owner;
        }

        public BatchFuture Future { get; }

        public object Owner { get; }

        /// <summary>When the batch was handed to a worker (UTC).</summary>
        public DateTime Started { get; set; } = DateTime.UtcNow;

        /// <summary>How many of its runs were lost.</summary>
        public int Attempts { get; set; }

        /// <summary>The places (see <see cref="Worker.Place"/>) it ran in and lost its worker, in order.</summary>
        public List<string> LostIn { get; } = new List<string>();

        /// <summary>The places the engine's earlier attempts of a retried item ran in (<see cref="BatchTask.Avoid"/>): avoided only while another place has an idle worker.</summary>
        public List<string> Prefers { get; } = new List<string>();

        /// <summary>Set by an abort: complete as stopped, never run again.</summary>
        public bool Aborted { get; set; }

        /// <summary>The timer that fails a batch lost too often, kept here so it is not collected before it fires.</summary>
        public Timer Verdict { get; set; }

        public void Complete(BatchResult result) => Future.Complete(result);

        public void CompleteStopped() => Future.Complete(BatchResult.ForStopped(Future.Task, Started));
    }
}
