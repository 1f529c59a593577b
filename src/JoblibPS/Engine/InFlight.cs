using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading;

namespace JoblibPS.Engine
{
    /// <summary>
    /// The batches of a call that were submitted and have not settled: what a stop reaches and what the stall guard
    /// watches. Changed on the pipeline thread only; <see cref="RequestStopAll"/> may come from any thread (Ctrl+C).
    /// </summary>
    internal sealed class InFlight
    {
        private readonly ConcurrentDictionary<BatchTask, Span> _spans = new ConcurrentDictionary<BatchTask, Span>();
        private int _count;

        /// <summary>How many batches run (a plain counter: read once per input item).</summary>
        public int Count => _count;

        public void Add(BatchTask task, Span span)
        {
            _spans[task] = span;
            _count++;
        }

        /// <summary>Takes the batch out; false when it was not in flight (a stalled batch given up on that came back).</summary>
        public bool Remove(BatchTask task)
        {
            if (!_spans.TryRemove(task, out _)) return false;
            _count--;
            return true;
        }

        public bool Contains(BatchTask task) => _spans.ContainsKey(task);

        /// <summary>True when a batch before input index <paramref name="first"/> still runs.</summary>
        public bool AnyBefore(long first) => _spans.Values.Any(s => s.First < first);

        /// <summary>Asks every running batch to stop (any thread): a task on the pipeline thread itself only ends if asked directly.</summary>
        public void RequestStopAll()
        {
            foreach (BatchTask task in _spans.Keys) task.RequestStop();
        }

        /// <summary>
        /// The oldest batch when no batch showed progress for longer than <paramref name="grace"/> (nor anything else,
        /// for <paramref name="sinceActivity"/>: the time since the engine last heard of any batch), else null.
        /// </summary>
        public Span Stalled(TimeSpan sinceActivity, TimeSpan grace, out TimeSpan quiet)
        {
            quiet = sinceActivity;
            if (_spans.IsEmpty) return null;
            foreach (BatchTask task in _spans.Keys)
            {
                TimeSpan? since = task.SinceProgress;
                if (since.HasValue && since.Value < quiet) quiet = since.Value;
            }
            return quiet > grace ? _spans.Values.OrderBy(s => s.First).FirstOrDefault() : null;
        }
    }
}
