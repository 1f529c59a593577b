using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using JoblibPS.Output;

namespace JoblibPS.Engine
{
    /// <summary>
    /// A run of consecutive input items and what is known of them: a batch sent to a worker (its task and, once
    /// back, its result), a part of a batch that runs again (after a failure, -OnError Continue or -Retry), or one
    /// failed item's final error. Pipeline thread only.
    /// </summary>
    internal sealed class Span
    {
        public Span(long first, int count, object[] items)
        {
            First = first;
            Count = count;
            Items = items;
        }

        /// <summary>The input index of the span's first item.</summary>
        public long First { get; }

        public int Count { get; }

        public object[] Items { get; }

        /// <summary>The task running the span, while it runs or after; null for an error span or one not yet submitted.</summary>
        public BatchTask Task { get; set; }

        /// <summary>The result of its task; the span is written from it.</summary>
        public BatchResult Result { get; set; }

        /// <summary>How many items of <see cref="Result"/> to write (all of them, or those before a failed item).</summary>
        public int WriteCount { get; set; }

        /// <summary>For a failed item's span: the records its last attempt wrote, then its error.</summary>
        public IReadOnlyList<PSObject> FinalRecords { get; set; }

        public ErrorRecord FinalError { get; set; }

        /// <summary>The attempt the span's task is (1 for the first run).</summary>
        public int Attempt { get; set; } = 1;

        /// <summary>For a retry: the places its earlier attempts ran in, for the backend to avoid.</summary>
        public IReadOnlyList<string> Avoid { get; set; }

        /// <summary>The engine's clock ticks at which a retry may be submitted.</summary>
        public long DueTicks { get; set; }

        /// <summary>How many times the backend called back for its task (one is right).</summary>
        public int Callbacks;

        /// <summary>True once it can be written.</summary>
        public bool Ready => Result != null || FinalError != null;

        /// <summary>Items of the span already written.</summary>
        public int Written { get; set; }
    }

    /// <summary>
    /// The spans of one call not yet written, keyed by their first input index, and the rule for writing them: in
    /// input order (a span is written once every earlier item was), or as they become ready with -Unordered. Every
    /// input item is covered by exactly one span until written, so no item is written twice or skipped. Only the
    /// pipeline thread writes.
    /// </summary>
    internal sealed class OutputOrder
    {
        private readonly SortedDictionary<long, Span> _spans = new SortedDictionary<long, Span>();
        private readonly bool _ordered;
        private long _nextToWrite;

        public OutputOrder(bool ordered)
        {
            _ordered = ordered;
        }

        /// <summary>The spans not yet written.</summary>
        public int Count => _spans.Count;

        /// <summary>The spans ready but not written (waiting for an earlier one, in order).</summary>
        public int ReadyCount => _spans.Values.Count(s => s.Ready);

        public IEnumerable<Span> Spans => _spans.Values;

        public void Add(Span span) => _spans.Add(span.First, span);

        /// <summary>Replaces <paramref name="span"/> by the spans its items are now covered by (in input order).</summary>
        public void Split(Span span, IEnumerable<Span> parts)
        {
            _spans.Remove(span.First);
            foreach (Span part in parts) _spans.Add(part.First, part);
        }

        /// <summary>
        /// Writes what may be written now to <paramref name="writer"/>, item by item, each between its
        /// <see cref="IPipelineWriter.BeginItem"/> and <see cref="IPipelineWriter.EndItem"/> (a failed item's error
        /// through <see cref="IPipelineWriter.WriteOwnError"/>): in order, spans that start before
        /// <paramref name="before"/> only (a failing call writes nothing from its failure on).
        /// </summary>
        public void WriteReady(IPipelineWriter writer, Action<int> written, long before = long.MaxValue)
        {
            if (_ordered)
            {
                // Spans cover the input without gaps, so the next one to write starts exactly where the last ended: a
                // lookup, not an enumeration (this runs for every input item).
                while (_spans.TryGetValue(_nextToWrite, out Span first))
                {
                    if (!first.Ready || first.First >= before) return;
                    Write(first, writer, written);
                    _spans.Remove(first.First);
                    _nextToWrite = first.First + first.Count;
                }
            }
            else if (_spans.Count > 0)
            {
                foreach (Span span in _spans.Values.Where(s => s.Ready).ToList())
                {
                    Write(span, writer, written);
                    _spans.Remove(span.First);
                }
            }
        }

        /// <summary>Writes the first <paramref name="count"/> items of a span that failed the call (its earlier items' output comes before the error).</summary>
        public static void WritePart(Span span, int count, IPipelineWriter writer)
        {
            if (span.Result == null) return;
            bool items = writer.TracksItems;
            for (int i = span.Written; i < count && i < span.Result.StartedItems; i++)
            {
                if (items) writer.BeginItem(span.First + i);
                foreach (PSObject record in span.Result.RecordsOf(i)) StreamRecords.Write(record, writer);
                span.Written = i + 1;
                if (items) writer.EndItem(span.First + i, null);
            }
        }

        private static void Write(Span span, IPipelineWriter writer, Action<int> written)
        {
            if (span.FinalError != null)
            {
                writer.BeginItem(span.First);
                foreach (PSObject record in span.FinalRecords ?? Array.Empty<PSObject>()) StreamRecords.Write(record, writer);
                writer.WriteOwnError(span.FinalError);
                writer.EndItem(span.First, span.FinalError);
                return;
            }
            WritePart(span, span.WriteCount, writer);
            written(span.WriteCount);
        }
    }
}
