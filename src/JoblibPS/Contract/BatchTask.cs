using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using System.Threading.Tasks;
using JoblibPS.Caller;
using JoblibPS.Driver;
using JoblibPS.Runspaces;

namespace JoblibPS
{
    /// <summary>
    /// One batch of items for one call of the user's script block: what <see cref="ParallelBackendBase.Submit"/> receives.
    /// </summary>
    /// <remarks>
    /// A backend that knows nothing about PowerShell runs it with <see cref="Invoke"/> (or through the implicit
    /// conversion to <c>Func&lt;object&gt;</c>) on any thread: the task borrows a warm runspace of the module's
    /// in-process cache for the duration. A backend that owns runspaces (in-process, out-of-process or remote)
    /// runs it with <see cref="InvokeIn"/>. A backend that ships work elsewhere by its own means reads
    /// <see cref="ScriptText"/>, <see cref="Items"/>, <see cref="ArgumentList"/>, <see cref="UsingValues"/>,
    /// <see cref="WorkingDirectory"/> and <see cref="Preferences"/>, which are all plain serializable values, and
    /// runs <see cref="DriverScript"/> with <see cref="GetDriverParameters"/> there. Either way the task's result is a
    /// <see cref="BatchResult"/>; an error in the user's script is part of that result, never an exception.
    /// A task may run once at a time; <see cref="Stop"/> may be called from any thread.
    /// </remarks>
    public sealed class BatchTask
    {
        private readonly object _gate = new object();
        private PowerShell _running;
        private PSDataCollection<PSObject> _received;
        private bool _stopRequested;
        private long _lastProgressTicks;
        private int _itemsStarted;

        internal BatchTask(
            WorkerScript script,
            object[] items,
            long firstItemIndex,
            int batchIndex,
            object[] argumentList,
            Hashtable usingValues,
            string workingDirectory,
            object[] preferences,
            TimeSpan? itemTimeout)
        {
            Script = script;
            Items = items;
            FirstItemIndex = firstItemIndex;
            BatchIndex = batchIndex;
            ArgumentList = argumentList ?? Array.Empty<object>();
            UsingValues = usingValues ?? new Hashtable();
            WorkingDirectory = workingDirectory;
            PreferenceValues = preferences;
            ItemTimeout = itemTimeout;
        }

        internal WorkerScript Script { get; }

        /// <summary>The text of the user's script block.</summary>
        public string ScriptText => Script.Text;

        /// <summary>The items of this batch, in input order.</summary>
        public IReadOnlyList<object> Items { get; }

        /// <summary>The number of items in this batch.</summary>
        public int Count => Items.Count;

        /// <summary>The index of this batch's first item in the call's input (0-based).</summary>
        public long FirstItemIndex { get; }

        /// <summary>The sequence number of this batch in its call (0-based).</summary>
        public int BatchIndex { get; }

        /// <summary>The -ArgumentList values, passed after the item.</summary>
        public object[] ArgumentList { get; }

        /// <summary>The <c>$using:</c> values, keyed as PowerShell's own remoting keys them (base64 of the using expression's text).</summary>
        public Hashtable UsingValues { get; }

        /// <summary>
        /// The caller's current file-system location, where the block runs; null when the caller is not on the file system.
        /// A backend that runs the task on another machine sets it to a directory there before running the task (the
        /// remote backend: the remote user's home or RemoteLocation), as the caller's path means nothing there.
        /// </summary>
        public string WorkingDirectory { get; internal set; }

        /// <summary>The caller's effective preferences, by preference variable name (ErrorActionPreference, WarningPreference, VerbosePreference, DebugPreference, InformationPreference, WhatIfPreference, ConfirmPreference, ProgressPreference: Continue when the caller shows progress, so the block's Write-Progress records reach the invocation's progress stream; else SilentlyContinue).</summary>
        public Hashtable Preferences
        {
            get
            {
                var table = new Hashtable(StringComparer.OrdinalIgnoreCase);
                for (int i = 0; i < WorkerDriver.PreferenceNames.Length && i < PreferenceValues.Length; i++)
                {
                    table[WorkerDriver.PreferenceNames[i]] = PreferenceValues[i];
                }
                return table;
            }
        }

        internal object[] PreferenceValues { get; }

        /// <summary>The longest one item may run, or null for no limit.</summary>
        public TimeSpan? ItemTimeout { get; }

        /// <summary>The backend that Invoke-JoblibParallel calls made by this batch's items use (joblib's nested backend).</summary>
        public ParallelBackendBase NestedBackend { get; internal set; }

        /// <summary>The number of jobs nested calls use unless they give -NJobs; null for the nested backend's default.</summary>
        public int? NestedNJobs { get; internal set; }

        /// <summary>The driver script that runs a batch in any runspace; run it with <see cref="GetDriverParameters"/> and read its output with <see cref="BatchResult.FromDriverOutput"/>.</summary>
        public static string DriverScript => WorkerDriver.Text;

        /// <summary>Set by the engine for a retry: the places (see JoblibPS.Workers.Worker.Place) its earlier attempts ran in, which a pool avoids while it has another.</summary>
        internal IReadOnlyList<string> Avoid { get; set; }

        /// <summary>
        /// Set by a backend whose workers share the caller's file system (the process backends, not remote): files and
        /// folders among the items travel as their full paths and arrive as live FileInfo and DirectoryInfo objects.
        /// </summary>
        internal bool SendsFilesByPath { get; set; }

        /// <summary>Set by the worker pool: the place the task ran in, or null when it ran outside a pool.</summary>
        internal string RanOn { get; set; }

        /// <summary>Set by the engine: one object per Invoke-JoblibParallel call, so a worker knows when it starts serving another call (and is reset first).</summary>
        internal object CallToken { get; set; }

        /// <summary>Set by the engine: the marker that separates items in the driver's output.</summary>
        internal string Marker { get; set; } = WorkerDriver.NewMarker();

        /// <summary>Set by the engine when it tracks items (a job): called on the worker's thread as the task starts to run.</summary>
        internal Action Started { get; set; }

        /// <summary>Set by the engine when the caller shows progress: receives each progress record the block writes, on the worker's thread (or PowerShell's, for another process).</summary>
        internal Action<ProgressRecord> ProgressSink { get; set; }

        /// <summary>Set by the engine: true once the task's own timer stopped it for running an item too long.</summary>
        internal bool TimedOut { get; private set; }

        /// <summary>Stopwatch timestamp of the last sign of progress (start, or the start of an item); 0 before the task starts.</summary>
        internal long LastProgressTicks => Interlocked.Read(ref _lastProgressTicks);

        /// <summary>How long since the last sign of progress; null before the task starts. The one clock of the engine: Stopwatch timestamps.</summary>
        internal TimeSpan? SinceProgress
        {
            get
            {
                long last = LastProgressTicks;
                if (last == 0) return null;
                return TimeSpan.FromSeconds((System.Diagnostics.Stopwatch.GetTimestamp() - last) / (double)System.Diagnostics.Stopwatch.Frequency);
            }
        }

        /// <summary>Runs the task on the calling thread in a runspace borrowed from the module's in-process cache and returns its <see cref="BatchResult"/>.</summary>
        public object Invoke()
        {
            Runspace runspace = LocalRunspaceCache.Rent();
            bool healthy = false;
            try
            {
                BatchResult result = InvokeIn(runspace);
                healthy = runspace.RunspaceStateInfo.State == RunspaceState.Opened;
                return result;
            }
            finally
            {
                LocalRunspaceCache.Return(runspace, healthy);
            }
        }

        /// <summary>Lets a backend pass the task where a <c>Func&lt;object&gt;</c> is expected (for example <c>[System.Threading.Tasks.Task[object]]::Run([Func[object]]$task)</c>).</summary>
        public static implicit operator Func<object>(BatchTask task)
        {
            return task == null ? null : new Func<object>(task.Invoke);
        }

        /// <summary>
        /// Runs the task in <paramref name="runspace"/> (local, out-of-process or remote; it must be open and idle)
        /// on the calling thread, and returns its result.
        /// </summary>
        public BatchResult InvokeIn(Runspace runspace)
        {
            if (runspace == null) throw new ArgumentNullException(nameof(runspace));
            ErrorRecord setupError = Setup?.ApplyOnce(runspace, CallToken);
            if (setupError != null) return BatchResult.ForWorkerCrash(this, 0, setupError, TimeSpan.Zero);
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = runspace;
                return BatchRunner.Run(this, ps, runspace);
            }
        }

        /// <summary>Runs the task in the caller's own runspace as a nested pipeline; must be called on that runspace's pipeline thread.</summary>
        internal BatchResult InvokeInCurrentRunspace()
        {
            try
            {
                InitState = Setup?.InitStateFor(CallToken);
            }
            catch (InitializationFailedException ex)
            {
                return BatchResult.ForWorkerCrash(this, 0, ex.ErrorRecord, TimeSpan.Zero);
            }
            using (var ps = PowerShell.Create(RunspaceMode.CurrentRunspace))
            {
                return BatchRunner.Run(this, ps, Runspace.DefaultRunspace);
            }
        }

        /// <summary>Set by the engine: what every runspace gets before its first batch of the call (functions, modules, variables, initialization), or null.</summary>
        internal WorkerSetup Setup { get; set; }

        /// <summary>In the caller's own runspace: what the initialization script defined, for the driver to define in the batch's scope.</summary>
        internal Hashtable InitState { get; private set; }

        /// <summary>The named parameters of <see cref="DriverScript"/> for this task (plus the <c>$using:</c> map under the name <c>--%</c>).</summary>
        public IDictionary GetDriverParameters()
        {
            return WorkerDriver.Parameters(this);
        }

        /// <summary>Stops the task if it is running (any thread); it then completes with a stopped result. Waits at most about a second.</summary>
        public void Stop()
        {
            IAsyncResult stop = RequestStop();
            stop?.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(1));
        }

        /// <summary>True once a stop was asked for (by <see cref="Stop"/>, an abort or the item timeout) and not reset since.</summary>
        internal bool StopRequested
        {
            get { lock (_gate) return _stopRequested; }
        }

        /// <summary>
        /// Forgets the stop and timeout of a run that was lost with its worker, before the pool runs the task again
        /// elsewhere: without this the next run would come back stopped at once. Not while the task runs.
        /// </summary>
        internal void ResetForRerun()
        {
            lock (_gate)
            {
                _stopRequested = false;
                TimedOut = false;
            }
            Interlocked.Exchange(ref _lastProgressTicks, 0);
        }

        /// <summary>Asks the task to stop without waiting (any thread); returns the pending stop, or null when it was not running.</summary>
        internal IAsyncResult RequestStop()
        {
            PowerShell running;
            lock (_gate)
            {
                _stopRequested = true;
                running = _running;
            }
            if (running == null) return null;
            Runspace runspace = running.Runspace;
            if (runspace == null || !runspace.RunspaceIsRemote)
            {
                // A pipeline of this process: PowerShell's BeginStop stops it on a foreground thread of its own
                // (LocalPipeline.ImplementStop), which lives as long as the pipeline does, and an item stuck in a
                // .NET call ([Threading.Thread]::Sleep) then kept pwsh from exiting until the call returned. The
                // synchronous Stop on a background thread of ours does the same work and holds nothing.
                var stopped = new TaskCompletionSource<object>();
                new Thread(() =>
                {
                    try { running.Stop(); }
                    catch (Exception) { }
                    finally { stopped.TrySetResult(null); }
                })
                { IsBackground = true, Name = "JoblibPS stopping a batch" }.Start();
                return stopped.Task;
            }
            try
            {
                return running.BeginStop(null, null);
            }
            catch (Exception)
            {
                // Already stopped, disposed or broken: there is nothing left to stop.
            }
            return null;
        }

        /// <summary>The run starts: <paramref name="output"/> is where its records arrive (see <see cref="ReceivedSoFar"/>), and its progress clock starts.</summary>
        internal void BeginRun(PSDataCollection<PSObject> output)
        {
            Interlocked.Exchange(ref _itemsStarted, 0);
            Interlocked.Exchange(ref _lastProgressTicks, System.Diagnostics.Stopwatch.GetTimestamp());
            Volatile.Write(ref _received, output);
        }

        /// <summary>Makes <paramref name="ps"/> the invocation a stop reaches; false when a stop was asked for already (the run must not start).</summary>
        internal bool TryStartInvocation(PowerShell ps)
        {
            lock (_gate)
            {
                if (_stopRequested) return false;
                _running = ps;
                return true;
            }
        }

        /// <summary>The invocation ended: a stop no longer reaches it.</summary>
        internal void EndInvocation()
        {
            lock (_gate) _running = null;
        }

        /// <summary>The item timeout ran out: true the first time (the caller then stops the task).</summary>
        internal bool MarkTimedOut()
        {
            lock (_gate)
            {
                if (TimedOut) return false;
                TimedOut = true;
                return true;
            }
        }

        /// <summary>
        /// A copy of what the current (or last) run received so far (any thread): when a worker process dies, the
        /// chunks it sent before are all the output its batch has.
        /// </summary>
        internal List<PSObject> ReceivedSoFar()
        {
            var copy = new List<PSObject>();
            PSDataCollection<PSObject> received = Volatile.Read(ref _received);
            if (received == null) return copy;
            for (int i = 0; i < received.Count; i++)
            {
                try { copy.Add(received[i]); }
                catch (ArgumentOutOfRangeException) { break; }
            }
            return copy;
        }

        /// <summary>Records a sign of progress (an item started) for the item timeout.</summary>
        internal void MarkProgress()
        {
            Interlocked.Increment(ref _itemsStarted);
            Interlocked.Exchange(ref _lastProgressTicks, System.Diagnostics.Stopwatch.GetTimestamp());
        }

        /// <summary>How many items of the current run started so far, as counted for the item timeout (0 without -TimeoutSeconds).</summary>
        internal int ItemsStartedSoFar => Volatile.Read(ref _itemsStarted);
    }
}
