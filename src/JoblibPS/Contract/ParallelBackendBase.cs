using System;
using System.Collections;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using JoblibPS.Backends;
using JoblibPS.Backends.Process;

namespace JoblibPS
{
    /// <summary>
    /// The backend contract, member for member joblib's <c>ParallelBackendBase</c> in .NET naming.
    /// A backend writes the two abstract members, <see cref="EffectiveNJobs"/> and <see cref="Submit"/> (only the
    /// backend knows where a task runs); every other member has a harmless default.
    /// </summary>
    /// <remarks>
    /// Threading contract: the engine calls every member on the pipeline thread of the runspace that runs
    /// Invoke-JoblibParallel, never concurrently. The only exception is the callback given to
    /// <see cref="Submit"/>, which a backend may call from any thread; the engine marshals the completion
    /// back to the pipeline thread before it calls <see cref="RetrieveResultCallback"/> or
    /// <see cref="RetrieveResult"/>. A backend written as a PowerShell class therefore needs no locking.
    /// Failing cleanly: a member may throw an exception that carries an ErrorRecord (IContainsErrorRecord), or in
    /// PowerShell throw an ErrorRecord with an id of its own; the call then fails with that record and its id. Any
    /// other exception from a member, a script error of a PowerShell class included (<c>throw 'text'</c>), breaks
    /// the contract (<see cref="ErrorIds.BackendContract"/>; see <see cref="Errors.ErrorRecords.OwnRecordOf"/>). The capability flags have public setters because PowerShell classes
    /// cannot reach protected members; only the backend itself should set them, in its constructor.
    /// Lifetime: one instance serves one call, or every call inside one Use-JoblibConfig scope. Per call the
    /// engine calls Configure, StartCall, Submit..., StopCall; Terminate ends the instance (at the end of a
    /// one-off call, or when the scope that created it ends).
    /// </remarks>
    public abstract class ParallelBackendBase
    {
        /// <summary>Creates a backend at nesting level 0 (a call made at the top level).</summary>
        protected ParallelBackendBase() : this(0) { }

        /// <summary>Creates a backend for calls made at <paramref name="nestingLevel"/> (0 = top level).</summary>
        protected ParallelBackendBase(int nestingLevel)
        {
            NestingLevel = nestingLevel;
        }

        /// <summary>True when results are read in the completion callback through <see cref="RetrieveResultCallback"/>; false to have <see cref="RetrieveResult"/> called.</summary>
        public bool SupportsRetrieveCallback { get; set; }

        /// <summary>True when <see cref="RetrieveResult"/> honours its timeout.</summary>
        public bool SupportsTimeout { get; set; }

        /// <summary>True when the backend can limit the threads of native libraries in its workers (-InnerMaxNumThreads).</summary>
        public bool SupportsInnerMaxNumThreads { get; set; }

        /// <summary>True when results may be streamed back as they complete (always true of the engine; kept for joblib parity).</summary>
        public bool SupportsReturnGenerator { get; set; }

        /// <summary>True when workers share the caller's memory, so objects passed to them are the caller's objects, not copies.</summary>
        public bool SupportsSharedMem { get; set; }

        /// <summary>True when workers are threads of the caller's process.</summary>
        public bool UsesThreads { get; set; }

        /// <summary>The number of jobs used when neither -NJobs nor a config scope sets one (joblib: 1).</summary>
        public int DefaultNJobs { get; set; } = 1;

        /// <summary>How deep this backend's calls are nested: 0 at the top level, one more for each level of Invoke-JoblibParallel inside a worker.</summary>
        public int NestingLevel { get; set; }

        /// <summary>
        /// A warning for the caller about the call just configured with <paramref name="nJobs"/> effective jobs (a
        /// built-in backend's notice: too many worker processes for this machine), or null. The engine writes it.
        /// </summary>
        internal virtual string ConfiguredWarning(int nJobs) => null;

        /// <summary>
        /// A warning for the caller about the abort just done (a built-in backend's notice: worker threads that a stop
        /// could not end), or null; read once, right after <see cref="AbortEverything"/>. The engine writes it.
        /// </summary>
        internal virtual string TakeAbortWarning() => null;

        /// <summary>Settings of the call being run: set by the engine before <see cref="Configure"/>, null again after <see cref="StopCall"/>.</summary>
        public ParallelCall Parallel { get; protected internal set; }

        /// <summary>
        /// Says how many jobs can run at once for the requested <paramref name="nJobs"/> (never 0: the engine
        /// rejects 0 before calling). joblib's rule for negative values is in <see cref="NJobs.Resolve"/>.
        /// </summary>
        public abstract int EffectiveNJobs(int nJobs);

        /// <summary>
        /// Allocates what one Invoke-JoblibParallel call needs and returns the effective number of jobs.
        /// Called on the pipeline thread before the first <see cref="Submit"/> of every call. A backend that
        /// cannot serve the call may throw <see cref="FallbackToBackendException"/> naming the backend to use
        /// instead (the threading backend falls back to sequential for one job, as joblib's does).
        /// </summary>
        /// <param name="nJobs">The requested number of jobs (already resolved from parameter, scope and default; never 0).</param>
        /// <param name="parallel">The call's settings.</param>
        /// <param name="backendArgs">The backend arguments of the config scope (never null, may be empty).</param>
        public virtual int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            Parallel = parallel;
            return EffectiveNJobs(nJobs);
        }

        /// <summary>Called on the pipeline thread once per call, after <see cref="Configure"/> and before the first task.</summary>
        public virtual void StartCall() { }

        /// <summary>Called on the pipeline thread once per call after the last result was read, also when the call failed or was stopped.</summary>
        public virtual void StopCall() { }

        /// <summary>
        /// Launches one task and returns a future-like object (anything but null: a .NET Task, the task itself,
        /// a handle of your own). The backend must arrange for <paramref name="callback"/> to be called, once, with
        /// that future when the task completes, from any thread (even synchronously, before Submit returns).
        /// </summary>
        /// <param name="task">A batch of items. It converts to <c>Func&lt;object&gt;</c>; <c>task.Invoke()</c> runs it on the calling thread and returns its result. It never throws for an error in the user's script: the error travels in the result.</param>
        /// <param name="callback">Call it with the future once the task is done.</param>
        public abstract object Submit(BatchTask task, Action<object> callback);

        /// <summary>
        /// Returns the task's result (the object <c>task.Invoke()</c> returned) from a completed future.
        /// Called on the pipeline thread after the callback fired, when <see cref="SupportsRetrieveCallback"/> is true.
        /// The default understands .NET Task objects, <see cref="BatchFuture"/> and a result passed as the future itself.
        /// </summary>
        public virtual object RetrieveResultCallback(object future)
        {
            return FutureResult(future, Timeout.InfiniteTimeSpan);
        }

        /// <summary>
        /// Returns the task's result from a future, waiting up to <paramref name="timeout"/> (infinite when the
        /// call has no timeout). Called on the pipeline thread after the callback fired, when
        /// <see cref="SupportsRetrieveCallback"/> is false.
        /// </summary>
        public virtual object RetrieveResult(object future, TimeSpan timeout)
        {
            return FutureResult(future, timeout);
        }

        /// <summary>
        /// Stops running tasks and drops queued ones, after a task failed, timed out, or the call was stopped.
        /// With <paramref name="ensureReady"/> the backend must be usable again for the next call of the same
        /// config scope; without it, it will not be used again and may shut down. The default terminates and,
        /// when <paramref name="ensureReady"/>, configures again (joblib's default).
        /// </summary>
        public virtual void AbortEverything(bool ensureReady)
        {
            var parallel = Parallel;
            Terminate();
            if (ensureReady && parallel != null)
            {
                Configure(parallel.NJobs, parallel, parallel.BackendArguments);
            }
        }

        /// <summary>Releases everything the backend holds. Called on the pipeline thread once, when the instance's owner (a call or a config scope) ends.</summary>
        public virtual void Terminate() { }

        /// <summary>
        /// Returns the backend (and optionally the number of jobs, null to let the nested call decide) that an
        /// Invoke-JoblibParallel run inside one of this backend's workers uses. Called on the pipeline thread once
        /// per batch. joblib's rule, the default: threading at the first nesting level, sequential below.
        /// </summary>
        public virtual NestedBackend GetNestedBackend()
        {
            int level = NestingLevel + 1;
            if (level > 1)
            {
                return new NestedBackend(new Backends.Sequential.SequentialBackend(level), null);
            }
            return new NestedBackend(new Backends.Threading.ThreadingBackend(level), null);
        }

        /// <summary>
        /// Returns the number of items to put in the next batch when -BatchSize is auto. Called on the pipeline
        /// thread before each batch is cut. The default is joblib's AutoBatchingMixin tuned for PowerShell.
        /// </summary>
        public virtual int ComputeBatchSize()
        {
            return AutoBatcher.ComputeBatchSize();
        }

        /// <summary>Reports that a batch of <paramref name="batchSize"/> items took <paramref name="duration"/>. Called on the pipeline thread for every completed batch.</summary>
        public virtual void BatchCompleted(int batchSize, TimeSpan duration)
        {
            AutoBatcher.BatchCompleted(batchSize, duration);
        }

        /// <summary>The batch sizer behind the default <see cref="ComputeBatchSize"/>; the engine resets it at the start of every call.</summary>
        protected AutoBatchSizer AutoBatcher { get; } = new AutoBatchSizer();

        /// <summary>Starts the default batch sizer afresh for a call, from the item cost remembered for the call's block when there is one.</summary>
        internal void ResetBatchSizer(double? secondsPerItem = null)
        {
            AutoBatcher.Reset();
            if (secondsPerItem.HasValue) AutoBatcher.StartFrom(secondsPerItem.Value);
        }

        /// <summary>
        /// The environment variables that limit native thread pools (OpenMP, OpenBLAS, MKL, ...) in worker
        /// processes, joblib's rule: -InnerMaxNumThreads if given, else max(CPU count / nJobs, 1); a variable
        /// the caller's environment already sets is left out so the caller's value carries over.
        /// </summary>
        protected IDictionary<string, string> PrepareWorkerEnvironment(int nJobs)
        {
            return WorkerEnvironment.ThreadLimits(nJobs, Parallel?.InnerMaxNumThreads);
        }

        /// <summary>The backend's name for messages: the registered name when it has one, else its type name.</summary>
        public override string ToString()
        {
            return BackendRegistry.NameOf(this) ?? GetType().Name;
        }

        internal static object FutureResult(object future, TimeSpan timeout)
        {
            future = Unwrap(future);
            switch (future)
            {
                case BatchResult result:
                    return result;
                case BatchFuture batchFuture:
                    return batchFuture.GetResult(timeout);
                case Task task:
                    if (!task.Wait(timeout))
                    {
                        throw new TimeoutException("The task did not complete within the timeout.");
                    }
                    var property = task.GetType().GetProperty("Result");
                    return property?.GetValue(task);
                default:
                    throw new NotSupportedException(
                        $"The default RetrieveResult does not understand a future of type '{future?.GetType().FullName ?? "null"}'; override RetrieveResultCallback or RetrieveResult.");
            }
        }

        internal static object Unwrap(object value)
        {
            return value is System.Management.Automation.PSObject pso ? pso.BaseObject : value;
        }
    }

    /// <summary>What <see cref="ParallelBackendBase.GetNestedBackend"/> returns: the backend for nested calls and an optional number of jobs.</summary>
    public sealed class NestedBackend
    {
        /// <summary>Creates the pair.</summary>
        public NestedBackend(ParallelBackendBase backend, int? nJobs)
        {
            Backend = backend ?? throw new ArgumentNullException(nameof(backend));
            NJobs = nJobs;
        }

        /// <summary>The backend nested calls use.</summary>
        public ParallelBackendBase Backend { get; }

        /// <summary>The number of jobs nested calls use unless they give -NJobs; null for the backend's default.</summary>
        public int? NJobs { get; }
    }

    /// <summary>Thrown from <see cref="ParallelBackendBase.Configure"/> to have the engine use another backend for this call (joblib's FallbackToBackend).</summary>
    public sealed class FallbackToBackendException : Exception
    {
        /// <summary>Creates the request.</summary>
        public FallbackToBackendException(ParallelBackendBase backend)
            : base($"Falling back to the backend '{backend}'.")
        {
            Backend = backend ?? throw new ArgumentNullException(nameof(backend));
        }

        /// <summary>The backend to use instead.</summary>
        public ParallelBackendBase Backend { get; }
    }
}
