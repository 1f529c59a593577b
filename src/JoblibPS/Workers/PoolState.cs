using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>
    /// What the parts of the worker core share: the queue, the slots, the limits, and the one lock that guards them
    /// all (<see cref="Gate"/>). <see cref="WorkerPool"/> (the members callers use, and the pool's lifetime),
    /// <see cref="PoolScheduler"/> (which batch goes where, and when a worker opens), <see cref="SlotRunner"/> (a
    /// slot's thread: open, run, probe) and <see cref="WorkerLoss"/> (lost workers, failed opens, reruns) each read
    /// and change it under <see cref="Gate"/>.
    /// </summary>
    /// <remarks>
    /// The rule for callbacks: what calls out of the core (completing a future, the kind's Close, WorkerLost and
    /// WorkRerun) is collected under the lock into a list and run after it is released (<see cref="RunAll"/>), so
    /// neither the engine's callback nor a kind ever runs with the pool's lock held.
    /// </remarks>
    internal sealed class PoolState
    {
        public PoolState(WorkerKind kind)
        {
            Kind = kind;
        }

        /// <summary>The lock over everything below; waits on it are woken with Monitor.PulseAll.</summary>
        public readonly object Gate = new object();

        public WorkerKind Kind { get; }

        /// <summary>Batches waiting for a worker, in input order (a batch that runs again goes back in its place).</summary>
        public readonly LinkedList<PoolJob> Queue = new LinkedList<PoolJob>();

        /// <summary>Batches lost too often, waiting for their verdict (see <see cref="WorkerLoss"/>).</summary>
        public readonly List<PoolJob> Parked = new List<PoolJob>();

        /// <summary>The slots the pool holds; a slot it lets go of leaves this list (and is marked Abandoned).</summary>
        public readonly List<Slot> Slots = new List<Slot>();

        /// <summary>The backend instances that use the pool (see WorkerPool.Hold).</summary>
        public readonly HashSet<object> Holders = new HashSet<object>();

        /// <summary>How many workers the pool keeps at most.</summary>
        public int Target;

        /// <summary>How many batches may run at once.</summary>
        public int Limit = int.MaxValue;

        /// <summary>How long an idle worker of a kind that opens on demand waits for work before it ends; null for ever.</summary>
        public TimeSpan? IdleTimeout;

        /// <summary>The number of the last slot made, for thread names and default places.</summary>
        public int SlotNumber;

        /// <summary>Threads given up on and still inside their batch (Interlocked: read without the lock).</summary>
        public int StuckThreads;

        /// <summary>Opens that failed in a row while other workers were usable (see <see cref="PoolScheduler.NoteOpenFailed"/>).</summary>
        public int OpenFailures;

        /// <summary>Stopwatch timestamp before which no worker opens on demand after a failed open.</summary>
        public long NoOpenUntilTicks;

        public bool Disposed;

        /// <summary>True once retired: the pool is disposed when the last holder lets go.</summary>
        public bool Draining;

        /// <summary>Replace a worker after it ran this many batches (loky's max_tasks_per_child); 0 for never.</summary>
        public int MaxTasksPerWorker;

        /// <summary>See WorkerPool.VerdictDelay.</summary>
        public TimeSpan VerdictDelay = TimeSpan.FromSeconds(2);

        /// <summary>See WorkerPool.OpenBackoff.</summary>
        public TimeSpan OpenBackoff = TimeSpan.FromSeconds(1);

        // ---- under Gate ------------------------------------------------------------------------------------------

        /// <summary>A worker that is open, not lost, and belongs to a slot the pool still holds.</summary>
        public bool Usable(Slot slot)
        {
            return !slot.Abandoned && !slot.Opening && !slot.Retiring && slot.Worker != null && slot.Worker.LostReason == null;
        }

        /// <summary>A usable worker that may take a batch now.</summary>
        public bool Idle(Slot slot)
        {
            return Usable(slot) && slot.Assigned == null && !slot.Settling && !Kind.IsStale(slot.Worker);
        }

        public int UsableCount() => Slots.Count(Usable);

        /// <summary>True when the worker ran its <see cref="MaxTasksPerWorker"/> batches and is replaced.</summary>
        public bool Spent(Worker worker) => MaxTasksPerWorker > 0 && worker.Tasks >= MaxTasksPerWorker;

        /// <summary>The pool lets go of the slot: its thread ends when it next looks, touching nothing.</summary>
        public void RemoveSlot(Slot slot)
        {
            slot.Abandoned = true;
            Slots.Remove(slot);
            Monitor.PulseAll(Gate);
        }

        // ---- lock not held -----------------------------------------------------------------------------------------

        /// <summary>Closes a worker once (any thread, lock not held); the kind's failure to close is swallowed.</summary>
        public void CloseWorker(Worker worker, bool stuck)
        {
            if (worker == null || !worker.MarkClosed()) return;
            try { Kind.Close(worker, stuck); }
            catch (Exception) { }
        }

        /// <summary>Runs what was collected under the lock, in order, once it is released.</summary>
        public static void RunAll(List<Action> actions)
        {
            foreach (Action action in actions) action();
        }
    }
}
