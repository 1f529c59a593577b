using System;
using System.Collections;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Threading
{
    /// <summary>
    /// Runs batches on worker threads, each with a runspace of the module's warm in-process cache. The default
    /// backend: PowerShell has no GIL. With one effective job it falls back to <see cref="Sequential.SequentialBackend"/>
    /// (joblib's ThreadingBackend does the same).
    /// </summary>
    public class ThreadingBackend : ParallelBackendBase
    {
        private WorkerPool _pool;

        /// <summary>Creates the backend for top-level calls.</summary>
        public ThreadingBackend() : this(0) { }

        /// <summary>Creates the backend for calls at <paramref name="nestingLevel"/>.</summary>
        public ThreadingBackend(int nestingLevel) : base(nestingLevel)
        {
            SupportsRetrieveCallback = true;
            SupportsSharedMem = true;
            SupportsTimeout = true;
            SupportsReturnGenerator = true;
            UsesThreads = true;
            AutoBatcher.MinIdealBatchDuration = AutoBatchSizer.InProcessMinIdealBatchDuration;
            AutoBatcher.MaxIdealBatchDuration = AutoBatchSizer.InProcessMaxIdealBatchDuration;
            AutoBatcher.MaxBatchSize = AutoBatchSizer.InProcessMaxBatchSize;
        }

        /// <summary>joblib's CPU rule (-1 = every CPU).</summary>
        public override int EffectiveNJobs(int nJobs)
        {
            return NJobs.Resolve(nJobs);
        }

        /// <summary>Starts (or resizes) the worker threads; one job falls back to sequential.</summary>
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            int n = EffectiveNJobs(nJobs);
            Parallel = parallel;
            if (n == 1 && parallel?.InJob != true)
            {
                throw new FallbackToBackendException(new Sequential.SequentialBackend(NestingLevel));
            }
            if (_pool == null) _pool = new WorkerPool(new RunspaceWorkerKind(), StopGrace);
            _pool.Resize(n);
            _pool.SetLimit(n);
            return n;
        }

        /// <summary>Queues the task for the next free worker.</summary>
        public override object Submit(BatchTask task, Action<object> callback)
        {
            if (_pool == null) throw new InvalidOperationException("The threading backend was not configured.");
            return _pool.Submit(task, callback, this);
        }

        /// <summary>Drops queued tasks and stops running ones; keeps the workers when <paramref name="ensureReady"/>.</summary>
        public override void AbortEverything(bool ensureReady)
        {
            WorkerPool pool = _pool;
            if (pool != null)
            {
                int abandoned = pool.Abort(this);
                if (abandoned > 0) _abortWarning = StuckWarning(abandoned, pool.StuckThreads);
            }
            if (!ensureReady) Terminate();
        }

        private string _abortWarning;

        internal override string TakeAbortWarning()
        {
            string warning = _abortWarning;
            _abortWarning = null;
            return warning;
        }

        /// <summary>
        /// What the caller is told when a stop gave up on worker threads: .NET cannot abort a thread, so one inside a
        /// call PowerShell cannot interrupt keeps running until that call returns; its runspace is never used again.
        /// </summary>
        internal static string StuckWarning(int abandoned, int stuckInPool)
        {
            string threads = abandoned == 1 ? "1 worker thread" : $"{abandoned} worker threads";
            return $"{threads} did not stop within {StopGrace.TotalSeconds:0.#} s: each is inside a call PowerShell cannot interrupt (a .NET method such as [Threading.Thread]::Sleep, " +
                $"or a blocking read). The call did not wait for {(abandoned == 1 ? "it" : "them")}: {(abandoned == 1 ? "its runspace is" : "their runspaces are")} abandoned and never reused, " +
                $"and fresh workers take {(abandoned == 1 ? "its" : "their")} place. A stuck thread ends only when its call returns (it does not keep pwsh from exiting); {stuckInPool} of this backend's threads are stuck now. " +
                "Give such calls a timeout of their own (for example Wait(TimeSpan), or CancellationToken), or use the loky backend, whose stuck workers are killed.";
        }

        /// <summary>
        /// How long an abort waits for running batches to stop before it gives up on their threads: a PowerShell
        /// pipeline stops within tens of milliseconds; one inside a .NET call (Thread.Sleep, a blocking read) never
        /// does, and its thread is left to finish while a fresh runspace takes its place.
        /// </summary>
        internal static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(1);

        /// <summary>Ends the worker threads; their runspaces go back, to be reset, to the module's warm cache.</summary>
        public override void Terminate()
        {
            _pool?.Dispose();
            _pool = null;
        }
    }
}
