using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Remote
{
    /// <summary>One host: its workers and whether it was lost. Guarded by the kind's lock once the pool exists.</summary>
    internal sealed class RemoteHost
    {
        public RemoteHost(string name) { Name = name; }

        public string Name { get; }

        /// <summary>The host's workers, one per slot, in the order they opened.</summary>
        public List<RemoteWorker> Slots { get; } = new List<RemoteWorker>();

        /// <summary>Why the host could not be opened (set by its opening thread), or null.</summary>
        public string OpenFailure { get; set; }

        /// <summary>A note on a host that opened with fewer slots than asked for, or null.</summary>
        public string OpenNote { get; set; }

        /// <summary>True once the host's opening thread ended (guarded by a lock on the host while the opening runs).</summary>
        public bool OpeningEnded { get; set; }

        public bool Lost { get; set; }

        public string LostReason { get; set; }
    }

    /// <summary>A record for the caller from the backend itself, waiting for the next completed batch.</summary>
    internal sealed class Notice
    {
        public Notice(RemoteHost host, PSObject record, bool coveredByHostLoss = false)
        {
            Host = host;
            Record = record;
            CoveredByHostLoss = coveredByHostLoss;
        }

        /// <summary>The host it is about, or null.</summary>
        public RemoteHost Host { get; }

        public PSObject Record { get; }

        /// <summary>True for a lost worker's warning, which the host's warning replaces when the whole host is lost.</summary>
        public bool CoveredByHostLoss { get; }

        private readonly System.Diagnostics.Stopwatch _age = System.Diagnostics.Stopwatch.StartNew();

        /// <summary>How long ago the notice was made.</summary>
        public TimeSpan Age => _age.Elapsed;
    }

    /// <summary>One remote worker: a runspace on a host, opened by the backend or given by the user as a session.</summary>
    internal sealed class RemoteWorker : Worker
    {
        /// <summary>A worker on a runspace the backend opened (<paramref name="transportWriter"/>: see <see cref="SshTransportGuard"/>).</summary>
        public RemoteWorker(RemoteHost host, Runspace runspace, IDisposable transportWriter, string location)
            : base(runspace, host.Name)
        {
            Host = host;
            TransportWriter = transportWriter;
            Owned = true;
            Location = location;
        }

        /// <summary>A worker on a session the user opened: used, never closed.</summary>
        public RemoteWorker(RemoteHost host, Runspace runspace, string location)
            : base(runspace, host.Name)
        {
            Host = host;
            Location = location;
        }

        public RemoteHost Host { get; }

        /// <summary>The SSH transport's writer the backend closes itself after the runspace (owned workers; null when the guard does not apply).</summary>
        public IDisposable TransportWriter { get; }

        /// <summary>True when the backend opened the runspace (and closes it); false for a user's session.</summary>
        public bool Owned { get; }

        /// <summary>The directory batches start in on this worker's host.</summary>
        public string Location { get; }

        /// <summary>Set when the worker is lost; a slot whose invocation failed oddly waits on it (see <see cref="RemoteWorkerKind.LostReason"/>).</summary>
        public ManualResetEventSlim LostSignal { get; } = new ManualResetEventSlim(false);

        /// <summary>The runspace's StateChanged handler while the kind watches it.</summary>
        public EventHandler<RunspaceStateEventArgs> StateHandler { get; set; }
    }
}
