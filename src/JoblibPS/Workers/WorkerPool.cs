using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace JoblibPS.Workers
{
    /// <summary>
    /// The one worker core behind every built-in backend, as its backends see it: submit batches, size and limit the
    /// pool, abort a call's batches under one deadline, report a lost worker, and end the pool. What differs between
    /// runspaces of this process, pwsh worker processes and SSH hosts is the <see cref="WorkerKind"/>. Every public
    /// member may be called from any thread.
    /// </summary>
    /// <remarks>
    /// The core is in parts, each with one job, sharing <see cref="PoolState"/> under its one lock:
    /// <see cref="PoolScheduler"/> decides which batch goes where and when a worker opens; <see cref="SlotRunner"/>
    /// runs each slot's thread (open, run, probe, replace); <see cref="WorkerLoss"/> handles lost workers, failed
    /// opens and reruns; this class holds the members callers use and the pool's lifetime (abort, drain, dispose).
    /// </remarks>
    internal sealed class WorkerPool : IDisposable
    {
        /// <summary>How many times a batch may run when lost work runs again: once, and once more after its worker was lost.</summary>
        public const int MaxAttempts = 2;

        /// <summary>How long <see cref="Dispose"/> waits for workers probing after a stopped batch (a probe takes a round trip, milliseconds).</summary>
        private static readonly TimeSpan SettleWait = TimeSpan.FromSeconds(3);

        /// <summary>How long <see cref="Dispose"/> waits for workers to close (in parallel).</summary>
        private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(10);

        private readonly PoolState _state;
        private readonly PoolScheduler _scheduler;
        private readonly WorkerLoss _loss;
        private readonly SlotRunner _runner;

        /// <param name="kind">The kind of worker; the pool owns it for its life. The pool joins <see cref="LivePools"/> until it is disposed.</param>
        public WorkerPool(WorkerKind kind)
        {
            _state = new PoolState(kind);
            SlotRunner runner = null;
            _scheduler = new PoolScheduler(_state, () => runner.NewSlot());
            _loss = new WorkerLoss(_state, _scheduler);
            runner = new SlotRunner(_state, _scheduler, _loss);
            _runner = runner;
            LivePools.Add(this);
        }

        /// <summary>The kind of the pool's workers.</summary>
        public WorkerKind Kind => _state.Kind;

        /// <summary>How long an abort waits, in all, for the running batches to stop before it gives up on their workers: the kind's (<see cref="WorkerKind.StopGrace"/>).</summary>
        public TimeSpan StopGrace => _state.Kind.StopGrace;

        /// <summary>Replace a worker after it ran this many batches (loky's max_tasks_per_child); 0 for never.</summary>
        public int MaxTasksPerWorker
        {
            get { lock (_state.Gate) return _state.MaxTasksPerWorker; }
            set { lock (_state.Gate) _state.MaxTasksPerWorker = value; }
        }

        /// <summary>
        /// How long a batch lost <see cref="MaxAttempts"/> times waits before it fails as lost too often, in case every
        /// worker is going down (a network outage takes hosts one after the other, milliseconds apart): 2 s.
        /// </summary>
        internal TimeSpan VerdictDelay
        {
            get { lock (_state.Gate) return _state.VerdictDelay; }
            set { lock (_state.Gate) _state.VerdictDelay = value; }
        }

        /// <summary>
        /// How long the pool opens no worker on demand after an open failed while other workers were usable (a
        /// transient pwsh start failure): 1 s, doubled after each further failure up to 30 s.
        /// </summary>
        internal TimeSpan OpenBackoff
        {
            get { lock (_state.Gate) return _state.OpenBackoff; }
            set { lock (_state.Gate) _state.OpenBackoff = value; }
        }

        /// <summary>Called once at the end of <see cref="Dispose"/> (for the registry of live pools).</summary>
        public Action Closed { get; set; }

        /// <summary>True once disposed.</summary>
        public bool IsDisposed
        {
            get { lock (_state.Gate) return _state.Disposed; }
        }

        /// <summary>The workers open and usable now.</summary>
        public IReadOnlyList<Worker> Workers
        {
            get { lock (_state.Gate) return _state.Slots.Where(s => s.Worker != null && !s.Opening && s.Worker.LostReason == null).Select(s => s.Worker).ToList(); }
        }

        /// <summary>The slots the pool holds (opening, working or idle), for tests that wait for the pool to let one go.</summary>
        internal int SlotCount
        {
            get { lock (_state.Gate) return _state.Slots.Count; }
        }

        /// <summary>The threads given up on because their worker would not stop (an item stuck in a .NET call) and still running.</summary>
        public int StuckThreads => Volatile.Read(ref _state.StuckThreads);

        /// <summary>Keeps at most <paramref name="target"/> workers; surplus ones end (an idle one at once, a busy one after its batch).</summary>
        public void Resize(int target)
        {
            Change(() =>
            {
                ThrowIfDisposed();
                _state.Target = Math.Max(0, target);
                int surplus = _state.Slots.Count(s => !s.Retiring) - _state.Target;
                foreach (Slot slot in _state.Slots.Where(s => !s.Retiring).OrderBy(s => s.Assigned == null ? 0 : 1).Take(Math.Max(0, surplus)))
                {
                    slot.Retiring = true;
                }
            });
        }

        /// <summary>Sets how many batches may run at once.</summary>
        public void SetLimit(int limit)
        {
            Change(() => _state.Limit = Math.Max(1, limit));
        }

        /// <summary>Sets how long an idle worker waits for work before it ends; null to wait forever.</summary>
        public void SetIdleTimeout(TimeSpan? idleTimeout)
        {
            lock (_state.Gate)
            {
                _state.IdleTimeout = idleTimeout;
                Monitor.PulseAll(_state.Gate);
            }
        }

        /// <summary>Takes in a worker the kind opened itself (remote hosts, opened in parallel up front).</summary>
        public void Adopt(Worker worker)
        {
            Change(() =>
            {
                ThrowIfDisposed();
                _runner.NewSlot(worker);
                _state.Target = Math.Max(_state.Target, _state.Slots.Count(s => !s.Retiring));
            });
        }

        /// <summary>Opens workers up to the target now rather than on demand, for calls that must not count start-up against an item's timeout.</summary>
        public void Prestart()
        {
            lock (_state.Gate)
            {
                if (_state.Disposed || !_state.Kind.OpensOnDemand) return;
                while (_state.Slots.Count(s => !s.Retiring) < _state.Target) _runner.NewSlot();
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
            using (stopping.Register(() => { lock (_state.Gate) Monitor.PulseAll(_state.Gate); }))
            {
                lock (_state.Gate)
                {
                    while (!_state.Disposed && _state.Slots.Any(s => s.Opening))
                    {
                        TimeSpan left = timeout - clock.Elapsed;
                        if (left <= TimeSpan.Zero || stopping.IsCancellationRequested) return false;
                        Monitor.Wait(_state.Gate, left);
                    }
                    return true;
                }
            }
        }

        /// <summary>Queues a batch of <paramref name="owner"/> (the backend instance whose call submitted it); its future completes from a slot thread.</summary>
        public BatchFuture Submit(BatchTask task, Action<object> callback, object owner)
        {
            var future = new BatchFuture(task, callback);
            Change(() =>
            {
                ThrowIfDisposed();
                var job = new PoolJob(future, owner);
                if (task.Avoid != null) job.Prefers.AddRange(task.Avoid);
                _state.Queue.AddLast(job);
            });
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
            List<(Slot Slot, PoolJob Job)> running;
            lock (_state.Gate)
            {
                _scheduler.TakeQueued(owner, dropped);
                running = MarkRunningAborted(owner);
            }
            foreach (PoolJob job in dropped) job.CompleteStopped();
            return StopAndAbandon(running);
        }

        /// <summary>
        /// Reports that <paramref name="worker"/> is gone (its process exited, its connection broke). Any thread. A batch
        /// it ran fails at once with the kind's result, or runs again elsewhere once its invocation returned.
        /// </summary>
        public void Lost(Worker worker, string reason) => _loss.Lost(worker, reason);

        /// <summary>Records that <paramref name="holder"/> (a backend instance) uses the pool until it calls <see cref="Release"/>.</summary>
        public void Hold(object holder)
        {
            lock (_state.Gate) _state.Holders.Add(holder);
        }

        /// <summary>Ends <paramref name="holder"/>'s use; a drained pool that nobody holds any more is disposed.</summary>
        public void Release(object holder)
        {
            lock (_state.Gate) _state.Holders.Remove(holder);
            DisposeIfDrained();
        }

        /// <summary>Retires the pool: the instances that hold it keep using it, and it is disposed when the last one lets go.</summary>
        public void Drain()
        {
            lock (_state.Gate)
            {
                if (_state.Disposed) return;
                _state.Draining = true;
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
            List<(Slot Slot, PoolJob Job)> running;
            lock (_state.Gate)
            {
                if (_state.Disposed) return;
                _state.Disposed = true;
                _scheduler.TakeQueued(null, dropped);
                running = MarkRunningAborted(null);
                Monitor.PulseAll(_state.Gate);
            }
            foreach (PoolJob job in dropped) job.CompleteStopped();
            StopAndAbandon(running);
            List<(Worker Worker, bool Busy)> closing = LetGoOfSlots();
            Task[] ending = closing.Select(c => Task.Run(() => _state.CloseWorker(c.Worker, c.Busy))).ToArray();
            Task.WaitAll(ending, CloseWait);
            LivePools.Remove(this);
            Closed?.Invoke();
        }

        /// <summary>Dispose: lets go of every slot, returning the workers to close and whether each is busy.</summary>
        private List<(Worker Worker, bool Busy)> LetGoOfSlots()
        {
            var closing = new List<(Worker Worker, bool Busy)>();
            lock (_state.Gate)
            {
                // A worker still proving itself after a stopped batch answers within its probe's bound: closed
                // while idle it ends cleanly, where closing it busy would kill it and leave its runspace to time out.
                var settling = Stopwatch.StartNew();
                while (_state.Slots.Any(s => s.Settling) && settling.Elapsed < SettleWait)
                {
                    Monitor.Wait(_state.Gate, SettleWait - settling.Elapsed);
                }
                foreach (Slot slot in _state.Slots.ToList())
                {
                    if (slot.Worker != null) closing.Add((slot.Worker, slot.Assigned != null || slot.Settling));
                    _state.RemoveSlot(slot);
                }
                Monitor.PulseAll(_state.Gate);
            }
            return closing;
        }

        /// <summary>The running batches of <paramref name="owner"/> (null: all), marked so they complete as stopped. Lock held.</summary>
        private List<(Slot Slot, PoolJob Job)> MarkRunningAborted(object owner)
        {
            var running = new List<(Slot Slot, PoolJob Job)>();
            foreach (Slot slot in _state.Slots.Where(s => s.Assigned != null && (owner == null || s.Assigned.Owner == owner)))
            {
                slot.Assigned.Aborted = true;
                running.Add((slot, slot.Assigned));
            }
            return running;
        }

        /// <summary>Asks the running batches to stop, waits for them up to one deadline, and gives up on the workers of those still running (returns how many).</summary>
        private int StopAndAbandon(List<(Slot Slot, PoolJob Job)> running)
        {
            if (running.Count == 0) return 0;
            TimeSpan minAge = _state.Kind.MinRunBeforeStop;
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
            lock (_state.Gate)
            {
                foreach (var (slot, job) in running)
                {
                    if (slot.Assigned != job || slot.Abandoned) continue;
                    Worker worker = slot.Worker;
                    abandoned++;
                    slot.Stuck = true;
                    Interlocked.Increment(ref _state.StuckThreads);
                    _state.RemoveSlot(slot);
                    after.Add(() => job.CompleteStopped());
                    if (worker != null) after.Add(() => _state.CloseWorker(worker, stuck: true));
                }
                _scheduler.Schedule(after);
            }
            PoolState.RunAll(after);
            return abandoned;
        }

        /// <summary>Runs <paramref name="change"/> under the lock, then schedules, then runs what scheduling collected outside the lock.</summary>
        private void Change(Action change)
        {
            var after = new List<Action>();
            lock (_state.Gate)
            {
                change();
                _scheduler.Schedule(after);
            }
            PoolState.RunAll(after);
        }

        private void ThrowIfDisposed()
        {
            if (_state.Disposed) throw new ObjectDisposedException(nameof(WorkerPool), "The worker pool was shut down.");
        }

        private void DisposeIfDrained()
        {
            bool empty;
            lock (_state.Gate) empty = _state.Draining && !_state.Disposed && _state.Holders.Count == 0;
            if (empty) Dispose();
        }
    }
}
