using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// The remote backend's workers: one remote runspace per slot, several slots per host, each slot with a
    /// dedicated thread that runs the batches assigned to it. Built by <see cref="Open"/> (hosts and slots open in
    /// parallel), used by every call of one config scope, ended by <see cref="Dispose"/>. Every public member may
    /// be called from any thread.
    /// </summary>
    /// <remarks>
    /// Scheduling: batches wait in one queue; a batch goes to an idle slot of the host with the fewest busy slots
    /// (so work spreads over hosts), while fewer than <see cref="SetLimit">the call's number of jobs</see> run.
    /// Losing a host: a slot is lost when its runspace leaves the Opened state (Runspace.StateChanged: Broken or
    /// Closed; PowerShell reports a dead SSH connection within about 40 ms) or an invocation fails in the
    /// transport. Its batch goes back to the front of the queue for another host (at most
    /// <see cref="MaxAttempts"/> runs in all), so the engine only ever sees the one result each batch finally has
    /// and writes every item exactly once. The re-run starts only after the lost invocation returned, because a
    /// BatchTask may run once at a time. When no slot is left, every waiting batch fails with
    /// <see cref="ErrorIds.RemoteHostsLost"/>. Notices for the caller (hosts lost or unreachable) ride on the next
    /// completed batch (<see cref="RemoteRecords.WithNotices"/>).
    /// Ownership: runspaces the pool opened are closed by <see cref="Dispose"/>; sessions the user gave are only
    /// used: never closed, and their StateChanged handlers are removed again.
    /// </remarks>
    internal sealed class RemoteWorkerPool : IDisposable
    {
        /// <summary>The name of the runspaces the backend opens (Get-Runspace shows it).</summary>
        public const string RunspaceName = "JoblibPS remote worker";

        /// <summary>How many times a batch may run: once, and once more after its host was lost (the issue's rule).</summary>
        public const int MaxAttempts = 2;

        /// <summary>How long Abort waits for stopped remote pipelines to end, and Dispose for runspaces to close.</summary>
        private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(3);

        private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(5);

        /// <summary>
        /// How long a slot whose batch was stopped may take to answer a no-op before it counts as still busy: a round
        /// trip costs 11 to 16 ms (PLATFORM.md), so 2 s is only missed by a pipeline that really is still running.
        /// </summary>
        private static readonly TimeSpan SettleWait = TimeSpan.FromSeconds(2);

        /// <summary>
        /// How long an invocation that failed outside the user's script waits for its runspace to report Broken: the
        /// state follows the transport's error within about 40 ms (PLATFORM.md; 3 ms measured here), and a stopped
        /// batch (Ctrl+C) waits this long for nothing, so it is short.
        /// </summary>
        private static readonly TimeSpan BreakWait = TimeSpan.FromMilliseconds(500);

        /// <summary>How old an invocation must be before it is stopped: younger ones missed the stop about once in eight aborts.</summary>
        private static readonly TimeSpan MinAgeBeforeStop = TimeSpan.FromMilliseconds(300);

        /// <summary>
        /// How long a batch lost <see cref="MaxAttempts"/> times waits before it fails as lost too often, in case every
        /// host is going down: a killed sshd is noticed within about 40 ms (PLATFORM.md), a vanished network within
        /// ServerAliveInterval x ServerAliveCountMax (6 s) at worst; 2 s covers the first with room.
        /// </summary>
        private static readonly TimeSpan VerdictDelay = TimeSpan.FromSeconds(2);

        private static readonly object LiveGate = new object();
        private static readonly HashSet<RemoteWorkerPool> Live = new HashSet<RemoteWorkerPool>();

        private readonly object _gate = new object();
        private readonly RemoteBackendOptions _options;
        private readonly List<RemoteHost> _hosts;
        private readonly List<RemoteSlot> _slots;
        private readonly LinkedList<RemoteJob> _queue = new LinkedList<RemoteJob>();
        private readonly List<RemoteJob> _parked = new List<RemoteJob>();
        private readonly List<Notice> _notices = new List<Notice>();
        private int _limit = int.MaxValue;
        private bool _closed;

        private RemoteWorkerPool(RemoteBackendOptions options, List<RemoteHost> hosts)
        {
            _options = options;
            _hosts = hosts;
            _slots = hosts.SelectMany(h => h.Slots).ToList();
            lock (LiveGate) Live.Add(this);
            foreach (RemoteSlot slot in _slots)
            {
                RemoteSlot watched = slot;
                slot.StateHandler = (sender, e) => OnStateChanged(watched, sender as Runspace, e.RunspaceStateInfo);
                slot.Runspace.StateChanged += slot.StateHandler;
                slot.Thread = new Thread(() => SlotLoop(watched))
                {
                    IsBackground = true,
                    Name = $"JoblibPS remote {slot.Host.Name} slot {slot.Number}",
                };
                slot.Thread.Start();
            }
            // A runspace that broke before its handler was attached.
            foreach (RemoteSlot slot in _slots)
            {
                if (slot.Runspace.RunspaceStateInfo.State != RunspaceState.Opened) OnStateChanged(slot, slot.Runspace, slot.Runspace.RunspaceStateInfo);
            }
        }

        /// <summary>The number of slots still usable.</summary>
        public int LiveSlotCount
        {
            get { lock (_gate) return _slots.Count(s => !s.Lost); }
        }

        /// <summary>The hosts with at least one usable slot, with their number of usable slots, in the order given.</summary>
        public IReadOnlyList<KeyValuePair<string, int>> LiveHosts
        {
            get
            {
                lock (_gate)
                {
                    return _hosts.Where(h => h.Slots.Any(s => !s.Lost))
                        .Select(h => new KeyValuePair<string, int>(h.Name, h.Slots.Count(s => !s.Lost))).ToList();
                }
            }
        }

        /// <summary>
        /// Opens the workers of <paramref name="options"/> and blocks until every host is open or failed: for SSH
        /// hosts, one runspace per host first (all hosts in parallel), which also reads the host's processor count
        /// and home, then the host's other slots in parallel; for the user's sessions, a check that each is open,
        /// idle and runs scripts. <paramref name="unreachable"/> gets why each unusable host failed. Returns null when
        /// no host is usable (nothing is left open then). When <paramref name="stopping"/> is cancelled (Ctrl+C) it
        /// throws <see cref="PipelineStoppedException"/> at once; connections still opening close when they open.
        /// </summary>
        public static RemoteWorkerPool Open(RemoteBackendOptions options, CancellationToken stopping, out Dictionary<string, string> unreachable, out List<string> notes)
        {
            var failures = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var partial = new List<string>();
            List<RemoteHost> hosts = options.UsesSsh
                ? RemoteWorkerOpener.OpenSshHosts(options, failures, partial, stopping)
                : RemoteWorkerOpener.UseSessions(options, failures, stopping);
            if (stopping.IsCancellationRequested) throw new PipelineStoppedException();
            unreachable = failures;
            notes = partial;
            hosts = hosts.Where(h => h.Slots.Count > 0).ToList();
            return hosts.Count == 0 ? null : new RemoteWorkerPool(options, hosts);
        }

        /// <summary>Closes the workers of every pool (Remove-Module JoblibPS). Any thread.</summary>
        public static void CloseAll()
        {
            List<RemoteWorkerPool> pools;
            lock (LiveGate) pools = Live.ToList();
            foreach (RemoteWorkerPool pool in pools) pool.Dispose();
        }

        /// <summary>Sets how many batches may run at once (the effective number of jobs of the call being configured).</summary>
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

        /// <summary>Adds a notice (a warning or verbose record) for the caller, delivered with the next completed batch.</summary>
        public void AddNotice(PSObject notice)
        {
            lock (_gate) _notices.Add(new Notice(null, notice));
        }

        /// <summary>Queues a batch; its future completes from a slot thread (or at once when no host is left).</summary>
        public BatchFuture Submit(BatchTask task, Action<object> callback)
        {
            var future = new BatchFuture(task, callback);
            var after = new List<Action>();
            lock (_gate)
            {
                if (_closed)
                {
                    after.Add(() => future.Complete(BatchResult.ForStopped(task, DateTime.UtcNow)));
                }
                else
                {
                    Enqueue(new RemoteJob(future), atFront: false);
                    Schedule(after);
                }
            }
            RunAll(after);
            return future;
        }

        /// <summary>
        /// Drops the queued batches (they complete as stopped) and stops the running remote pipelines (they complete
        /// as stopped when their invocation returns); waits a few seconds at most for that. The runspaces stay open
        /// for the next call.
        /// </summary>
        public void Abort()
        {
            List<RemoteJob> dropped;
            List<RemoteJob> running;
            lock (_gate)
            {
                dropped = _queue.Concat(_parked).ToList();
                _queue.Clear();
                _parked.Clear();
                running = _slots.Where(s => s.Assigned != null).Select(s => s.Assigned).ToList();
                foreach (RemoteJob job in running) job.Aborted = true;
            }
            foreach (RemoteJob job in dropped) job.Future.Complete(BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow));
            StopAndWait(running);
        }

        /// <summary>
        /// Stops everything, closes the runspaces the pool opened (in parallel, a few seconds at most) and lets go of
        /// the user's sessions without closing them. Idempotent.
        /// </summary>
        public void Dispose()
        {
            List<RemoteJob> dropped;
            List<RemoteJob> running;
            lock (_gate)
            {
                if (_closed) return;
                _closed = true;
                dropped = _queue.Concat(_parked).ToList();
                _queue.Clear();
                _parked.Clear();
                running = _slots.Where(s => s.Assigned != null).Select(s => s.Assigned).ToList();
                foreach (RemoteJob job in running) job.Aborted = true;
                foreach (RemoteSlot slot in _slots) slot.Closing = true;
                Monitor.PulseAll(_gate);
            }
            lock (LiveGate) Live.Remove(this);
            foreach (RemoteJob job in dropped) job.Future.Complete(BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow));
            StopAndWait(running);
            foreach (RemoteSlot slot in _slots) slot.Runspace.StateChanged -= slot.StateHandler;
            RemoteWorkerOpener.RunParallel(_slots.Where(s => s.Owned).Select(s => (Action)(() => SshRunspaces.Close(s.Runspace, s.TransportWriter))).ToList(), CloseWait);
        }

        // ---- running -------------------------------------------------------------------------------------------

        /// <summary>A slot's thread: waits for an assigned batch, runs it in the slot's runspace, reports how it went.</summary>
        private void SlotLoop(RemoteSlot slot)
        {
            while (true)
            {
                RemoteJob job;
                lock (_gate)
                {
                    while (slot.Assigned == null && !slot.Lost && !_closed) Monitor.Wait(_gate);
                    job = slot.Assigned;
                    if (job == null) return;
                    job.Attempts++;
                    job.Hosts.Add(slot.Host.Name);
                }

                BatchTask task = job.Future.Task;
                BatchResult result = null;
                Exception thrown = null;
                if (!job.Aborted)
                {
                    // The caller's directory means nothing on another machine: the batch starts in the remote home or RemoteLocation.
                    task.WorkingDirectory = slot.Location;
                    try
                    {
                        result = task.InvokeIn(slot.Runspace);
                    }
                    catch (Exception ex)
                    {
                        thrown = ex;
                    }
                }
                string lost = LostReason(slot, job, result, thrown);
                if (lost == null && result != null) RemoteRecords.Tag(result, slot.Host.Name);
                // Anything but a finished batch or an error of the user's script may have been a stop: check the worker is free.
                bool settle = lost == null && result != null && result.Outcome != BatchOutcome.Completed
                    && (job.Aborted || !(result.Error?.Exception is RemoteException));
                Finish(slot, job, result, lost, settle);
                if (settle) Settle(slot);
            }
        }

        /// <summary>
        /// After a stopped batch: makes sure the remote pipeline really ended before the slot takes more work. A stop
        /// sent within milliseconds of the invocation can end the local invocation while the remote pipeline starts
        /// anyway and runs on (seen about once in eight aborts with pwsh 7.6.9 over SSH); the next batch would then
        /// wait for it. A no-op that does not come back within <see cref="SettleWait"/> means that happened: a runspace
        /// the backend opened is replaced by a fresh one (closing it ends the remote pwsh and what runs there); a
        /// user's session is waited for, as it cannot be replaced. The slot takes no work meanwhile.
        /// </summary>
        private void Settle(RemoteSlot slot)
        {
            Runspace runspace = slot.Runspace;
            string lostReason = null;
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = runspace;
                ps.AddScript("$null", useLocalScope: true);
                IAsyncResult probe = null;
                try { probe = ps.BeginInvoke(); }
                catch (Exception) { }
                bool settled = probe != null && probe.AsyncWaitHandle.WaitOne(SettleWait);
                if (!settled && probe != null)
                {
                    if (slot.Owned)
                    {
                        lostReason = Replace(slot);
                    }
                    else
                    {
                        while (!probe.AsyncWaitHandle.WaitOne(SettleWait))
                        {
                            lock (_gate) if (_closed || slot.Lost) break;
                        }
                    }
                }
                if (probe != null && probe.IsCompleted)
                {
                    try { ps.EndInvoke(probe); }
                    catch (Exception) { }
                }
            }
            var after = new List<Action>();
            lock (_gate)
            {
                slot.Settling = false;
                if (lostReason != null) MarkLost(slot, lostReason, after);
                Schedule(after);
            }
            RunAll(after);
        }

        /// <summary>Opens a fresh runspace for an owned slot and closes the old one; returns why the slot is lost when it cannot.</summary>
        private string Replace(RemoteSlot slot)
        {
            Runspace old = slot.Runspace;
            IDisposable oldWriter = slot.TransportWriter;
            Runspace fresh;
            IDisposable freshWriter;
            try
            {
                fresh = SshRunspaces.Open(_options, slot.Host.Name, out freshWriter);
            }
            catch (Exception ex)
            {
                return "its worker had to be replaced after a stop, and could not be: " + SshRunspaces.Flatten(ex).Message;
            }
            lock (_gate)
            {
                if (_closed)
                {
                    SshRunspaces.Close(fresh, freshWriter);
                    return null;
                }
                old.StateChanged -= slot.StateHandler;
                slot.Runspace = fresh;
                slot.TransportWriter = freshWriter;
                fresh.StateChanged += slot.StateHandler;
            }
            ThreadPool.QueueUserWorkItem(_ => SshRunspaces.Close(old, oldWriter));
            return fresh.RunspaceStateInfo.State == RunspaceState.Opened ? null : Describe(fresh.RunspaceStateInfo);
        }

        /// <summary>Why the slot's connection is gone after an invocation, or null when it is fine.</summary>
        /// <remarks>
        /// The invocation can end with the transport's error a moment before the runspace reports Broken. An error
        /// of the user's script comes back as a RemoteException; any other failure of a batch that was not stopped on
        /// purpose is the connection's, so the runspace gets <see cref="BreakWait"/> to say so (and why).
        /// </remarks>
        private static string LostReason(RemoteSlot slot, RemoteJob job, BatchResult result, Exception thrown)
        {
            RunspaceStateInfo state = slot.Runspace.RunspaceStateInfo;
            if (slot.Lost || state.State != RunspaceState.Opened) return slot.LostReason ?? Describe(state);
            Exception failure = thrown ?? (result != null && result.Outcome == BatchOutcome.Failed ? result.Error?.Exception : null);
            if (failure == null || failure is RemoteException || job.Aborted) return null;
            if (slot.LostSignal.Wait(BreakWait)) return slot.LostReason;
            state = slot.Runspace.RunspaceStateInfo;
            if (state.State != RunspaceState.Opened) return Describe(state);
            if (failure is System.Management.Automation.Remoting.PSRemotingTransportException || failure is InvalidRunspaceStateException)
            {
                return failure.Message;
            }
            return thrown == null ? null : "the invocation failed: " + thrown.Message;
        }

        private void Finish(RemoteSlot slot, RemoteJob job, BatchResult result, string lostReason, bool settle)
        {
            var after = new List<Action>();
            BatchFuture future = job.Future;
            BatchTask task = future.Task;
            List<PSObject> notices = null;
            lock (_gate)
            {
                slot.Assigned = null;
                slot.Settling = settle;
                if (slot.Lost && slot.Owned)
                {
                    // Lost while the invocation ran: now that it returned, the dead connection can go.
                    Runspace runspace = slot.Runspace;
                    IDisposable writer = slot.TransportWriter;
                    after.Add(() => ThreadPool.QueueUserWorkItem(_ => SshRunspaces.Close(runspace, writer)));
                }
                if (lostReason != null) MarkLost(slot, lostReason, after);
                if (job.Aborted || _closed)
                {
                    BatchResult stopped = result != null && lostReason == null ? result : BatchResult.ForStopped(task, DateTime.UtcNow);
                    after.Add(() => future.Complete(stopped));
                }
                else if (lostReason != null)
                {
                    if (!_slots.Any(s => !s.Lost))
                    {
                        after.Add(() => future.Complete(HostsLost(task)));
                    }
                    else if (job.Attempts >= MaxAttempts)
                    {
                        // Hosts going down one after the other (a network outage) must read as "every host lost", not
                        // as a batch that kills its workers: the verdict waits a moment for the other hosts' news.
                        job.LastLoss = lostReason;
                        _parked.Add(job);
                        after.Add(() => job.Verdict = new Timer(_ => FailParked(job), null, VerdictDelay, Timeout.InfiniteTimeSpan));
                    }
                    else
                    {
                        // Written with the re-run's output; the warning is left out if the whole host is lost by then (its own warning says it all).
                        string items = DescribeItems(task);
                        job.Notices.Add(new Notice(slot.Host, RemoteRecords.Warning(
                            $"Lost a worker on host '{slot.Host.Name}' while it ran {items}: {lostReason} They ran again on another worker."), coveredByHostLoss: true));
                        job.Notices.Add(new Notice(null, RemoteRecords.Verbose($"Ran {items} again: their worker on host '{slot.Host.Name}' was lost.")));
                        Enqueue(job, atFront: true);
                    }
                }
                else
                {
                    if (result.Outcome == BatchOutcome.Completed && (_notices.Count > 0 || job.Notices.Count > 0))
                    {
                        notices = TakeNotices(job);
                    }
                    BatchResult final = result;
                    after.Insert(0, () => future.Complete(notices == null ? final : RemoteRecords.WithNotices(final, notices)));
                }
                Schedule(after);
            }
            RunAll(after);
        }

        /// <summary>StateChanged of a slot's runspace (any thread): a runspace that leaves Opened on its own is a lost connection.</summary>
        private void OnStateChanged(RemoteSlot slot, Runspace runspace, RunspaceStateInfo info)
        {
            RunspaceState state = info.State;
            if (state != RunspaceState.Broken && state != RunspaceState.Closed && state != RunspaceState.Closing && state != RunspaceState.Disconnected) return;
            var after = new List<Action>();
            lock (_gate)
            {
                // A replaced runspace (see Replace) closing is no loss.
                if (_closed || slot.Closing || slot.Lost || runspace != slot.Runspace) return;
                MarkLost(slot, Describe(info), after);
                Schedule(after);
            }
            RunAll(after);
        }

        // Called with _gate held.
        private void MarkLost(RemoteSlot slot, string reason, List<Action> after)
        {
            if (slot.Lost) return;
            slot.Lost = true;
            slot.LostReason = reason;
            slot.LostSignal.Set();
            if (slot.Owned && slot.Assigned == null)
            {
                // Nothing runs there (or the invocation already returned): let the dead connection go now.
                Runspace runspace = slot.Runspace;
                IDisposable writer = slot.TransportWriter;
                after.Add(() => ThreadPool.QueueUserWorkItem(_ => SshRunspaces.Close(runspace, writer)));
            }
            RemoteHost host = slot.Host;
            if (!host.Lost && host.Slots.All(s => s.Lost))
            {
                host.Lost = true;
                host.LostReason = reason;
                _notices.Add(new Notice(host, RemoteRecords.Warning(
                    $"Lost host '{host.Name}': {reason} The batches it was running run again on the other hosts; it is left out for the rest of this config scope.")));
            }
            Monitor.PulseAll(_gate);
        }

        // Called with _gate held: the notices to deliver with a completed batch of <paramref name="job"/>: the pool's,
        // then the job's own. A lost worker's warning is dropped when its whole host was lost meanwhile (a killed sshd
        // ends its sessions one by one, milliseconds apart): one warning per host.
        private List<PSObject> TakeNotices(RemoteJob job)
        {
            List<PSObject> notices = _notices.Concat(job.Notices)
                .Where(n => !(n.CoveredByHostLoss && n.Host.Lost))
                .Select(n => n.Record)
                .ToList();
            _notices.Clear();
            job.Notices.Clear();
            return notices;
        }

        private static string DescribeItems(BatchTask task)
        {
            return task.Count == 1
                ? $"item {task.FirstItemIndex} of the call"
                : $"items {task.FirstItemIndex} to {task.FirstItemIndex + task.Count - 1} of the call";
        }

        // Called with _gate held: hands queued batches to idle slots while the limit allows; fails them all when no slot is left.
        private void Schedule(List<Action> after)
        {
            if (_closed) return;
            if ((_queue.Count > 0 || _parked.Count > 0) && !_slots.Any(s => !s.Lost))
            {
                foreach (RemoteJob job in _queue.Concat(_parked).ToList())
                {
                    RemoteJob failed = job;
                    after.Add(() => failed.Future.Complete(HostsLost(failed.Future.Task)));
                }
                _queue.Clear();
                _parked.Clear();
                return;
            }
            int running = _slots.Count(s => !s.Lost && s.Assigned != null);
            while (_queue.Count > 0 && running < _limit)
            {
                RemoteJob job = _queue.First.Value;
                RemoteSlot slot = PickSlot(job);
                if (slot == null) break;
                _queue.RemoveFirst();
                slot.Assigned = job;
                running++;
            }
            Monitor.PulseAll(_gate);
        }

        // Called with _gate held: an idle usable slot, then the least busy host. A batch lost on a host waits for a
        // slot on another host while one is still usable there: the host it was lost on may be dying slot by slot
        // (its other sessions not yet reported broken), and a second loss there would end the batch.
        private RemoteSlot PickSlot(RemoteJob job)
        {
            bool otherHostUsable = job.Hosts.Count > 0 && _slots.Any(s => !s.Lost && !job.Hosts.Contains(s.Host.Name));
            return _slots
                .Where(s => !s.Lost && s.Assigned == null && !s.Settling)
                .Where(s => !otherHostUsable || !job.Hosts.Contains(s.Host.Name))
                .OrderBy(s => s.Host.Slots.Count(o => !o.Lost && o.Assigned != null))
                .ThenBy(s => _hosts.IndexOf(s.Host))
                .ThenBy(s => s.Number)
                .FirstOrDefault();
        }

        // Called with _gate held: a re-run goes before every batch submitted after it, so input order is kept.
        private void Enqueue(RemoteJob job, bool atFront)
        {
            if (!atFront)
            {
                _queue.AddLast(job);
                return;
            }
            LinkedListNode<RemoteJob> node = _queue.First;
            while (node != null && node.Value.Future.Task.BatchIndex < job.Future.Task.BatchIndex) node = node.Next;
            if (node == null) _queue.AddLast(job);
            else _queue.AddBefore(node, job);
        }

        /// <summary>A batch lost too often whose verdict waited (<see cref="VerdictDelay"/>): hosts are left, so the batch is to blame.</summary>
        private void FailParked(RemoteJob job)
        {
            lock (_gate)
            {
                if (!_parked.Remove(job)) return;
            }
            job.Verdict?.Dispose();
            job.Future.Complete(job.Aborted ? BatchResult.ForStopped(job.Future.Task, DateTime.UtcNow) : LostTooOften(job, job.LastLoss));
        }

        private BatchResult HostsLost(BatchTask task)
        {
            Dictionary<string, string> reasons;
            lock (_gate) reasons = _hosts.ToDictionary(h => h.Name, h => h.LostReason ?? "lost", StringComparer.OrdinalIgnoreCase);
            var error = new RemoteHostsLostException(reasons, task.Count > 0 ? task.Items[0] : null);
            return BatchResult.ForWorkerCrash(task, 0, error.ErrorRecord, TimeSpan.Zero);
        }

        private static BatchResult LostTooOften(RemoteJob job, string reason)
        {
            BatchTask task = job.Future.Task;
            var exception = new InvalidOperationException(
                $"The batch of {DescribeItems(task)} lost its remote worker {job.Attempts} times " +
                $"(on {string.Join(", then ", job.Hosts.Select(h => "'" + h + "'"))}; last: {reason}), so they are not run again. " +
                "If an item ends its remote pwsh itself ([Environment]::Exit, a crash), fix the item; else check the hosts.");
            var record = new ErrorRecord(exception, ErrorIds.WorkerCrashed, ErrorCategory.ConnectionError, task.Count > 0 ? task.Items[0] : null);
            return BatchResult.ForWorkerCrash(task, 0, record, TimeSpan.Zero);
        }

        private static void StopAndWait(List<RemoteJob> running)
        {
            // A stop sent just after the invocation can miss the remote pipeline (see Settle): give fresh ones a moment.
            long youngest = running.Select(j => j.Future.Task.LastProgressTicks).DefaultIfEmpty(0).Max();
            if (youngest != 0)
            {
                TimeSpan age = DateTime.UtcNow - new DateTime(youngest, DateTimeKind.Utc);
                if (age < MinAgeBeforeStop) Thread.Sleep(MinAgeBeforeStop - age);
            }
            foreach (RemoteJob job in running) job.Future.Task.RequestStop();
            var clock = Stopwatch.StartNew();
            foreach (RemoteJob job in running)
            {
                TimeSpan left = StopWait - clock.Elapsed;
                if (left <= TimeSpan.Zero) break;
                try { job.Future.GetResult(left); }
                catch (TimeoutException) { }
            }
        }

        private static string Describe(RunspaceStateInfo info)
        {
            string reason = info.Reason?.Message;
            return string.IsNullOrEmpty(reason) ? $"its connection went {info.State}." : reason.TrimEnd() + (reason.TrimEnd().EndsWith(".", StringComparison.Ordinal) ? string.Empty : ".");
        }

        private static void RunAll(List<Action> actions)
        {
            foreach (Action action in actions) action();
        }
    }
}
