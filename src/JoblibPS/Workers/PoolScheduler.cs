using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>
    /// Which batch goes to which worker, and when a worker opens. Every member is called with
    /// <see cref="PoolState.Gate"/> held; nothing here blocks or calls out of the core.
    /// </summary>
    /// <remarks>
    /// The rules: in queue order, a batch goes to an idle usable worker in the place with the fewest busy workers (so
    /// remote work spreads over hosts), while fewer than the limit run. A batch whose worker was lost avoids the
    /// places it was lost in while another place has a usable worker; a batch the engine retries prefers another
    /// place only while one has an idle worker (see <see cref="PickSlot"/>). A batch that cannot be placed now does
    /// not hold back the ones behind it. When no idle worker takes the waiting batches and fewer than the target are
    /// open, slots open workers: never more than there are batches waiting, and none on demand for a while after an
    /// open failed beside usable workers. A pool of a fixed set (remote hosts) whose last worker is gone, with none
    /// opening or settling, fails what waits with the kind's <see cref="WorkerKind.NoWorkersLeft"/>.
    /// </remarks>
    internal sealed class PoolScheduler
    {
        private static readonly TimeSpan MaxOpenBackoff = TimeSpan.FromSeconds(30);

        private readonly PoolState _state;
        private readonly Func<Slot> _openSlot;

        /// <param name="state">The pool's state.</param>
        /// <param name="openSlot">Makes a slot that opens a worker on its own thread (lock held; it must not block).</param>
        public PoolScheduler(PoolState state, Func<Slot> openSlot)
        {
            _state = state;
            _openSlot = openSlot;
        }

        /// <summary>Places what can be placed, opens what should open, and wakes the slots; collects completions into <paramref name="after"/>.</summary>
        public void Schedule(List<Action> after)
        {
            PoolState s = _state;
            if (s.Disposed) return;
            if ((s.Queue.Count > 0 || s.Parked.Count > 0) && !s.Kind.OpensOnDemand && s.UsableCount() == 0 && !s.Slots.Any(x => x.Opening || x.Settling))
            {
                foreach (PoolJob job in s.Queue.Concat(s.Parked).ToList())
                {
                    PoolJob failed = job;
                    failed.Verdict?.Dispose();
                    after.Add(() => failed.Complete(s.Kind.NoWorkersLeft(failed.Future.Task)));
                }
                s.Queue.Clear();
                s.Parked.Clear();
                return;
            }
            int running = s.Slots.Count(x => x.Assigned != null);
            for (LinkedListNode<PoolJob> node = s.Queue.First; node != null && running < s.Limit;)
            {
                LinkedListNode<PoolJob> next = node.Next;
                Slot slot = PickSlot(node.Value);
                if (slot != null)
                {
                    PoolJob job = node.Value;
                    s.Queue.Remove(node);
                    job.Started = DateTime.UtcNow;
                    slot.Assigned = job;
                    running++;
                }
                else if (!s.Slots.Any(s.Idle))
                {
                    break;
                }
                node = next;
            }
            bool backingOff = s.OpenFailures > 0 && Stopwatch.GetTimestamp() < s.NoOpenUntilTicks && s.UsableCount() > 0;
            if (s.Kind.OpensOnDemand && !backingOff)
            {
                // Open workers for the batches no open worker will take soon: never more than are waiting.
                int opening = s.Slots.Count(x => x.Opening);
                int open = s.Slots.Count(x => !x.Retiring);
                while (s.Queue.Count > opening && open < s.Target && running + opening < s.Limit)
                {
                    _openSlot();
                    opening++;
                    open++;
                }
            }
            Monitor.PulseAll(s.Gate);
        }

        /// <summary>
        /// An idle usable worker in the place with the fewest busy workers. A batch whose worker was lost avoids the
        /// places it was lost in while another place has a usable worker (busy or not: a host going down loses its
        /// other workers within milliseconds). A batch the engine retries after a failure in the user's script
        /// (<see cref="BatchTask.Avoid"/>) prefers another place only while one has an idle worker: its place is as
        /// healthy as any, and an idle worker must not sit unused while it waits.
        /// </summary>
        public Slot PickSlot(PoolJob job)
        {
            PoolState s = _state;
            bool hard = job.LostIn.Count > 0 && s.Slots.Any(x => s.Usable(x) && !job.LostIn.Contains(x.Worker.Place));
            bool soft = job.Prefers.Count > 0 && s.Slots.Any(x => s.Idle(x) && !job.Prefers.Contains(x.Worker.Place) && !(hard && job.LostIn.Contains(x.Worker.Place)));
            Slot best = null;
            int bestBusy = int.MaxValue;
            foreach (Slot slot in s.Slots)
            {
                if (!s.Idle(slot)) continue;
                if (hard && job.LostIn.Contains(slot.Worker.Place)) continue;
                if (soft && job.Prefers.Contains(slot.Worker.Place)) continue;
                string place = slot.Worker.Place;
                int busy = s.Slots.Count(x => x.Assigned != null && x.Worker != null && x.Worker.Place == place);
                if (busy < bestBusy)
                {
                    best = slot;
                    bestBusy = busy;
                }
            }
            return best;
        }

        /// <summary>Queues a batch that runs again (or never ran) before every batch submitted after it, so input order is kept.</summary>
        public void Enqueue(PoolJob job)
        {
            LinkedListNode<PoolJob> node = _state.Queue.First;
            while (node != null && node.Value.Future.Task.BatchIndex < job.Future.Task.BatchIndex) node = node.Next;
            if (node == null) _state.Queue.AddLast(job);
            else _state.Queue.AddBefore(node, job);
        }

        /// <summary>Takes the queued and parked batches of <paramref name="owner"/> (null: all) out of the pool into <paramref name="taken"/>.</summary>
        public void TakeQueued(object owner, List<PoolJob> taken)
        {
            for (LinkedListNode<PoolJob> node = _state.Queue.First; node != null;)
            {
                LinkedListNode<PoolJob> next = node.Next;
                if (owner == null || node.Value.Owner == owner)
                {
                    taken.Add(node.Value);
                    _state.Queue.Remove(node);
                }
                node = next;
            }
            foreach (PoolJob job in _state.Parked.Where(j => owner == null || j.Owner == owner).ToList())
            {
                job.Verdict?.Dispose();
                _state.Parked.Remove(job);
                taken.Add(job);
            }
        }

        /// <summary>
        /// After an open failed beside usable workers: no worker opens on demand for <see cref="PoolState.OpenBackoff"/>,
        /// doubled after each further failure in a row up to 30 s (a transient pwsh start failure must not become a
        /// storm of starts); an open that succeeds forgets it.
        /// </summary>
        public void NoteOpenFailed()
        {
            double wait = Math.Min(MaxOpenBackoff.TotalMilliseconds, _state.OpenBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(16, _state.OpenFailures)));
            _state.OpenFailures++;
            _state.NoOpenUntilTicks = Stopwatch.GetTimestamp() + (long)(wait / 1000.0 * Stopwatch.Frequency);
        }
    }
}
