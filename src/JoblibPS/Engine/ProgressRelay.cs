using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Output;

namespace JoblibPS.Engine
{
    /// <summary>
    /// Carries the blocks' <c>Write-Progress</c> records from the workers to the caller's progress stream, as they
    /// arrive (progress is transient: it is not ordered with an item's output). Workers post from any thread; the
    /// engine drains on its pipeline thread, the only thread that writes.
    /// </summary>
    /// <remarks>
    /// Only the latest record of each activity waits here: a block that reports thousands of times per second
    /// costs the caller one write per activity per drain, not one per record, and the memory held stays one record
    /// per activity. A record the block wrote without a parent becomes a child of JoblibPS's own bar when that bar
    /// is shown, so the block's progress appears under "Invoke-JoblibParallel".
    /// </remarks>
    internal sealed class ProgressRelay
    {
        private readonly ConcurrentDictionary<int, ProgressRecord> _latest = new ConcurrentDictionary<int, ProgressRecord>();
        private readonly Action _wake;
        private int _pending;

        /// <param name="wake">Wakes the engine's wait; called once per record that finds nothing waiting.</param>
        public ProgressRelay(Action wake)
        {
            _wake = wake;
        }

        /// <summary>Any thread: a worker's record.</summary>
        public void Post(ProgressRecord record)
        {
            if (record == null) return;
            _latest[record.ActivityId] = record;
            if (Interlocked.Exchange(ref _pending, 1) == 0) _wake();
        }

        /// <summary>Pipeline thread: writes what waits, under <paramref name="parentActivityId"/> when given.</summary>
        public void Drain(IPipelineWriter writer, int? parentActivityId)
        {
            if (Interlocked.Exchange(ref _pending, 0) == 0) return;
            foreach (int activity in _latest.Keys)
            {
                if (!_latest.TryRemove(activity, out ProgressRecord record)) continue;
                if (parentActivityId.HasValue && record.ParentActivityId < 0 && record.ActivityId != parentActivityId.Value)
                {
                    record.ParentActivityId = parentActivityId.Value;
                }
                writer.WriteProgress(record);
            }
        }
    }
}
