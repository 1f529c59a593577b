using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// Workers that are remote runspaces, several per host (<see cref="RemoteWorker"/>): opened all at once by
    /// <see cref="OpenPool"/> (hosts and slots in parallel), used by every call of one config scope, closed when the
    /// pool is disposed. The shared <see cref="WorkerPool"/> spreads batches over hosts (a worker's place is its
    /// host) and runs a lost worker's batch again on another host.
    /// </summary>
    /// <remarks>
    /// Losing a host: a worker is lost when its runspace leaves the Opened state (Runspace.StateChanged: Broken or
    /// Closed; PowerShell reports a dead SSH connection within about 40 ms) or an invocation fails in the
    /// transport. When every worker of a host is lost, the host is, with one warning. Notices for the caller (hosts
    /// lost or unreachable, batches run again) ride on the next completed batch (<see cref="RemoteRecords.WithNotices"/>).
    /// Ownership: runspaces the backend opened are closed with the pool; sessions the user gave are only used:
    /// never closed, and their StateChanged handlers are removed again.
    /// </remarks>
    internal sealed class RemoteWorkerKind : WorkerKind
    {
        /// <summary>The name of the runspaces the backend opens (Get-Runspace shows it).</summary>
        public const string RunspaceName = "JoblibPS remote worker";


        /// <summary>
        /// How long a worker whose batch was stopped may take to answer a no-op before it counts as still busy: a round
        /// trip costs 11 to 16 ms over SSH on loopback, so 2 s is only missed by a pipeline that really is still running.
        /// </summary>
        private static readonly TimeSpan SettleWait = TimeSpan.FromSeconds(2);

        /// <summary>
        /// How long an invocation that failed outside the user's script waits for its runspace to report Broken: the
        /// state follows the transport's error within about 40 ms, and a stopped batch (Ctrl+C) waits this long for
        /// nothing, so it is short.
        /// </summary>
        private static readonly TimeSpan BreakWait = TimeSpan.FromMilliseconds(500);


        private readonly object _gate = new object();
        private readonly RemoteBackendOptions _options;
        private readonly List<RemoteHost> _hosts;
        private readonly List<Notice> _notices = new List<Notice>();
        /// <summary>
        /// Notices of batches run again, written with their batch when it completes. Weak: a rerun that ends failed,
        /// stopped or lost again never completes here, and its notices must not pin the batch (and its items) for the
        /// scope's life.
        /// </summary>
        private readonly ConditionalWeakTable<BatchTask, List<Notice>> _taskNotices = new ConditionalWeakTable<BatchTask, List<Notice>>();
        private WorkerPool _pool;

        private RemoteWorkerKind(RemoteBackendOptions options, List<RemoteHost> hosts)
        {
            _options = options;
            _hosts = hosts;
        }

        public override string Name => "remote";

        public override bool OpensOnDemand => false;

        public override bool RerunsLostWork => true;

        /// <summary>How long an abort waits for stopped remote pipelines to end: 3 s (a round trip costs 11 to 16 ms over SSH on loopback; a stop crosses the network twice).</summary>
        public override TimeSpan StopGrace => TimeSpan.FromSeconds(3);

        /// <summary>A stop sent within milliseconds of the invocation can end the local side while the remote pipeline starts anyway and runs on (about once in eight aborts with pwsh 7.6.9 over SSH).</summary>
        public override TimeSpan MinRunBeforeStop => TimeSpan.FromMilliseconds(300);

        /// <summary>
        /// Opens the workers of <paramref name="options"/> and blocks until every host is open or failed: for SSH
        /// hosts, one runspace per host first (all hosts in parallel), which also reads the host's processor count
        /// and home, then the host's other slots in parallel; for the user's sessions, a check that each is open,
        /// idle and runs scripts. <paramref name="unreachable"/> gets why each unusable host failed. Returns null when
        /// no host is usable (nothing is left open then). When <paramref name="stopping"/> is cancelled (Ctrl+C) it
        /// throws <see cref="PipelineStoppedException"/> at once; connections still opening close when they open.
        /// </summary>
        public static WorkerPool OpenPool(RemoteBackendOptions options, CancellationToken stopping, out RemoteWorkerKind kind, out Dictionary<string, string> unreachable, out List<string> notes)
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
            kind = null;
            if (hosts.Count == 0) return null;
            kind = new RemoteWorkerKind(options, hosts);
            var pool = new WorkerPool(kind);
            kind._pool = pool;
            foreach (RemoteWorker worker in hosts.SelectMany(h => h.Slots))
            {
                kind.Watch(worker);
                pool.Adopt(worker);
            }
            // A runspace that broke before its handler was attached.
            foreach (RemoteWorker worker in hosts.SelectMany(h => h.Slots))
            {
                RunspaceStateInfo state = worker.Runspace.RunspaceStateInfo;
                if (state.State != RunspaceState.Opened) pool.Lost(worker, Describe(state));
            }
            return pool;
        }

        /// <summary>The hosts with at least one usable worker, with their number of usable workers, in the order given.</summary>
        public IReadOnlyList<KeyValuePair<string, int>> LiveHosts
        {
            get
            {
                lock (_gate)
                {
                    return _hosts.Where(h => h.Slots.Any(s => s.LostReason == null))
                        .Select(h => new KeyValuePair<string, int>(h.Name, h.Slots.Count(s => s.LostReason == null))).ToList();
                }
            }
        }

        /// <summary>
        /// Adds a notice about how the scope's hosts opened (a warning or verbose record) for the caller, delivered with
        /// the next completed batch. It goes after the other opening notices but before any notice of a loss: a host
        /// lost while the pool was being set up must not be reported before the note that says how it opened.
        /// </summary>
        public void AddNotice(PSObject notice)
        {
            lock (_gate) _notices.Insert(Math.Min(_openingNotices++, _notices.Count), new Notice(null, notice));
        }

        private int _openingNotices;

        /// <summary>Only a worker that could not answer after a stop is replaced: by a fresh runspace on the same host (closing the old one ends the remote pwsh and what runs there).</summary>
        public override Worker Open(Worker replacing)
        {
            var old = (RemoteWorker)replacing;
            if (old == null || !old.Owned) return null;
            Runspace fresh;
            IDisposable writer;
            try
            {
                fresh = SshRunspaces.Open(_options, old.Host.Name, out writer);
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException("its worker had to be replaced after a stop, and could not be: " + Errors.Describe.Innermost(ex).Message, ex);
            }
            var worker = new RemoteWorker(old.Host, fresh, writer, old.Location);
            lock (_gate)
            {
                int index = old.Host.Slots.IndexOf(old);
                if (index >= 0) old.Host.Slots[index] = worker;
                else old.Host.Slots.Add(worker);
            }
            Watch(worker);
            if (fresh.RunspaceStateInfo.State != RunspaceState.Opened) _pool?.Lost(worker, Describe(fresh.RunspaceStateInfo));
            return worker;
        }

        /// <summary>The caller's directory means nothing on another machine: the batch starts in the remote home or RemoteLocation. Records are tagged with the host's name.</summary>
        public override BatchResult Run(Worker worker, BatchTask task)
        {
            var remote = (RemoteWorker)worker;
            task.WorkingDirectory = remote.Location;
            BatchResult result = task.InvokeIn(remote.Runspace);
            if (result != null) RemoteRecords.Tag(result, remote.Host.Name);
            return result;
        }

        /// <summary>
        /// After a stopped batch: makes sure the remote pipeline really ended. A no-op that does not come back within
        /// <see cref="SettleWait"/> means it did not: a runspace the backend opened is replaced; a user's session is
        /// waited for, as it cannot be replaced.
        /// </summary>
        public override bool Probe(Worker worker)
        {
            var remote = (RemoteWorker)worker;
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = remote.Runspace;
                ps.AddScript("$null", useLocalScope: true);
                IAsyncResult probe;
                try { probe = ps.BeginInvoke(); }
                catch (Exception) { return remote.Runspace.RunspaceStateInfo.State == RunspaceState.Opened && !remote.Owned; }
                bool settled = probe.AsyncWaitHandle.WaitOne(SettleWait);
                if (!settled && remote.Owned) return false;
                while (!settled)
                {
                    if (remote.LostReason != null || _pool == null || _pool.IsDisposed) return false;
                    settled = probe.AsyncWaitHandle.WaitOne(SettleWait);
                }
                try { ps.EndInvoke(probe); }
                catch (Exception) { }
                return remote.Runspace.RunspaceStateInfo.State == RunspaceState.Opened;
            }
        }

        public override void Close(Worker worker, bool stuck)
        {
            var remote = (RemoteWorker)worker;
            if (remote.StateHandler != null) remote.Runspace.StateChanged -= remote.StateHandler;
            if (!remote.Owned) return;
            if (stuck || remote.LostReason != null)
            {
                // A dead or stuck connection may take seconds to close: nobody waits for it.
                ThreadPool.QueueUserWorkItem(_ => SshRunspaces.Close(remote.Runspace, remote.TransportWriter));
            }
            else
            {
                SshRunspaces.Close(remote.Runspace, remote.TransportWriter);
            }
        }

        /// <summary>
        /// The invocation can end with the transport's error a moment before the runspace reports Broken. An error of
        /// the user's script comes back as a RemoteException; any other failure is the connection's, so the runspace
        /// gets <see cref="BreakWait"/> to say so (and why).
        /// </summary>
        public override string LostReason(Worker worker, BatchResult result, Exception thrown)
        {
            var remote = (RemoteWorker)worker;
            RunspaceStateInfo state = remote.Runspace.RunspaceStateInfo;
            if (remote.LostReason != null || state.State != RunspaceState.Opened) return remote.LostReason ?? Describe(state);
            Exception failure = thrown ?? (result != null && result.Outcome == BatchOutcome.Failed ? result.Error?.Exception : null);
            if (failure == null || failure is RemoteException || (result != null && result.Outcome == BatchOutcome.Stopped)) return null;
            if (remote.LostSignal.Wait(BreakWait)) return remote.LostReason;
            state = remote.Runspace.RunspaceStateInfo;
            if (state.State != RunspaceState.Opened) return Describe(state);
            if (failure is System.Management.Automation.Remoting.PSRemotingTransportException || failure is InvalidRunspaceStateException)
            {
                return failure.Message;
            }
            return thrown == null ? null : "the invocation failed: " + thrown.Message;
        }

        /// <summary>A batch lost <see cref="WorkerPool.MaxAttempts"/> times: the batch, not the hosts, is to blame.</summary>
        public override BatchResult LostResult(Worker worker, BatchTask task, DateTime started, string reason, Exception thrown, IReadOnlyList<string> placesLost)
        {
            IReadOnlyList<string> hosts = placesLost ?? new[] { worker.Place };
            var exception = new InvalidOperationException(
                $"The batch of {DescribeItems(task)} lost its remote worker {hosts.Count} times " +
                $"(on {string.Join(", then ", hosts.Select(h => "'" + h + "'"))}; last: {reason}), so they are not run again. " +
                "If an item ends its remote pwsh itself ([Environment]::Exit, a crash), fix the item; else check the hosts.");
            var record = new ErrorRecord(exception, ErrorIds.WorkerCrashed, ErrorCategory.ConnectionError, task.Count > 0 ? task.Items[0] : null);
            return BatchResult.ForWorkerCrash(task, 0, record, TimeSpan.Zero);
        }

        public override BatchResult NoWorkersLeft(BatchTask task)
        {
            Dictionary<string, string> reasons;
            lock (_gate) reasons = _hosts.ToDictionary(h => h.Name, h => h.LostReason ?? "lost", StringComparer.OrdinalIgnoreCase);
            var error = new RemoteHostsLostException(reasons, task.Count > 0 ? task.Items[0] : null);
            return BatchResult.ForWorkerCrash(task, 0, error.ErrorRecord, TimeSpan.Zero);
        }

        /// <summary>Remote workers are opened up front (<see cref="OpenPool"/>); a failed replacement is a lost worker, never a failed batch.</summary>
        public override BatchResult OpenFailed(BatchTask task, Exception error)
        {
            return NoWorkersLeft(task);
        }

        public override void WorkerLost(Worker worker, string reason, int remaining)
        {
            var remote = (RemoteWorker)worker;
            RemoteHost host = remote.Host;
            lock (_gate)
            {
                if (!host.Lost && host.Slots.All(s => s.LostReason != null))
                {
                    host.Lost = true;
                    host.LostReason = reason;
                    _notices.Add(new Notice(host, RemoteRecords.Warning(
                        $"Lost host '{host.Name}': {reason} The batches it was running run again on the other hosts; it is left out for the rest of this config scope.")));
                }
            }
            // After the host's state: whoever wakes on the signal (AwaitHostFates) sees whether the host is lost.
            remote.LostSignal.Set();
        }

        /// <summary>Written with the re-run's output; the warning is left out if the whole host is lost by then (its own warning says it all).</summary>
        public override void WorkRerun(Worker worker, BatchTask task, string reason)
        {
            var remote = (RemoteWorker)worker;
            string items = DescribeItems(task);
            lock (_gate)
            {
                List<Notice> notices = _taskNotices.GetValue(task, _ => new List<Notice>());
                notices.Add(new Notice(remote.Host, RemoteRecords.Warning(
                    $"Lost a worker on host '{remote.Host.Name}' while it ran {items}: {reason} They ran again on another worker."), coveredByHostLoss: true));
                notices.Add(new Notice(null, RemoteRecords.Verbose($"Ran {items} again: their worker on host '{remote.Host.Name}' was lost.")));
            }
        }

        /// <summary>
        /// The notices to deliver with a completed batch: the pool's, then the batch's own. A lost worker's warning is
        /// dropped when its whole host was lost meanwhile (a killed sshd ends its sessions one by one, milliseconds
        /// apart): one warning per host.
        /// </summary>
        public override BatchResult Completing(BatchTask task, BatchResult result)
        {
            if (result.Outcome == BatchOutcome.Completed) AwaitHostFates(task);
            List<PSObject> records;
            lock (_gate)
            {
                _taskNotices.TryGetValue(task, out List<Notice> own);
                if (result.Outcome != BatchOutcome.Completed)
                {
                    _taskNotices.Remove(task);
                    return result;
                }
                if (_notices.Count == 0 && own == null) return result;
                records = _notices.Concat(own ?? Enumerable.Empty<Notice>())
                    .Where(n => !(n.CoveredByHostLoss && n.Host.Lost))
                    .Select(n => n.Record)
                    .ToList();
                _notices.Clear();
                _openingNotices = 0;
                _taskNotices.Remove(task);
            }
            return records.Count == 0 ? result : RemoteRecords.WithNotices(result, records);
        }

        /// <summary>
        /// How long a lost worker's warning waits for the rest of its host before it is written. A host that goes down
        /// (its sshd killed, the machine stopped) ends its sessions within milliseconds of each other, but a batch run
        /// again elsewhere can complete sooner than the host's last session is seen lost: without the wait the caller
        /// got the worker's warning and then the host's, two warnings for one loss.
        /// </summary>
        private static readonly TimeSpan HostLossWindow = TimeSpan.FromSeconds(1);

        /// <summary>
        /// Before a batch's lost-worker warnings are written: waits, up to <see cref="HostLossWindow"/> from each loss,
        /// until the other workers of that host are lost too or the window passes. Lock not held while waiting.
        /// </summary>
        private void AwaitHostFates(BatchTask task)
        {
            var waits = new List<(ManualResetEventSlim[] Signals, TimeSpan Left)>();
            lock (_gate)
            {
                if (!_taskNotices.TryGetValue(task, out List<Notice> own)) return;
                foreach (Notice notice in own)
                {
                    if (!notice.CoveredByHostLoss || notice.Host.Lost) continue;
                    TimeSpan left = HostLossWindow - notice.Age;
                    ManualResetEventSlim[] signals = notice.Host.Slots.Where(s => s.LostReason == null).Select(s => s.LostSignal).ToArray();
                    if (left > TimeSpan.Zero && signals.Length > 0) waits.Add((signals, left));
                }
            }
            foreach (var (signals, left) in waits)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                foreach (ManualResetEventSlim signal in signals)
                {
                    TimeSpan rest = left - clock.Elapsed;
                    if (rest <= TimeSpan.Zero || !signal.Wait(rest)) break;
                }
            }
        }

        /// <summary>Watches the worker's runspace: one that leaves Opened on its own is a lost connection.</summary>
        private void Watch(RemoteWorker worker)
        {
            worker.StateHandler = (sender, e) =>
            {
                RunspaceState state = e.RunspaceStateInfo.State;
                if (state != RunspaceState.Broken && state != RunspaceState.Closed && state != RunspaceState.Closing && state != RunspaceState.Disconnected) return;
                _pool?.Lost(worker, Describe(e.RunspaceStateInfo));
            };
            worker.Runspace.StateChanged += worker.StateHandler;
        }

        private static string DescribeItems(BatchTask task)
        {
            return task.Count == 1
                ? $"item {task.FirstItemIndex + 1} of the call"
                : $"items {task.FirstItemIndex + 1} to {task.FirstItemIndex + task.Count} of the call";
        }

        private static string Describe(RunspaceStateInfo info)
        {
            string reason = info.Reason?.Message;
            return string.IsNullOrEmpty(reason) ? $"its connection went {info.State}." : reason.TrimEnd() + (reason.TrimEnd().EndsWith(".", StringComparison.Ordinal) ? string.Empty : ".");
        }
    }
}
