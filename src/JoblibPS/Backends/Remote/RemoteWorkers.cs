using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace JoblibPS.Backends.Remote
{
    /// <summary>One host: its slots and whether it was lost. Guarded by the pool's lock once the pool exists.</summary>
    internal sealed class RemoteHost
    {
        public RemoteHost(string name) { Name = name; }

        public string Name { get; }

        public List<RemoteSlot> Slots { get; } = new List<RemoteSlot>();

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
    }

    /// <summary>One worker slot: a remote runspace and the thread that runs batches in it. Guarded by the pool's lock.</summary>
    internal sealed class RemoteSlot
    {
        /// <summary>A slot on a runspace the backend opened (<paramref name="transportWriter"/>: see <see cref="SshTransportGuard"/>).</summary>
        public RemoteSlot(RemoteHost host, int number, Runspace runspace, IDisposable transportWriter, string location)
        {
            Host = host;
            Number = number;
            Runspace = runspace;
            TransportWriter = transportWriter;
            Owned = true;
            Location = location;
        }

        /// <summary>A slot on a session the user opened.</summary>
        public RemoteSlot(RemoteHost host, int number, Runspace runspace, string location)
        {
            Host = host;
            Number = number;
            Runspace = runspace;
            Location = location;
        }

        public RemoteHost Host { get; }

        public int Number { get; }

        /// <summary>The slot's runspace; replaced (owned slots only) when a stopped pipeline would not end.</summary>
        public Runspace Runspace { get; set; }

        /// <summary>The SSH transport's writer the backend closes itself after the runspace (owned slots; null when the guard does not apply).</summary>
        public IDisposable TransportWriter { get; set; }

        /// <summary>True when the backend opened the runspace (and closes it); false for a user's session.</summary>
        public bool Owned { get; }

        /// <summary>The directory batches start in on this slot's host.</summary>
        public string Location { get; }

        /// <summary>The batch this slot runs or is about to run, or null when idle.</summary>
        public RemoteJob Assigned { get; set; }

        public bool Lost { get; set; }

        public string LostReason { get; set; }

        /// <summary>Set when the slot is lost; a slot thread whose invocation failed oddly waits on it (see LostReason).</summary>
        public ManualResetEventSlim LostSignal { get; } = new ManualResetEventSlim(false);

        /// <summary>True while the slot checks that a stopped batch really ended remotely (see Settle): it takes no work.</summary>
        public bool Settling { get; set; }

        /// <summary>Set when the pool closes, so the state changes it causes are not taken for a lost connection.</summary>
        public bool Closing { get; set; }

        public EventHandler<RunspaceStateEventArgs> StateHandler { get; set; }

        public Thread Thread { get; set; }
    }

    /// <summary>One submitted batch and its runs so far.</summary>
    internal sealed class RemoteJob
    {
        public RemoteJob(BatchFuture future) { Future = future; }

        public BatchFuture Future { get; }

        /// <summary>How many times it started.</summary>
        public int Attempts { get; set; }

        /// <summary>The hosts it started on, in order.</summary>
        public List<string> Hosts { get; } = new List<string>();

        /// <summary>Set by an abort: complete as stopped, never run again.</summary>
        public bool Aborted { get; set; }

        /// <summary>Why its last run was lost.</summary>
        public string LastLoss { get; set; }

        /// <summary>The timer that fails it when it waited for the verdict in vain (kept here so it is not collected before it fires).</summary>
        public Timer Verdict { get; set; }

        /// <summary>Notices about this batch's earlier runs, written with its final output.</summary>
        public List<Notice> Notices { get; } = new List<Notice>();
    }
}
