using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Config;
using JoblibPS.Output;
using JoblibPS.Engine;

namespace JoblibPS.Jobs
{
    /// <summary>
    /// Runs one Invoke-JoblibParallel -AsJob call: a thread of its own owns the <see cref="ParallelRun"/> (created,
    /// fed every input item and finished there, so it is the run's one pipeline thread), and this class is the run's
    /// writer, which puts each item's records into that item's <see cref="JoblibChildJob"/> and sets the children's
    /// states from the engine's item hooks. Records that belong to no item (JoblibPS's own lines, progress) go to the
    /// parent job.
    /// </summary>
    /// <remarks>
    /// Threads: <see cref="Start"/> and <see cref="Stop"/> are called on any thread; every <see cref="IPipelineWriter"/>
    /// member on the run's thread only. The run's thread never lets an exception escape (that would end the process).
    /// Every run not yet ended is known to <see cref="StopAll"/>, which Remove-Module JoblibPS calls before it closes
    /// the module's workers.
    /// </remarks>
    internal sealed class JobRun : IPipelineWriter
    {
        /// <summary>How long Stop waits for the run's thread; the engine's abort takes about a second for built-in backends.</summary>
        private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(15);

        private static readonly ConcurrentDictionary<JobRun, byte> Live = new ConcurrentDictionary<JobRun, byte>();

        private readonly JoblibJob _job;
        private readonly RunRequest _request;
        private readonly ResolvedSettings _settings;
        private readonly IReadOnlyList<object> _items;
        private readonly JoblibChildJob[] _children;
        private readonly bool _verbose;
        private readonly bool _debug;
        private readonly object _gate = new object();
        private Thread _thread;
        private ParallelRun _run;
        private bool _stopRequested;
        private JoblibChildJob _current;
        private ErrorRecord _currentOwnError;
        private ErrorRecord _itemFailure;

        public JobRun(JoblibJob job, RunRequest request, ResolvedSettings settings, IReadOnlyList<object> items)
        {
            _job = job;
            _request = request;
            _settings = settings;
            _items = items;
            _children = new JoblibChildJob[job.ChildJobs.Count];
            for (int i = 0; i < _children.Length; i++) _children[i] = (JoblibChildJob)job.ChildJobs[i];
            // JoblibPS's own verbose and debug lines follow the caller's preference at the call, as the workers' records do.
            _verbose = !IsSilent(request.Preferences, 2);
            _debug = !IsSilent(request.Preferences, 3);
            job.Run = this;
        }

        /// <summary>Starts the run's thread.</summary>
        public void Start()
        {
            lock (_gate)
            {
                if (_thread != null) return;
                Live[this] = 0;
                // PowerShell's own threads use 10 MB stacks; the engine may run backend code written in PowerShell.
                _thread = new Thread(Body, 10 * 1024 * 1024) { IsBackground = true, Name = "JoblibPS job " + _job.Id };
                _thread.Start();
            }
        }

        /// <summary>Stops the run and waits until its thread ended (the backend aborted the work). Any thread; idempotent.</summary>
        public void Stop()
        {
            Thread thread;
            lock (_gate)
            {
                _stopRequested = true;
                _run?.Cancel();
                thread = _thread;
            }
            if (thread != null && thread != Thread.CurrentThread) thread.Join(StopWait);
        }

        /// <summary>Stops every run not yet ended (Remove-Module JoblibPS).</summary>
        public static void StopAll()
        {
            foreach (JobRun run in Live.Keys) run.Stop();
        }

        private void Body()
        {
            ErrorRecord failure = null;
            bool stopped = false;
            ParallelRun run = null;
            try
            {
                run = new ParallelRun(_request, _settings, this);
                lock (_gate)
                {
                    _run = run;
                    if (_stopRequested) run.Cancel();
                }
                run.Start();
                foreach (object item in _items) run.Add(item);
                run.Finish();
            }
            catch (TerminatingErrorException ex)
            {
                failure = ex.ErrorRecord;
            }
            catch (PipelineStoppedException)
            {
                stopped = true;
            }
            catch (Exception ex)
            {
                failure = new ErrorRecord(ex, ErrorIds.BackendContract, ErrorCategory.NotSpecified, null);
            }
            finally
            {
                try { run?.Dispose(); }
                catch (Exception) { }
                if (run == null && _settings.CallOwnsBackend)
                {
                    try { _settings.Backend.Terminate(); } catch (Exception) { }
                }
            }
            try
            {
                Finish(failure, stopped || _stopRequested);
            }
            catch (Exception)
            {
                // Nothing may escape this thread; a state that could not be set leaves the job as it was.
            }
            finally
            {
                Live.TryRemove(this, out _);
            }
        }

        /// <summary>The children not yet finished end Stopped; the job ends Stopped, Failed (a failed child, or the call's own failure) or Completed.</summary>
        private void Finish(ErrorRecord failure, bool stopped)
        {
            foreach (JoblibChildJob child in _children)
            {
                if (!child.IsDone) child.SetState(JobState.Stopped);
            }
            if (failure != null && !ReferenceEquals(failure, _itemFailure)) _job.Error.Add(failure);
            Exception reason = failure?.Exception;
            if (reason == null)
            {
                foreach (JoblibChildJob child in _children)
                {
                    if (child.JobStateInfo.State == JobState.Failed)
                    {
                        reason = child.JobStateInfo.Reason;
                        break;
                    }
                }
            }
            if (stopped) _job.SetState(JobState.Stopped);
            else if (reason != null || failure != null) _job.SetState(JobState.Failed, reason);
            else _job.SetState(JobState.Completed);
        }

        private static bool IsSilent(object[] preferences, int index)
        {
            return preferences != null && index < preferences.Length
                && string.Equals(preferences[index]?.ToString(), "SilentlyContinue", StringComparison.OrdinalIgnoreCase);
        }

        // ---- IPipelineWriter: the run's thread only -------------------------------------------------------------

        private Job Target => (Job)_current ?? _job;

        public bool TracksItems => true;

        public void ItemsStarted(long first, int count)
        {
            for (long i = first; i < first + count && i < _children.Length; i++)
            {
                if (_children[i].JobStateInfo.State == JobState.NotStarted) _children[i].SetState(JobState.Running);
            }
        }

        public void BeginItem(long inputIndex)
        {
            _current = inputIndex >= 0 && inputIndex < _children.Length ? _children[inputIndex] : null;
            _currentOwnError = null;
        }

        public void EndItem(long inputIndex, ErrorRecord failure)
        {
            JoblibChildJob child = inputIndex >= 0 && inputIndex < _children.Length ? _children[inputIndex] : null;
            _current = null;
            if (child == null || child.IsDone) return;
            if (failure == null)
            {
                child.SetState(JobState.Completed);
                return;
            }
            if (!ReferenceEquals(failure, _currentOwnError)) child.Error.Add(failure);
            _itemFailure = failure;
            child.SetState(JobState.Failed, failure.Exception);
        }

        public void WriteOutput(object value) => Target.Output.Add(value == null ? null : PSObject.AsPSObject(value));

        public void WriteError(ErrorRecord record) => Target.Error.Add(record);

        public void WriteOwnError(ErrorRecord record)
        {
            _currentOwnError = record;
            Target.Error.Add(record);
        }

        public void WriteWarning(string message) => Target.Warning.Add(new WarningRecord(message));

        // An item's records were filtered by the worker already; JoblibPS's own lines (outside any item) are filtered here.
        public void WriteVerbose(string message)
        {
            if (_verbose || _current != null) Target.Verbose.Add(new VerboseRecord(message));
        }

        public void WriteDebug(string message)
        {
            if (_debug || _current != null) Target.Debug.Add(new DebugRecord(message));
        }

        public void WriteInformation(InformationRecord record) => Target.Information.Add(record);

        public void WriteProgress(ProgressRecord record) => _job.Progress.Add(record);
    }
}
