using System.Collections.Generic;
using System.Linq;

namespace JoblibPS.Engine
{
    /// <summary>
    /// Spans waiting to run again: an item retried after a failure (due once its -RetryDelaySeconds passed), or the
    /// items of a batch that must run again now (after the failed item, or whose output a dying worker took with it).
    /// Pipeline thread only.
    /// </summary>
    internal sealed class RetryQueue
    {
        private readonly List<Span> _spans = new List<Span>();

        public int Count => _spans.Count;

        /// <summary>A retry, due at its <see cref="Span.DueTicks"/>.</summary>
        public void Add(Span span) => _spans.Add(span);

        /// <summary>Items that run again at once, before every waiting retry.</summary>
        public void AddNow(Span span) => _spans.Insert(0, span);

        /// <summary>The first span due at <paramref name="now"/> (engine clock ticks), taken out; null when none is due.</summary>
        public Span TakeDue(long now)
        {
            Span due = _spans.FirstOrDefault(s => s.DueTicks <= now);
            if (due != null) _spans.Remove(due);
            return due;
        }

        /// <summary>When the next span is due (engine clock ticks), or null when none waits.</summary>
        public long? NextDue => _spans.Count == 0 ? (long?)null : _spans.Min(s => s.DueTicks);

        /// <summary>Drops the spans from input index <paramref name="firstItem"/> on (the call fails there: they never run).</summary>
        public void DropFrom(long firstItem) => _spans.RemoveAll(s => s.First >= firstItem);

        public void Clear() => _spans.Clear();
    }
}
