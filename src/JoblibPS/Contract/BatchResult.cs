using System;
using System.Collections.Generic;
using System.Management.Automation;
using JoblibPS.Driver;
using JoblibPS.Errors;

namespace JoblibPS
{
    /// <summary>
    /// What one <see cref="BatchTask"/> produced: each finished item's records (output objects and stream records
    /// in the order the block wrote them), and how the batch ended.
    /// </summary>
    public sealed class BatchResult
    {
        private readonly List<PSObject> _records;
        private readonly List<int> _itemStarts;

        private BatchResult(BatchTask task, List<PSObject> records, List<int> itemStarts, TimeSpan duration)
        {
            Task = task;
            _records = records;
            _itemStarts = itemStarts;
            Duration = duration;
        }

        /// <summary>The task this result belongs to.</summary>
        public BatchTask Task { get; }

        /// <summary>How long the batch ran in its worker.</summary>
        public TimeSpan Duration { get; }

        /// <summary>How many items started; on success, every item of the batch.</summary>
        public int StartedItems => _itemStarts.Count;

        /// <summary>The terminating error of the failing item, or null.</summary>
        public ErrorRecord Error { get; private set; }

        /// <summary>The index within the batch of the item that failed, timed out, or was running when the batch stopped; -1 when none.</summary>
        public int FailedItem { get; private set; } = -1;

        /// <summary>How the batch ended.</summary>
        public BatchOutcome Outcome { get; private set; }

        /// <summary>The records of item <paramref name="index"/> (within the batch) in the order the block wrote them.</summary>
        public IEnumerable<PSObject> RecordsOf(int index)
        {
            int start = _itemStarts[index];
            int end = index + 1 < _itemStarts.Count ? _itemStarts[index + 1] : _records.Count;
            for (int i = start; i < end; i++) yield return _records[i];
        }

        /// <summary>The number of items whose records are complete and may be written.</summary>
        public int CompleteItems => Outcome == BatchOutcome.Completed ? _itemStarts.Count : Math.Min(_itemStarts.Count, Math.Max(0, FailedItem));

        /// <summary>
        /// Reads the output of <see cref="BatchTask.DriverScript"/> (with the marker of <paramref name="task"/>) into a result.
        /// <paramref name="failure"/> is the exception the invocation ended with, if any.
        /// </summary>
        public static BatchResult FromDriverOutput(BatchTask task, IEnumerable<PSObject> output, Exception failure, bool stopped, bool timedOut, TimeSpan duration)
        {
            if (task == null) throw new ArgumentNullException(nameof(task));
            var records = new List<PSObject>();
            var starts = new List<int>(task.Count);
            string marker = task.Marker;
            string endMarker = marker + WorkerDriver.ItemsEndSuffix;
            bool ranToEnd = false;
            var truncated = new bool[1];
            if (output != null)
            {
                foreach (PSObject record in Unchunk(output, marker, truncated))
                {
                    if (IsText(record, marker))
                    {
                        starts.Add(records.Count);
                    }
                    else if (IsText(record, endMarker))
                    {
                        ranToEnd = true;
                    }
                    else if (starts.Count > 0)
                    {
                        records.Add(record);
                    }
                }
            }

            return Decide(task, records, starts, ranToEnd, truncated[0], failure, stopped, timedOut, duration);
        }

        /// <summary>
        /// Reads the output of a batch run in this process with an <see cref="ItemLog"/> in place of the markers.
        /// </summary>
        internal static BatchResult FromLog(BatchTask task, IList<PSObject> output, ItemLog log, Exception failure, bool stopped, bool timedOut, TimeSpan duration)
        {
            List<int> logged = log.Starts;
            int first = logged.Count == 0 ? output.Count : logged[0];
            var records = new List<PSObject>(Math.Max(0, output.Count - first));
            for (int i = first; i < output.Count; i++) records.Add(output[i]);
            var starts = new List<int>(logged.Count);
            foreach (int start in logged) starts.Add(start - first);
            return Decide(task, records, starts, log.Ended, false, failure, stopped, timedOut, duration);
        }

        /// <summary>How the batch ended, from its records, where each started item's records begin, and how the invocation ended.</summary>
        private static BatchResult Decide(BatchTask task, List<PSObject> records, List<int> starts, bool ranToEnd, bool truncated, Exception failure, bool stopped, bool timedOut, TimeSpan duration)
        {
            var result = new BatchResult(task, records, starts, duration);
            int running = starts.Count - 1;
            if (timedOut)
            {
                result.Outcome = BatchOutcome.TimedOut;
                result.FailedItem = Math.Max(0, running);
            }
            else if (truncated && !stopped)
            {
                // The worker could not serialize an object of this item's output: say so rather than lose it. This comes
                // before a plain failure, which a cut-short chunk may also cause.
                result.Outcome = BatchOutcome.Failed;
                result.FailedItem = Math.Max(0, running);
                result.Error = new ErrorRecord(
                    new InvalidOperationException("The output of this item could not be sent back from the worker process: one of its objects could not be serialized (it throws when it is enumerated or read). Process backends copy results back (as Start-Job does): return plain data, or use the threading backend."),
                    ErrorIds.ValueCannotTravel, ErrorCategory.InvalidData, null);
            }
            else if (failure != null && !(failure is PipelineStoppedException && stopped))
            {
                result.Outcome = BatchOutcome.Failed;
                result.FailedItem = Math.Max(0, running);
                result.Error = ErrorRecords.FromWorkerException(failure);
            }
            else if (stopped)
            {
                result.Outcome = BatchOutcome.Stopped;
                result.FailedItem = Math.Max(0, running);
            }
            else if (!ranToEnd || starts.Count < task.Count)
            {
                // The invocation ended early without an error: the block called 'exit'.
                result.Outcome = BatchOutcome.Exited;
                result.FailedItem = Math.Max(0, running);
            }
            else
            {
                result.Outcome = BatchOutcome.Completed;
            }
            return result;
        }

        /// <summary>
        /// The result of a batch whose worker process died while it ran item <paramref name="failedItem"/>, with the
        /// records of the items before it that the worker sent before it died (<paramref name="received"/>: the
        /// driver's chunks; null when nothing came back); <paramref name="error"/> says what happened.
        /// <see cref="CompleteItems"/> then counts the items whose records all arrived (an item's records are complete
        /// once the next item's marker arrived).
        /// </summary>
        internal static BatchResult ForWorkerCrash(BatchTask task, int failedItem, ErrorRecord error, TimeSpan duration, IEnumerable<PSObject> received)
        {
            if (received == null) return ForWorkerCrash(task, failedItem, error, duration);
            var records = new List<PSObject>();
            var starts = new List<int>();
            string marker = task.Marker;
            foreach (PSObject record in Unchunk(received, marker, new bool[1]))
            {
                if (IsText(record, marker)) starts.Add(records.Count);
                else if (starts.Count > 0) records.Add(record);
            }
            // The last item that started here has only part of its records (or none): it is not kept.
            int complete = Math.Max(0, Math.Min(starts.Count - 1, failedItem));
            if (complete < starts.Count)
            {
                records.RemoveRange(starts[complete], records.Count - starts[complete]);
                starts.RemoveRange(complete, starts.Count - complete);
            }
            return new BatchResult(task, records, starts, duration)
            {
                Outcome = BatchOutcome.Failed,
                FailedItem = failedItem,
                Error = error,
            };
        }

        /// <summary>
        /// A completed result holding records recorded earlier (a checkpoint's): one list of records per item, no task.
        /// Only ever written, never settled.
        /// </summary>
        internal static BatchResult FromRecordedItems(IEnumerable<IEnumerable<PSObject>> items)
        {
            var records = new List<PSObject>();
            var starts = new List<int>();
            foreach (IEnumerable<PSObject> item in items)
            {
                starts.Add(records.Count);
                records.AddRange(item);
            }
            return new BatchResult(null, records, starts, TimeSpan.Zero) { Outcome = BatchOutcome.Completed };
        }

        /// <summary>
        /// A completed result holding records recorded earlier (a checkpoint's), already laid out: item i's records
        /// begin at <paramref name="starts"/>[i]. Takes both lists. Only ever written, never settled.
        /// </summary>
        internal static BatchResult FromRecorded(List<PSObject> records, List<int> starts)
        {
            return new BatchResult(null, records, starts, TimeSpan.Zero) { Outcome = BatchOutcome.Completed };
        }

        /// <summary>The number of item markers in <paramref name="received"/> (a process worker's chunks).</summary>
        internal static int CountStarts(BatchTask task, IEnumerable<PSObject> received)
        {
            int count = 0;
            foreach (PSObject record in Unchunk(received, task.Marker, new bool[1]))
            {
                if (IsText(record, task.Marker)) count++;
            }
            return count;
        }

        /// <summary>True when <paramref name="record"/> is the string <paramref name="text"/> (a marker or sentinel of the driver), compared ordinally.</summary>
        private static bool IsText(PSObject record, string text) => record?.BaseObject is string value && string.Equals(value, text, StringComparison.Ordinal);

        /// <summary>
        /// The result of a batch whose worker died while it ran item <paramref name="failedItem"/> and sent nothing
        /// back: no item's records are kept; <paramref name="error"/> says what happened.
        /// </summary>
        internal static BatchResult ForWorkerCrash(BatchTask task, int failedItem, ErrorRecord error, TimeSpan duration)
        {
            return new BatchResult(task, new List<PSObject>(), new List<int>(), duration)
            {
                Outcome = BatchOutcome.Failed,
                FailedItem = failedItem,
                Error = error,
            };
        }

        /// <summary>
        /// The driver's records in order, with the chunks an out-of-process worker sends (see <see cref="WorkerDriver"/>)
        /// unrolled. Their elements come back deserialized, plain values unwrapped: each is wrapped as the records of
        /// a local runspace are. <paramref name="truncated"/>[0] becomes true when a chunk arrived cut short.
        /// </summary>
        private static IEnumerable<PSObject> Unchunk(IEnumerable<PSObject> output, string marker, bool[] truncated)
        {
            string end = marker + WorkerDriver.ChunkEndSuffix;
            string done = marker + WorkerDriver.BatchEndSuffix;
            foreach (PSObject record in output)
            {
                if (!WorkerDriver.IsChunk(record, marker, out System.Collections.IList chunk))
                {
                    yield return record;
                    continue;
                }
                int count = chunk.Count;
                object last = chunk[count - 1] is PSObject lastObject ? lastObject.BaseObject : chunk[count - 1];
                if (last is string lastText && (lastText == end || lastText == done)) count--;
                else truncated[0] = true;
                for (int i = 1; i < count; i++)
                {
                    object element = chunk[i];
                    yield return element == null ? null : element as PSObject ?? PSObject.AsPSObject(element);
                }
            }
        }

        /// <summary>
        /// A copy of this result whose first item's records begin with <paramref name="records"/>: notices of the
        /// backend itself (the remote backend's "host lost" warning), written by the engine in the batch's place in
        /// the output like the worker's own records. This result when no item started.
        /// </summary>
        internal BatchResult WithLeadingRecords(IReadOnlyList<PSObject> records)
        {
            if (_itemStarts.Count == 0 || records.Count == 0) return this;
            var all = new List<PSObject>(records.Count + _records.Count);
            all.AddRange(records);
            all.AddRange(_records);
            var starts = new List<int>(_itemStarts.Count) { 0 };
            for (int i = 1; i < _itemStarts.Count; i++) starts.Add(_itemStarts[i] + records.Count);
            return new BatchResult(Task, all, starts, Duration) { Outcome = Outcome, FailedItem = FailedItem, Error = Error };
        }

        /// <summary>
        /// The verdict on a batch that stopped making progress past its item timeout and never came back (an item
        /// stuck in a .NET call): timed out at the last item that started (<paramref name="itemsStarted"/> of them),
        /// with no records kept (the batch's output is not read: it is still being written).
        /// </summary>
        internal static BatchResult ForStalled(BatchTask task, int itemsStarted)
        {
            return new BatchResult(task, new List<PSObject>(), new List<int>(), TimeSpan.Zero)
            {
                Outcome = BatchOutcome.TimedOut,
                FailedItem = Math.Max(0, Math.Min(task.Count - 1, itemsStarted - 1)),
            };
        }

        internal static BatchResult ForStopped(BatchTask task, DateTime started)
        {
            return new BatchResult(task, new List<PSObject>(), new List<int>(), DateTime.UtcNow - started)
            {
                Outcome = BatchOutcome.Stopped,
                FailedItem = 0,
            };
        }
    }

    /// <summary>How a batch ended.</summary>
    public enum BatchOutcome
    {
        /// <summary>Every item ran to its end.</summary>
        Completed,
        /// <summary>An item threw a terminating error.</summary>
        Failed,
        /// <summary>An item ran longer than -TimeoutSeconds and was stopped.</summary>
        TimedOut,
        /// <summary>The batch was stopped (abort, Ctrl+C) before it finished.</summary>
        Stopped,
        /// <summary>An item called <c>exit</c>, which ends the worker's script, not just the item.</summary>
        Exited,
    }
}
