using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using JoblibPS.Errors;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// Opens the remote backend's workers, before the pool (<see cref="RemoteWorkerKind"/>) runs anything on them: SSH hosts
    /// (a check that the port answers, the first runspace, the host's facts, then its other slots, every host in
    /// parallel) or the user's sessions (each checked in parallel). Blocks the calling thread until all are open or
    /// failed.
    /// </summary>
    internal static class RemoteWorkerOpener
    {
        /// <summary>Opens every SSH host in parallel; fills <paramref name="failures"/> (host: why) and <paramref name="notes"/> (hosts with fewer workers than asked).</summary>
        /// When <paramref name="stopping"/> is cancelled it returns at once, hosts untouched: each host's thread closes
        /// what it opened once it sees the cancellation (see <see cref="OpenSshHost"/>).
        internal static List<RemoteHost> OpenSshHosts(RemoteBackendOptions options, Dictionary<string, string> failures, List<string> notes, CancellationToken stopping)
        {
            var hosts = options.HostNames.Select(name => new RemoteHost(name)).ToList();
            RunParallel(hosts.Select(h => (Action)(() => OpenSshHost(options, h, stopping))).ToList(), Timeout.InfiniteTimeSpan, stopping);
            if (stopping.IsCancellationRequested)
            {
                // Hosts whose opening ended before the stop are closed here; the others close themselves.
                foreach (RemoteHost host in hosts) CloseIfStopped(host, stopping, openingEnded: false);
                return hosts;
            }
            foreach (RemoteHost host in hosts)
            {
                if (host.OpenFailure != null) failures[host.Name] = host.OpenFailure;
                else if (host.OpenNote != null) notes.Add(host.OpenNote);
            }
            return hosts;
        }

        /// <summary>Opens one host's slots (a thread of its own): the first runspace, the host facts, then the other slots in parallel.</summary>
        private static void OpenSshHost(RemoteBackendOptions options, RemoteHost host, CancellationToken stopping)
        {
            try
            {
                OpenSshHostSlots(options, host);
            }
            finally
            {
                CloseIfStopped(host, stopping, openingEnded: true);
            }
        }

        /// <summary>
        /// After a stop (Ctrl+C) nobody will use a host's slots: whoever comes last, the host's own opening thread as
        /// it ends or the caller giving up on it, closes them, so nothing stays open however the two interleave.
        /// </summary>
        private static void CloseIfStopped(RemoteHost host, CancellationToken stopping, bool openingEnded)
        {
            List<RemoteWorker> slots;
            lock (host)
            {
                if (openingEnded) host.OpeningEnded = true;
                if (!stopping.IsCancellationRequested || !host.OpeningEnded) return;
                slots = host.Slots.ToList();
                host.Slots.Clear();
            }
            foreach (RemoteWorker slot in slots) SshRunspaces.Close(slot.Runspace, slot.TransportWriter);
        }

        private static void OpenSshHostSlots(RemoteBackendOptions options, RemoteHost host)
        {
            host.OpenFailure = SshRunspaces.Preflight(options, host.Name);
            if (host.OpenFailure != null) return;
            Runspace first;
            IDisposable firstWriter;
            try
            {
                first = SshRunspaces.Open(options, host.Name, out firstWriter);
            }
            catch (Exception ex)
            {
                host.OpenFailure = SshRunspaces.Explain(options, host.Name, ex);
                return;
            }
            HostFacts facts;
            try
            {
                facts = HostFacts.Read(first, options.RemoteLocation);
            }
            catch (Exception ex)
            {
                SshRunspaces.Close(first, firstWriter);
                host.OpenFailure = "PowerShell opened, but could not run a script there: " + Describe.Innermost(ex).Message;
                return;
            }
            if (facts.LocationError != null)
            {
                SshRunspaces.Close(first, firstWriter);
                host.OpenFailure = facts.LocationError;
                return;
            }
            host.Slots.Add(new RemoteWorker(host, first, firstWriter, facts.Location));
            int wanted = options.JobsPerHost ?? Math.Max(1, facts.ProcessorCount);
            var extra = new Runspace[wanted - 1];
            var writers = new IDisposable[wanted - 1];
            var errors = new Exception[wanted - 1];
            RunParallel(Enumerable.Range(0, wanted - 1).Select(i => (Action)(() =>
            {
                try { extra[i] = SshRunspaces.Open(options, host.Name, out writers[i]); }
                catch (Exception ex) { errors[i] = ex; }
            })).ToList(), Timeout.InfiniteTimeSpan);
            for (int i = 0; i < extra.Length; i++)
            {
                if (extra[i] != null) host.Slots.Add(new RemoteWorker(host, extra[i], writers[i], facts.Location));
            }
            Exception firstError = errors.FirstOrDefault(e => e != null);
            if (firstError != null)
            {
                host.OpenNote = $"Host '{host.Name}' has {host.Slots.Count} of the {wanted} workers asked for: the others could not open ({Describe.Innermost(firstError).Message}).";
            }
        }

        /// <summary>Checks the user's sessions in parallel and groups them by computer; fills <paramref name="failures"/> for computers none of whose sessions is usable.</summary>
        internal static List<RemoteHost> UseSessions(RemoteBackendOptions options, Dictionary<string, string> failures, CancellationToken stopping)
        {
            var hosts = new List<RemoteHost>();
            var checks = new List<Action>();
            var results = new Dictionary<PSSession, object>();
            foreach (PSSession session in options.Sessions)
            {
                PSSession s = session;
                checks.Add(() =>
                {
                    object outcome;
                    try { outcome = CheckSession(s, options.RemoteLocation); }
                    catch (Exception ex) { outcome = Describe.Innermost(ex).Message; }
                    lock (results) results[s] = outcome;
                });
            }
            RunParallel(checks, Timeout.InfiniteTimeSpan, stopping);
            if (stopping.IsCancellationRequested) return hosts;
            foreach (PSSession session in options.Sessions)
            {
                string name = session.ComputerName ?? session.Name;
                RemoteHost host = hosts.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));
                if (host == null) hosts.Add(host = new RemoteHost(name));
                if (results[session] is HostFacts facts)
                {
                    host.Slots.Add(new RemoteWorker(host, session.Runspace, facts.Location));
                }
                else
                {
                    string reason = $"session '{session.Name}' (id {session.Id}): {results[session]}";
                    failures[name] = failures.TryGetValue(name, out string earlier) ? earlier + "; " + reason : reason;
                }
            }
            // A host with some usable sessions is usable: its unusable sessions are only noted.
            foreach (RemoteHost host in hosts.Where(h => h.Slots.Count > 0 && failures.ContainsKey(h.Name)).ToList())
            {
                failures.Remove(host.Name);
            }
            return hosts;
        }

        /// <summary>How long a session found busy may take to become available before it is left out.</summary>
        private static readonly TimeSpan BusyGrace = TimeSpan.FromSeconds(3);

        private static object CheckSession(PSSession session, string remoteLocation)
        {
            Runspace runspace = session.Runspace;
            if (runspace == null || runspace.RunspaceStateInfo.State != RunspaceState.Opened)
            {
                return $"it is {runspace?.RunspaceStateInfo.State.ToString() ?? "not connected"}, not Opened";
            }
            // A pipeline stopped by the previous call (an abort, a timeout, Select-Object -First) may still be
            // winding down on the remote side for a moment: give it that moment before calling the session busy.
            var waited = Stopwatch.StartNew();
            while (runspace.RunspaceAvailability != RunspaceAvailability.Available && waited.Elapsed < BusyGrace)
            {
                Thread.Sleep(20);
            }
            if (runspace.RunspaceAvailability != RunspaceAvailability.Available)
            {
                return $"it is busy ({runspace.RunspaceAvailability}); give sessions nothing else is running in";
            }
            HostFacts facts = HostFacts.Read(runspace, remoteLocation);
            return facts.LocationError ?? (object)facts;
        }

        /// <summary>Runs each action on a thread of its own (opening blocks for seconds: the thread pool would starve) and waits for all, up to <paramref name="timeout"/>.</summary>
        /// Returns early, leaving the threads to finish, when <paramref name="stopping"/> is cancelled.
        internal static void RunParallel(IReadOnlyList<Action> actions, TimeSpan timeout, CancellationToken stopping = default(CancellationToken))
        {
            var threads = actions.Select(a => new Thread(() => a()) { IsBackground = true, Name = "JoblibPS remote open/close" }).ToList();
            foreach (Thread thread in threads) thread.Start();
            var clock = Stopwatch.StartNew();
            foreach (Thread thread in threads)
            {
                while (true)
                {
                    if (stopping.IsCancellationRequested) return;
                    TimeSpan left = timeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromMilliseconds(100) : timeout - clock.Elapsed;
                    if (left <= TimeSpan.Zero) return;
                    // Short waits, so a stop (Ctrl+C) is seen within a tenth of a second.
                    if (thread.Join(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100))) break;
                }
            }
        }

        /// <summary>What the backend reads from a host once, when its first runspace opens.</summary>
        private sealed class HostFacts
        {
            private const string Script = @"param($Location)
$facts = @{ ProcessorCount = [Environment]::ProcessorCount; Location = $null; LocationError = $null }
if ($Location) {
    $resolved = Resolve-Path -LiteralPath $Location -ErrorAction Ignore
    if ($resolved -and (Test-Path -LiteralPath $resolved.ProviderPath -PathType Container)) { $facts.Location = $resolved.ProviderPath }
    else { $facts.LocationError = ""RemoteLocation '$Location' is not a directory there"" }
} else {
    $facts.Location = if ($HOME) { $HOME } else { (Get-Location).ProviderPath }
}
$facts";

            public int ProcessorCount { get; private set; }

            public string Location { get; private set; }

            public string LocationError { get; private set; }

            /// <summary>Runs the facts script in a local scope of <paramref name="runspace"/>, so nothing stays behind in a user's session.</summary>
            public static HostFacts Read(Runspace runspace, string remoteLocation)
            {
                using (var ps = PowerShell.Create())
                {
                    ps.Runspace = runspace;
                    ps.AddScript(Script, useLocalScope: true).AddParameter("Location", remoteLocation);
                    var output = ps.Invoke();
                    if (output.Count != 1 || !(output[0]?.BaseObject is System.Collections.IDictionary table))
                    {
                        string error = ps.Streams.Error.Count > 0 ? ps.Streams.Error[0].ToString() : "no answer";
                        throw new InvalidOperationException($"the host did not describe itself ({error}).");
                    }
                    return new HostFacts
                    {
                        ProcessorCount = LanguagePrimitives.ConvertTo<int>(table["ProcessorCount"]),
                        Location = table["Location"] as string,
                        LocationError = table["LocationError"] as string,
                    };
                }
            }
        }
    }
}
