using System.Management.Automation.Runspaces;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>
    /// One worker of a <see cref="WorkerPool"/>: a runspace somewhere, plus whatever its <see cref="WorkerKind"/>
    /// keeps beside it (a process, an SSH transport). Owned by the slot that opened it; closed once, by the pool.
    /// </summary>
    internal class Worker
    {
        private string _lostReason;
        private int _closed;

        public Worker(Runspace runspace, string place)
        {
            Runspace = runspace;
            Place = place;
        }

        /// <summary>The runspace batches run in.</summary>
        public Runspace Runspace { get; protected set; }

        /// <summary>
        /// Where the worker runs, for "run it again elsewhere" (a retried or lost batch avoids this place while
        /// another is usable): a host name for remote workers, the worker itself otherwise.
        /// </summary>
        public string Place { get; set; }

        /// <summary>The call (its token) whose batches this worker ran last; null before its first batch.</summary>
        internal object CallServed { get; set; }

        /// <summary>The batches this worker ran.</summary>
        internal int Tasks { get; set; }

        /// <summary>Why the worker was lost (set once, from any thread), or null while it is usable.</summary>
        public string LostReason => Volatile.Read(ref _lostReason);

        /// <summary>True the first time only: a worker is closed once.</summary>
        internal bool MarkClosed()
        {
            return Interlocked.Exchange(ref _closed, 1) == 0;
        }

        internal bool MarkLost(string reason)
        {
            return Interlocked.CompareExchange(ref _lostReason, reason ?? "lost", null) == null;
        }
    }
}
