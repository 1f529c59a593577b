using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using JoblibPS.Workers;
using JoblibPS.Engine;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// What loky and multiprocessing share: batches run in pwsh worker processes (out-of-process runspaces), so
    /// a crash, a leaking module or a native library that is not thread-safe cannot take the caller down, and
    /// each worker has its own garbage-collected heap. Items, -ArgumentList and <c>$using:</c> values travel
    /// serialized; results come back deserialized (property bags), as with Start-Job.
    /// </summary>
    /// <remarks>
    /// Worker environment, in the order applied (a later one wins): <see cref="ProcessBackendOptions.DefaultWorkerEnvironment"/>
    /// (the garbage-collector budget), the thread limits of joblib's rule (<see cref="ParallelBackendBase.PrepareWorkerEnvironment"/>),
    /// the process nesting depth (<see cref="DepthVariable"/>), then the Environment backend argument.
    /// With one effective job the backend falls back to sequential, as joblib's process backends do.
    /// </remarks>
    public abstract class WorkerProcessBackend : ParallelBackendBase
    {
        /// <summary>How many levels of worker processes may nest: loky's LOKY_MAX_DEPTH default.</summary>
        public const int DefaultMaxDepth = 10;

        /// <summary>The variable that holds a worker's process nesting depth (1 in a worker of a top-level call).</summary>
        public const string DepthVariable = "JOBLIBPS_PROCESS_DEPTH";

        /// <summary>Overrides <see cref="DefaultMaxDepth"/>, like LOKY_MAX_DEPTH.</summary>
        public const string MaxDepthVariable = "JOBLIBPS_MAX_DEPTH";

        /// <summary>The longest Configure waits for workers to start when the call has -TimeoutSeconds (a loaded machine may take 20 s).</summary>
        private static readonly TimeSpan WorkerStartLimit = TimeSpan.FromSeconds(60);

        internal WorkerProcessBackend(ProcessBackendOptions options, int nestingLevel) : base(nestingLevel)
        {
            Options = options ?? throw new ArgumentNullException(nameof(options));
            SupportsInnerMaxNumThreads = true;
            SupportsRetrieveCallback = true;
            SupportsTimeout = true;
            SupportsReturnGenerator = true;
            SupportsSharedMem = false;
            UsesThreads = false;
        }

        /// <summary>The backend arguments this instance was created with.</summary>
        internal ProcessBackendOptions Options { get; }

        internal WorkerPool Pool => _shell.Pool;

        private readonly PoolShell _shell = new PoolShell();

        private ProcessWorkerKind _kind;

        /// <summary>joblib's CPU rule (-1 = every CPU).</summary>
        public override int EffectiveNJobs(int nJobs)
        {
            return NJobs.Resolve(nJobs);
        }

        /// <summary>Gets workers ready (they start in parallel; the call does not wait for them); one job falls back to sequential.</summary>
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            Parallel = parallel;
            int n = EffectiveNJobs(nJobs);
            if (n == 1)
            {
                throw new FallbackToBackendException(new Sequential.SequentialBackend(NestingLevel));
            }
            ErrorRecord depthError = DepthError();
            if (depthError != null) throw new TerminatingErrorException(depthError);
            WorkerPool pool = AcquirePool(out ProcessWorkerKind kind);
            if (pool != Pool)
            {
                WorkerPool previous = _shell.Take();
                if (previous != null) ReleasePool(previous);
            }
            kind.SetEnvironment(WorkerEnvironmentFor(n));
            pool.Resize(n);
            pool.SetLimit(n);
            _shell.Pool = pool;
            _kind = kind;
            if (parallel?.Timeout != null)
            {
                // The engine's stall guard counts from the call's start; time a batch spends waiting for a pwsh to
                // start is no item's time, so with -TimeoutSeconds the call starts once its workers are up.
                pool.Prestart();
                pool.WaitReady(WorkerStartLimit, parallel.Stopping);
            }
            return n;
        }

        /// <summary>
        /// What one idle worker process takes, in MB: a pwsh with JoblibPS's assembly loaded and the driver compiled
        /// (resident set measured on Linux x64, pwsh 7.6.9: 125 to 135 MB).
        /// </summary>
        internal const int WorkerMemoryMB = 130;

        /// <summary>More workers than this many per CPU is oversubscription worth a warning (each is a whole pwsh).</summary>
        internal const int WorkersPerCpuWarning = 2;

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Warned = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();

        /// <summary>
        /// Warns, once per backend and NJobs in this session, when the call may start more than
        /// <see cref="WorkersPerCpuWarning"/> worker processes per CPU: each is a pwsh of about <see cref="WorkerMemoryMB"/> MB.
        /// </summary>
        internal override string ConfiguredWarning(int nJobs)
        {
            int cpus = Environment.ProcessorCount;
            if (nJobs <= WorkersPerCpuWarning * cpus || !Warned.TryAdd(ToString() + ":" + nJobs.ToString(CultureInfo.InvariantCulture), true)) return null;
            long mb = (long)nJobs * WorkerMemoryMB;
            return $"-NJobs {nJobs} on the {this} backend may start {nJobs} pwsh worker processes on a machine with {cpus} CPUs: " +
                $"about {mb.ToString("N0", CultureInfo.InvariantCulture)} MB of memory ({WorkerMemoryMB} MB each), and no faster than {cpus} for CPU-bound work. " +
                "Workers start only as batches wait for them. Use a smaller -NJobs (-1 is one per CPU), or the threading backend for I/O-bound work.";
        }

        /// <summary>Queues the batch for the next free worker.</summary>
        public override object Submit(BatchTask task, Action<object> callback) => _shell.Submit(this, task, callback);

        /// <summary>
        /// Drops this call's queued batches and stops its running ones; workers that do not stop within the kind's
        /// stop grace are killed and replaced when work needs them, so the pool is whole again
        /// (<paramref name="ensureReady"/> or not: loky's pool serves later calls).
        /// </summary>
        public override void AbortEverything(bool ensureReady)
        {
            _shell.Abort(this);
            if (!ensureReady) Terminate();
        }

        internal override string TakeAbortWarning() => _shell.TakeAbortWarning();

        /// <summary>Releases this instance's hold on its pool.</summary>
        public override void Terminate()
        {
            _kind = null;
            WorkerPool pool = _shell.Take();
            if (pool != null) ReleasePool(pool);
        }

        /// <summary>The pool (and its kind) for the call being configured, not yet sized, held by this instance until <see cref="ReleasePool"/>.</summary>
        internal abstract WorkerPool AcquirePool(out ProcessWorkerKind kind);

        /// <summary>Called when this instance lets go of <paramref name="pool"/>.</summary>
        internal abstract void ReleasePool(WorkerPool pool);

        /// <summary>The variables set for workers started for <paramref name="nJobs"/> jobs.</summary>
        internal IDictionary<string, string> WorkerEnvironmentFor(int nJobs)
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, string> pair in ProcessBackendOptions.DefaultWorkerEnvironment) environment[pair.Key] = pair.Value;
            foreach (KeyValuePair<string, string> pair in PrepareWorkerEnvironment(nJobs)) environment[pair.Key] = pair.Value;
            environment[DepthVariable] = (CurrentDepth + 1).ToString(CultureInfo.InvariantCulture);
            foreach (KeyValuePair<string, string> pair in Options.Environment) environment[pair.Key] = pair.Value;
            return environment;
        }

        /// <summary>The process nesting depth of this process: 0 in the caller, 1 in its workers, and so on.</summary>
        internal static int CurrentDepth => ReadInt(DepthVariable, 0);

        private ErrorRecord DepthError()
        {
            int max = ReadInt(MaxDepthVariable, DefaultMaxDepth);
            int depth = CurrentDepth;
            if (depth + 1 <= max) return null;
            var exception = new InvalidOperationException(
                $"The backend '{this}' would start worker processes at nesting depth {depth + 1}, deeper than the limit of {max} (loky's LOKY_MAX_DEPTH): " +
                $"Invoke-JoblibParallel with a process backend was called inside {depth} levels of worker processes. Use the threading or sequential backend for inner loops, " +
                $"or raise the limit with the environment variable {MaxDepthVariable}.");
            return new ErrorRecord(exception, ErrorIds.ProcessNestingTooDeep, ErrorCategory.LimitsExceeded, this);
        }

        private static int ReadInt(string variable, int fallback)
        {
            string text = Environment.GetEnvironmentVariable(variable);
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : fallback;
        }
    }
}
