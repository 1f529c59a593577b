using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// A pool of pwsh worker processes. Each worker has a slot: a dedicated thread that starts the worker, takes
    /// queued batches one at a time, runs them in the worker's out-of-process runspace and completes their
    /// futures. Slots start their workers in parallel. Every public member may be called from any thread.
    /// </summary>
    /// <remarks>
    /// Crashes: the pool watches each worker's process (Process.Exited, about 30 ms after a death) instead of
    /// waiting for the runspace, which notices only after about 60 s. A worker that dies while running a batch
    /// fails that batch at once with <see cref="ErrorIds.WorkerCrashed"/>; its slot is abandoned (its thread stays
    /// blocked until the runspace gives up, then ends) and a new slot with a fresh worker takes its place.
    /// Lifetime: loky's pool lives in the module (<see cref="ProcessPools"/>) and outlives calls; multiprocessing
    /// makes one pool per call. <see cref="Dispose"/> kills every worker and waits for the processes to end.
    /// </remarks>
    internal sealed class PwshWorkerPool : IDisposable
    {
        private readonly object _gate = new object();
        private readonly LinkedList<PoolJob> _queue = new LinkedList<PoolJob>();
        private readonly List<Slot> _slots = new List<Slot>();
        private readonly string _name;
        private IDictionary<string, string> _environment = new Dictionary<string, string>();
        private TimeSpan? _idleTimeout;
        private int _target;
        private int _slotNumber;
        private bool _disposed;
        private bool _draining;
        private readonly HashSet<object> _holders = new HashSet<object>();

        /// <param name="name">The backend's name, for thread names and messages.</param>
        /// <param name="options">Fixed for the pool's life.</param>
        /// <param name="idleTimeout">How long a worker waits for work before it exits; null to wait forever.</param>
        public PwshWorkerPool(string name, ProcessBackendOptions options, TimeSpan? idleTimeout)
        {
            _name = name;
            Options = options;
            _idleTimeout = idleTimeout;
            ProcessPools.Add(this);
        }

        public ProcessBackendOptions Options { get; }

        /// <summary>Raised (from a pool thread) after a worker process ended, whatever the reason; for tests and diagnostics.</summary>
        public event EventHandler WorkerExited;

        /// <summary>The number of workers the pool keeps.</summary>
        public int TargetSize
        {
            get { lock (_gate) return _target; }
        }

        /// <summary>True once disposed.</summary>
        public bool IsDisposed
        {
            get { lock (_gate) return _disposed; }
        }

        /// <summary>The process ids of the workers running now (started and not yet ended).</summary>
        public IReadOnlyList<int> WorkerProcessIds
        {
            get
            {
                lock (_gate)
                {
                    return _slots.Where(s => s.Worker != null && s.Started).Select(s => s.Worker.ProcessId).ToList();
                }
            }
        }

        /// <summary>Sets the idle timeout for later waits (loky: the latest call's backend argument wins).</summary>
        public void SetIdleTimeout(TimeSpan? idleTimeout)
        {
            lock (_gate)
            {
                _idleTimeout = idleTimeout;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>
        /// Keeps <paramref name="size"/> workers, started with <paramref name="environment"/> on top of the
        /// caller's environment. Missing workers start now, in parallel; surplus ones exit (an idle one at once, a
        /// busy one after its batch); workers started with another environment are replaced as they become idle.
        /// </summary>
        public void Resize(int size, IDictionary<string, string> environment)
        {
            lock (_gate)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(PwshWorkerPool));
                _target = size;
                if (!SameEnvironment(_environment, environment))
                {
                    _environment = new Dictionary<string, string>(environment, StringComparer.Ordinal);
                    foreach (Slot slot in _slots) slot.Stale = true;
                }
                int surplus = _slots.Count(s => !s.Retiring) - size;
                foreach (Slot slot in _slots.Where(s => !s.Retiring).OrderBy(s => s.Current == null ? 0 : 1).Take(Math.Max(0, surplus)))
                {
                    slot.Retiring = true;
                }
                EnsureSlots();
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>
        /// Waits until the pool's workers are started (or one failed to start, or <paramref name="timeout"/> passed).
        /// Returns false on timeout.
        /// </summary>
        public bool WaitReady(TimeSpan timeout)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            lock (_gate)
            {
                while (!_disposed && _slots.Count(s => s.Started && !s.Retiring) < _target && _slots.Count(s => !s.Retiring) >= _target)
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) return false;
                    Monitor.Wait(_gate, left);
                }
                return true;
            }
        }

        /// <summary>Queues a batch of <paramref name="owner"/> (the backend instance whose call submitted it).</summary>
        public void Enqueue(BatchFuture future, object owner)
        {
            lock (_gate)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(PwshWorkerPool), "The worker pool was shut down.");
                _queue.AddLast(new PoolJob(future, owner));
                EnsureSlots();
                Monitor.Pulse(_gate);
            }
        }

        /// <summary>
        /// How long an abort waits for running pipelines to stop before it kills their workers. A PowerShell pipeline
        /// stops in about 50 ms (measured on this 2-core machine); one inside a native call or a
        /// long <c>finally</c> does not, and its worker is killed.
        /// </summary>
        public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(1);

        /// <summary>
        /// Aborts the batches of <paramref name="owner"/>, returning within about <see cref="StopGrace"/>: queued
        /// ones complete as stopped; running ones are stopped, and the workers that do not stop in time are killed
        /// and replaced by fresh ones, so the pool is whole again. A worker whose pipeline stopped stays warm.
        /// </summary>
        public void Abort(object owner)
        {
            var dropped = new List<PoolJob>();
            var running = new List<(Slot Slot, PoolJob Job)>();
            lock (_gate)
            {
                for (LinkedListNode<PoolJob> node = _queue.First; node != null;)
                {
                    LinkedListNode<PoolJob> next = node.Next;
                    if (node.Value.Owner == owner)
                    {
                        dropped.Add(node.Value);
                        _queue.Remove(node);
                    }
                    node = next;
                }
                running.AddRange(_slots.Where(s => s.Current != null && s.Current.Owner == owner).Select(s => (s, s.Current)));
            }
            foreach (PoolJob job in dropped) job.Future.Complete(BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow));
            if (running.Count == 0) return;

            foreach (var (_, job) in running) job.Future.Task.RequestStop();
            DateTime deadline = DateTime.UtcNow + StopGrace;
            foreach (var (_, job) in running)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                try { job.Future.GetResult(left > TimeSpan.Zero ? left : TimeSpan.Zero); }
                catch (TimeoutException) { }
            }

            var killed = new List<(PwshWorker Worker, PoolJob Job)>();
            lock (_gate)
            {
                foreach (var (slot, job) in running)
                {
                    if (slot.Current != job) continue;
                    killed.Add((slot.Worker, job));
                    Abandon(slot);
                }
                if (killed.Count > 0 && !_disposed) EnsureSlots();
                Monitor.PulseAll(_gate);
            }
            foreach (var (worker, job) in killed)
            {
                job.Future.Complete(BatchResult.ForStopped(job.Future.Task, job.Started));
                worker?.Dispose(busy: true);
            }
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

        /// <summary>
        /// Retires the pool (loky's pool was replaced by one with other settings): the backend instances that hold it
        /// keep using it (a call or scope under way is not disturbed), and it is disposed when the last one lets go.
        /// </summary>
        public void Drain()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _draining = true;
            }
            DisposeIfDrained();
        }

        /// <summary>Kills every worker, completes every batch still queued or running as stopped, and waits (a few seconds at most) for the processes to end.</summary>
        public void Dispose()
        {
            var dropped = new List<PoolJob>();
            var killed = new List<(PwshWorker Worker, PoolJob Job)>();
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                dropped.AddRange(_queue);
                _queue.Clear();
                foreach (Slot slot in _slots.ToList())
                {
                    killed.Add((slot.Worker, slot.Current));
                    Abandon(slot);
                }
                Monitor.PulseAll(_gate);
            }
            ProcessPools.Remove(this);
            foreach (PoolJob job in dropped) job.Future.Complete(BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow));
            foreach (var (_, job) in killed) job?.Future.Complete(BatchResult.ForStopped(job.Future.Task, job.Started));
            // In parallel: closing each runspace costs a round trip to its process.
            var ending = killed.Where(k => k.Worker != null).Select(k => System.Threading.Tasks.Task.Run(() =>
            {
                k.Worker.Dispose(busy: k.Job != null);
                try { k.Worker.Process.WaitForExit(3000); } catch (Exception) { }
            })).ToArray();
            System.Threading.Tasks.Task.WaitAll(ending, TimeSpan.FromSeconds(10));
        }

        // Called with _gate held: starts slots until the target is met.
        private void EnsureSlots()
        {
            if (_disposed) return;
            while (_slots.Count(s => !s.Retiring) < _target)
            {
                var slot = new Slot(++_slotNumber);
                _slots.Add(slot);
                var thread = new Thread(() => SlotLoop(slot)) { IsBackground = true, Name = $"JoblibPS {_name} worker {slot.Number}" };
                thread.Start();
            }
        }

        // Called with _gate held: the slot no longer belongs to the pool; its thread ends when it next looks.
        private void Abandon(Slot slot)
        {
            slot.Abandoned = true;
            slot.Current = null;
            _slots.Remove(slot);
        }

        private void SlotLoop(Slot slot)
        {
            while (true)
            {
                if (!EnsureWorker(slot)) return;
                PoolJob job = TakeJob(slot, out bool exit);
                if (exit)
                {
                    slot.Worker?.Dispose();
                    return;
                }
                if (job == null) continue;

                BatchResult result;
                bool broken = false;
                try
                {
                    slot.Worker.Progress.Reset();
                    result = TransportFailure.Diagnose(_name, job.Future.Task, job.Future.Task.InvokeIn(slot.Worker.Runspace));
                }
                catch (Exception ex)
                {
                    broken = true;
                    result = BatchResult.FromDriverOutput(job.Future.Task, null, ex, false, false, DateTime.UtcNow - job.Started);
                }
                bool abandoned;
                lock (_gate)
                {
                    abandoned = slot.Abandoned;
                    if (!abandoned) slot.Current = null;
                }
                if (abandoned)
                {
                    // The worker crashed or was killed by an abort, and the batch was completed then: nothing to do.
                    return;
                }
                slot.Tasks++;
                bool recycle = broken
                    || slot.Worker.Runspace.RunspaceStateInfo.State != RunspaceState.Opened
                    || (Options.MaxTasksPerWorker > 0 && slot.Tasks >= Options.MaxTasksPerWorker);
                if (recycle)
                {
                    // loky's max_tasks_per_child: a fresh worker replaces this one before the slot takes more work.
                    PwshWorker old;
                    lock (_gate)
                    {
                        old = slot.Worker;
                        slot.Worker = null;
                        slot.Started = false;
                        slot.Tasks = 0;
                    }
                    job.Future.Complete(result);
                    old.Dispose();
                    continue;
                }
                job.Future.Complete(result);
            }
        }

        /// <summary>Starts the slot's worker if it has none; false when the slot must end (abandoned, or the worker could not start).</summary>
        private bool EnsureWorker(Slot slot)
        {
            if (slot.Worker != null) return true;
            IDictionary<string, string> environment;
            lock (_gate)
            {
                if (slot.Abandoned || _disposed) return false;
                environment = _environment;
                slot.Stale = false;
            }
            PwshWorker worker = null;
            try
            {
                worker = PwshWorker.Create(Options.PwshPath, environment, OnWorkerExited);
                lock (_gate)
                {
                    if (slot.Abandoned || _disposed)
                    {
                        worker.Dispose();
                        return false;
                    }
                    slot.Worker = worker;
                }
                worker.Start();
                lock (_gate)
                {
                    if (slot.Abandoned)
                    {
                        worker.Dispose();
                        return false;
                    }
                    slot.Started = true;
                    Monitor.PulseAll(_gate);
                }
                return true;
            }
            catch (Exception ex)
            {
                worker?.Dispose();
                FailStart(slot, ex);
                return false;
            }
        }

        /// <summary>A worker could not start: the slot ends and the batches queued now fail with the reason (a bad PwshPath must not hang the call).</summary>
        private void FailStart(Slot slot, Exception ex)
        {
            List<PoolJob> failed;
            lock (_gate)
            {
                bool wasAbandoned = slot.Abandoned;
                Abandon(slot);
                if (wasAbandoned || _disposed) return;
                failed = _queue.ToList();
                _queue.Clear();
                Monitor.PulseAll(_gate);
            }
            var error = new WorkerStartException(_name, Options.PwshPath, ex);
            foreach (PoolJob job in failed)
            {
                job.Future.Complete(BatchResult.FromDriverOutput(job.Future.Task, null, error, false, false, TimeSpan.Zero));
            }
        }

        /// <summary>Waits for a batch; null with <paramref name="exit"/> false when the worker must be replaced first.</summary>
        private PoolJob TakeJob(Slot slot, out bool exit)
        {
            exit = false;
            lock (_gate)
            {
                DateTime idleSince = DateTime.UtcNow;
                while (true)
                {
                    if (slot.Abandoned || _disposed)
                    {
                        exit = true;
                        return null;
                    }
                    if (slot.Retiring)
                    {
                        _slots.Remove(slot);
                        slot.Abandoned = true;
                        exit = true;
                        return null;
                    }
                    if (slot.Stale)
                    {
                        // Started with an older environment (NJobs changed the thread limits): replace it while idle.
                        PwshWorker old = slot.Worker;
                        slot.Worker = null;
                        slot.Started = false;
                        slot.Tasks = 0;
                        ThreadPool.QueueUserWorkItem(_ => old.Dispose());
                        return null;
                    }
                    if (_queue.Count > 0)
                    {
                        PoolJob job = _queue.First.Value;
                        _queue.RemoveFirst();
                        job.Started = DateTime.UtcNow;
                        slot.Current = job;
                        return job;
                    }
                    if (_idleTimeout.HasValue)
                    {
                        TimeSpan left = _idleTimeout.Value - (DateTime.UtcNow - idleSince);
                        if (left <= TimeSpan.Zero)
                        {
                            // loky: an idle worker exits after the idle timeout; the pool starts one again when work comes.
                            _slots.Remove(slot);
                            slot.Abandoned = true;
                            exit = true;
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

        /// <summary>Process.Exited of any worker (a thread-pool thread).</summary>
        private void OnWorkerExited(PwshWorker worker)
        {
            PoolJob job = null;
            bool crashed = false;
            lock (_gate)
            {
                Slot slot = _slots.FirstOrDefault(s => s.Worker == worker);
                if (slot != null && slot.Started && !worker.KilledOnPurpose)
                {
                    crashed = true;
                    job = slot.Current;
                    Abandon(slot);
                    EnsureSlots();
                    Monitor.PulseAll(_gate);
                }
            }
            if (crashed)
            {
                job?.Future.Complete(WorkerCrash.Result(_name, job.Future.Task, worker, job.Started, (int)Math.Min(int.MaxValue, worker.Progress.Started) - 1));
                worker.Dispose();
            }
            WorkerExited?.Invoke(this, EventArgs.Empty);
        }

        private void DisposeIfDrained()
        {
            bool empty;
            lock (_gate) empty = _draining && !_disposed && _holders.Count == 0;
            if (empty) Dispose();
        }

        private static bool SameEnvironment(IDictionary<string, string> a, IDictionary<string, string> b)
        {
            return a.Count == b.Count && a.All(e => b.TryGetValue(e.Key, out string v) && v == e.Value);
        }

        private sealed class Slot
        {
            public Slot(int number) { Number = number; }
            public int Number { get; }
            public PwshWorker Worker { get; set; }
            public bool Started { get; set; }
            public PoolJob Current { get; set; }
            public int Tasks { get; set; }
            public bool Retiring { get; set; }
            public bool Stale { get; set; }
            public bool Abandoned { get; set; }
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
        public DateTime Started { get; set; } = DateTime.UtcNow;
    }
}
