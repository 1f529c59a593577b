using System;
using System.Collections;

namespace JoblibPS.Backends.Sequential
{
    /// <summary>
    /// Runs every batch at once in the caller's own runspace, on the pipeline thread: the debugging path
    /// (joblib's n_jobs=1). Breakpoints set in the caller's session stop inside the block.
    /// </summary>
    public class SequentialBackend : ParallelBackendBase
    {
        /// <summary>Creates the backend for top-level calls.</summary>
        public SequentialBackend() : this(0) { }

        /// <summary>Creates the backend for calls at <paramref name="nestingLevel"/>.</summary>
        public SequentialBackend(int nestingLevel) : base(nestingLevel)
        {
            SupportsRetrieveCallback = true;
            SupportsSharedMem = true;
            SupportsReturnGenerator = true;
            SupportsTimeout = true;
            AutoBatcher.MinIdealBatchDuration = AutoBatchSizer.InProcessMinIdealBatchDuration;
            AutoBatcher.MaxIdealBatchDuration = AutoBatchSizer.InProcessMaxIdealBatchDuration;
            AutoBatcher.MaxBatchSize = AutoBatchSizer.InProcessMaxBatchSize;
        }

        /// <summary>Always one job.</summary>
        public override int EffectiveNJobs(int nJobs)
        {
            if (nJobs == 0) throw new ArgumentOutOfRangeException(nameof(nJobs), "NJobs 0 has no meaning.");
            return 1;
        }

        /// <summary>Runs the task now, in the caller's runspace, and calls back before returning.</summary>
        public override object Submit(BatchTask task, Action<object> callback)
        {
            var future = new BatchFuture(task, callback);
            future.Complete(task.InvokeInCurrentRunspace());
            return future;
        }

        /// <summary>Nested calls run sequentially too, one level deeper.</summary>
        public override NestedBackend GetNestedBackend()
        {
            return new NestedBackend(new SequentialBackend(NestingLevel + 1), null);
        }
    }
}
