using System;
using System.Management.Automation.Runspaces;

namespace JoblibPS.Workers
{
    /// <summary>
    /// What one kind of worker (a runspace of this process, a pwsh worker process, an SSH host's runspace) tells the
    /// shared <see cref="WorkerPool"/>: how to open, reset, probe and close one worker, and what losing one means.
    /// Everything else (the queue, slots and their threads, starting workers on demand, the abort deadline,
    /// retiring and replacing workers, dispose) is the pool's, written once for every kind.
    /// </summary>
    /// <remarks>
    /// Threading: <see cref="Open"/>, <see cref="Reset"/>, <see cref="Run"/> and <see cref="Probe"/> are called on
    /// the thread of the slot that owns the worker, one at a time; <see cref="Close"/> from any thread, once per
    /// worker; the loss members with the pool's lock not held, from any thread.
    /// </remarks>
    internal abstract class WorkerKind
    {
        /// <summary>The backend's name, for thread names and messages.</summary>
        public abstract string Name { get; }

        /// <summary>
        /// Opens a worker, blocking (a pwsh start, an SSH connection). <paramref name="replacing"/> is the worker the
        /// new one takes the place of (a stuck or recycled one), or null. Returns null when no worker can be opened in
        /// that place (a host's slot that cannot be replaced); throws when opening failed.
        /// </summary>
        public abstract Worker Open(Worker replacing);

        /// <summary>True when the pool may open workers when there is work for them; false for a fixed set the kind opened itself.</summary>
        public virtual bool OpensOnDemand => true;

        /// <summary>Brings a worker that served an earlier call back to a clean state before it serves another call; throw to have it replaced.</summary>
        public virtual void Reset(Worker worker) { }

        /// <summary>True when the worker was started with settings that are no longer current, so it is replaced while idle.</summary>
        public virtual bool IsStale(Worker worker) => false;

        /// <summary>Runs one batch in the worker and returns its result; an exception means the worker, not the user's script, failed.</summary>
        public virtual BatchResult Run(Worker worker, BatchTask task)
        {
            return task.InvokeIn(worker.Runspace);
        }

        /// <summary>
        /// After a batch that did not run to its end (stopped, timed out, failed outside the user's script): true
        /// when the worker is idle and healthy again, so it may take more work. A worker that says false is closed as
        /// stuck and replaced. The default checks the runspace's state and availability.
        /// </summary>
        public virtual bool Probe(Worker worker)
        {
            Runspace runspace = worker.Runspace;
            return runspace != null && runspace.RunspaceStateInfo.State == RunspaceState.Opened
                && runspace.RunspaceAvailability == RunspaceAvailability.Available;
        }

        /// <summary>
        /// Ends the worker. <paramref name="stuck"/>: its pipeline did not stop when asked (a native call, a long
        /// finally), so ending it must not wait for that pipeline.
        /// </summary>
        public abstract void Close(Worker worker, bool stuck);

        /// <summary>
        /// Why the worker is gone after <see cref="Run"/> returned <paramref name="result"/> or threw <paramref name="thrown"/>,
        /// or null when it is fine (the default: when its runspace left the Opened state).
        /// </summary>
        public virtual string LostReason(Worker worker, BatchResult result, Exception thrown)
        {
            if (worker.LostReason != null) return worker.LostReason;
            RunspaceStateInfo state = worker.Runspace?.RunspaceStateInfo;
            if (state == null || state.State == RunspaceState.Opened) return null;
            return state.Reason?.Message ?? $"its runspace went {state.State}.";
        }

        /// <summary>
        /// True when a batch whose worker was lost runs again on another worker (remote hosts); false when it fails
        /// at once with <see cref="LostResult"/>, without waiting for its invocation to return (a dead process's
        /// runspace reports it only about 60 s later).
        /// </summary>
        public virtual bool RerunsLostWork => false;

        /// <summary>
        /// The result of a batch whose worker was lost while it ran it (<paramref name="thrown"/>: what the invocation
        /// threw, when it returned), when the work is not run again: at once for kinds that do not run lost work again,
        /// or once a batch was lost <see cref="WorkerPool.MaxAttempts"/> times (<paramref name="placesLost"/>: where, in order).
        /// </summary>
        public abstract BatchResult LostResult(Worker worker, BatchTask task, DateTime started, string reason, Exception thrown, System.Collections.Generic.IReadOnlyList<string> placesLost);

        /// <summary>The result of every waiting batch when no worker is left and none can be opened.</summary>
        public virtual BatchResult NoWorkersLeft(BatchTask task)
        {
            return BatchResult.ForStopped(task, DateTime.UtcNow);
        }

        /// <summary>
        /// Called when a worker is lost (the pool's lock not held): the kind's own bookkeeping and notices (a remote
        /// host that lost its last slot). <paramref name="remaining"/> is the number of usable workers left.
        /// </summary>
        public virtual void WorkerLost(Worker worker, string reason, int remaining) { }

        /// <summary>Called when a batch lost on <paramref name="worker"/> is queued to run again, so the kind can note it for the caller.</summary>
        public virtual void WorkRerun(Worker worker, BatchTask task, string reason) { }

        /// <summary>The result a batch is completed with, from its final result (the remote kind adds its notices). Any thread, lock not held.</summary>
        public virtual BatchResult Completing(BatchTask task, BatchResult result) => result;

        /// <summary>How long a running batch must have run before a stop reaches it reliably (remote: a stop sent within milliseconds can miss the remote pipeline).</summary>
        public virtual TimeSpan MinRunBeforeStop => TimeSpan.Zero;

        /// <summary>
        /// How long an abort waits, in all, for running batches to stop before the pool gives up on their workers
        /// (closed as stuck and replaced). The default, 1 s: a PowerShell pipeline stops in about 50 ms (measured on a
        /// 2-core machine, in this process and in a worker process alike); one inside a .NET or native call
        /// ([Threading.Thread]::Sleep, a blocking read) or a long <c>finally</c> does not stop at all.
        /// </summary>
        public virtual TimeSpan StopGrace => TimeSpan.FromSeconds(1);

        /// <summary>
        /// What the caller is told when an abort gave up on <paramref name="abandoned"/> workers after
        /// <paramref name="grace"/> (<paramref name="stuckNow"/>: the pool's threads still stuck), or null to say
        /// nothing (a kind whose stuck workers end when closed: a process is killed).
        /// </summary>
        public virtual string StuckWarning(int abandoned, int stuckNow, TimeSpan grace) => null;

        /// <summary>The failure of a worker that could not be opened, as the result of the batches waiting for it.</summary>
        public abstract BatchResult OpenFailed(BatchTask task, Exception error);
    }
}
