using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Checkpoint;
using JoblibPS.Config;
using JoblibPS.Jobs;
using JoblibPS.Output;
using JoblibPS.Engine;
using JoblibPS.Caller;
using JoblibPS.Errors;

namespace JoblibPS.Commands
{
    /// <summary>
    /// Runs a script block over pipeline input on parallel workers. The cmdlet only binds and validates
    /// parameters and writes; <see cref="ParallelRun"/> is the engine.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "JoblibParallel")]
    [OutputType(typeof(object))]
    public sealed class InvokeJoblibParallelCommand : PSCmdlet, IPipelineWriter, IDisposable
    {
        private ParallelRun _run;
        private long _itemCount;
        private PendingJob _job;
        private TerminalReplyGuard _terminal;
        private CallCheckpoint _checkpoint;

        /// <summary>The script block run for each item.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNull]
        public ScriptBlock ScriptBlock { get; set; }

        /// <summary>An input item.</summary>
        [Parameter(ValueFromPipeline = true)]
        public object InputObject { get; set; }

        /// <summary>Values passed to the block after the item.</summary>
        [Parameter]
        [Alias("Args")]
        public object[] ArgumentList { get; set; }

        /// <summary>The number of jobs (-1 = all CPUs); -ThrottleLimit, the name PowerShell's own parallel commands use, is an alias.</summary>
        [Parameter]
        [Alias("ThrottleLimit")]
        public int NJobs { get; set; }

        /// <summary>A backend name or a ParallelBackendBase instance.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(BackendNameCompleter))]
        [ValidateNotNull]
        public object Backend { get; set; }

        /// <summary>'auto' or a positive integer.</summary>
        [Parameter]
        [ValidateNotNull]
        public string BatchSize { get; set; } = "auto";

        /// <summary>joblib's pre-dispatch expression.</summary>
        [Parameter]
        [ValidateNotNull]
        public string PreDispatch { get; set; } = "2*n_jobs";

        /// <summary>Write output as items complete rather than in input order.</summary>
        [Parameter]
        public SwitchParameter Unordered { get; set; }

        /// <summary>The longest one item may run, in seconds.</summary>
        [Parameter]
        public double TimeoutSeconds { get; set; }

        /// <summary>What a failed item does: Abort (the default) ends the call; Continue reports it as a non-terminating error and goes on.</summary>
        [Parameter]
        public OnErrorAction OnError { get; set; }

        /// <summary>How many times a failed or timed-out item is tried again before it counts as failed.</summary>
        [Parameter]
        public int Retry { get; set; }

        /// <summary>Seconds to wait before the first retry; each further retry waits twice as long.</summary>
        [Parameter]
        public double RetryDelaySeconds { get; set; }

        /// <summary>Functions of the caller's session to define in every worker besides those the block calls by name (wildcards).</summary>
        [Parameter]
        [ValidateNotNull]
        [SupportsWildcards]
        public string[] ImportFunction { get; set; }

        /// <summary>Variables of the caller's session to set in every worker (wildcards).</summary>
        [Parameter]
        [ValidateNotNull]
        [SupportsWildcards]
        public string[] ImportVariable { get; set; }

        /// <summary>Modules (names or paths) every worker imports before its first item.</summary>
        [Parameter]
        [ValidateNotNull]
        public string[] ImportModule { get; set; }

        /// <summary>Runs once in every worker before its first item of the call, in the scope where items run.</summary>
        [Parameter]
        public ScriptBlock InitializationScript { get; set; }

        /// <summary>Return at once a job (in the session's job repository) that runs the call, one child job per item.</summary>
        [Parameter]
        public SwitchParameter AsJob { get; set; }

        /// <summary>A file that records each finished item's output; run the call again with it and only what is not recorded runs.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Checkpoint { get; set; }

        /// <summary>With a checkpoint: a block that returns what identifies an item ($_), such as { $_.Id }.</summary>
        [Parameter]
        [ValidateNotNull]
        public ScriptBlock CheckpointKey { get; set; }

        /// <summary>Validates, resolves the config and starts the run.</summary>
        protected override void BeginProcessing()
        {
            _terminal = TerminalReplyGuard.ForCurrentThread(Host?.Name);
            var request = new RunRequest
            {
                Script = WorkerScript.From(ScriptBlock),
                ArgumentList = ArgumentList ?? Array.Empty<object>(),
                WorkingDirectory = SessionState.Path.CurrentFileSystemLocation?.ProviderPath,
                Preferences = CallerPreferences.Capture(this),
                Ordered = !Unordered.IsPresent,
                ForwardProgress = CallerPreferences.ShowsProgress(this),
                InJob = AsJob.IsPresent,
            };

            if (Bound(nameof(NJobs)) && ConfigResolver.CheckNJobs(NJobs) is ErrorRecord invalidNJobs) ThrowTerminatingError(invalidNJobs);
            Guard(() =>
            {
                request.SetBatchSize(BatchSize);
                request.SetPreDispatch(PreDispatch);
                if (Bound(nameof(TimeoutSeconds))) request.SetTimeout(TimeoutSeconds);
                request.SetRetry(Retry, RetryDelaySeconds);
            });
            // In a job the other items keep running past a failed one (as ForEach-Object -AsJob), unless -OnError says otherwise.
            request.OnError = AsJob.IsPresent && !Bound(nameof(OnError)) ? OnErrorAction.Continue : OnError;
            request.Setup = WorkerSetupBuilder.Build(this, ScriptBlock, ImportFunction, ImportVariable, ImportModule, InitializationScript);
            try
            {
                request.UsingValues = UsingValues.Evaluate(ScriptBlock, SessionState);
            }
            catch (TerminatingErrorException ex)
            {
                ThrowTerminatingError(ex.ErrorRecord);
            }
            catch (UsingVariableUndefinedException ex)
            {
                ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.UsingVariableUndefined, ErrorCategory.InvalidArgument, ex.Variable));
            }
            Guard(() => ScriptBlockValues.CheckArguments(request.ArgumentList));
            OpenCheckpoint(request);

            ResolvedSettings settings = ResolveSettings();
            if (AsJob.IsPresent) settings = ConfigResolver.ForJob(settings);
            foreach (string note in settings.Notes) CallerStreams.WriteVerbose(this, note);

            if (AsJob.IsPresent)
            {
                _job = new PendingJob(request, settings);
                string warning = request.Script.ProcessExitWarning(settings.Backend);
                if (warning != null) CallerStreams.WriteWarning(this, warning);
                return;
            }
            _run = new ParallelRun(request, settings, this);
            Guard(() => _run.Start());
            string exitWarning = request.Script.ProcessExitWarning(_run.Backend);
            if (exitWarning != null) CallerStreams.WriteWarning(this, exitWarning);
        }

        /// <summary>The call's backend and number of jobs by the precedence rule (ConfigResolver); a backend that cannot be made is one record, naming it.</summary>
        private ResolvedSettings ResolveSettings()
        {
            try
            {
                var given = new ExplicitSettings { Backend = Backend, NJobs = Bound(nameof(NJobs)) ? NJobs : (int?)null };
                return ConfigResolver.Resolve(given, ConfigScopes.Of(Runspace.DefaultRunspace));
            }
            catch (InvalidBackendValueException ex)
            {
                Fail(ErrorIds.InvalidBackend, ex.Message, Backend);
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                // A factory's script error is in $Error already: this record, which names the factory, replaces it.
                ErrorRecord creation = ErrorRecords.BackendCreation(ex, Backend);
                DollarError.Forget(SessionState, ex);
                ThrowTerminatingError(creation);
            }
            return null;
        }

        /// <summary>Hands each input item to the engine.</summary>
        protected override void ProcessRecord()
        {
            if (!MyInvocation.ExpectingInput && !Bound(nameof(InputObject)))
            {
                return;
            }
            _itemCount++;
            Guard(() =>
            {
                ScriptBlockValues.CheckItem(InputObject, _itemCount);
                if (_checkpoint != null) _checkpoint.Collect(InputObject);
                else if (_job != null) _job.Add(InputObject);
                else _run.Add(InputObject);
            });
        }

        /// <summary>Waits for the rest of the work and writes it.</summary>
        protected override void EndProcessing()
        {
            if (_checkpoint != null)
            {
                // Every key is computed and checked before any item runs (see CallCheckpoint); then the input goes on as it came.
                System.Collections.Generic.IReadOnlyList<object> items = null;
                try { items = _checkpoint.Plan(); }
                catch (CheckpointException ex) { ThrowTerminatingError(CheckpointErrors.ToErrorRecord(ex, _checkpoint.Path)); }
                CallerStreams.WriteVerbose(this, $"Checkpoint '{_checkpoint.Path}': {_checkpoint.ReplayCount} of {items.Count} items were recorded by an earlier run and are written from it; {items.Count - _checkpoint.ReplayCount} run.");
                // From here the run owns the checkpoint and closes it when it ends (a job's run, on the job's thread).
                _checkpoint = null;
                if (_job != null)
                {
                    foreach (object item in items) _job.Add(item);
                }
                else
                {
                    // One guard for the loop, not one closure per item: a resumed run hands 100,000 items on here.
                    Guard(() =>
                    {
                        foreach (object item in items) _run.Add(item);
                    });
                }
            }
            if (_job != null)
            {
                WriteObject(_job.Start(ScriptBlock.ToString(), JobRepository));
                return;
            }
            Guard(() => _run.Finish());
        }

        /// <summary>Ctrl+C: asks the engine to stop (called on another thread).</summary>
        protected override void StopProcessing()
        {
            _run?.Cancel();
            _terminal?.Stopped();
        }

        /// <summary>Aborts and releases the run if it did not finish (error, Ctrl+C, a downstream Select-Object -First).</summary>
        public void Dispose()
        {
            _terminal?.End();
            _run?.Dispose();
            _run = null;
            // A checkpoint opened for a call that never started its run: released (and removed, when this call created it).
            _checkpoint?.Dispose();
            _checkpoint = null;
            // A job that never started (an error or Ctrl+C while input came in) releases the backend made for it.
            _job?.Dispose();
        }

        void IPipelineWriter.WriteOutput(object value) => WriteObject(value);

        // Records from workers and JoblibPS's own lines: never a prompt, and the block's error ids as it wrote them (see CallerStreams).
        void IPipelineWriter.WriteError(ErrorRecord record) => CallerStreams.WriteError(this, record);

        void IPipelineWriter.WriteOwnError(ErrorRecord record) => WriteError(record);

        void IPipelineWriter.WriteWarning(string message) => CallerStreams.WriteWarning(this, message);

        void IPipelineWriter.WriteVerbose(string message) => CallerStreams.WriteVerbose(this, message);

        void IPipelineWriter.WriteDebug(string message) => CallerStreams.WriteDebug(this, message);

        void IPipelineWriter.WriteInformation(InformationRecord record) => CallerStreams.WriteInformation(this, record);

        void IPipelineWriter.WriteProgress(ProgressRecord record) => CallerStreams.WriteProgress(this, record);

        // The cmdlet writes every item's records to one pipeline: no item hooks.
        bool IPipelineWriter.TracksItems => false;

        void IPipelineWriter.ItemsStarted(long first, int count) { }

        void IPipelineWriter.BeginItem(long inputIndex) { }

        void IPipelineWriter.EndItem(long inputIndex, ErrorRecord failure) { }

        private void Guard(Action action)
        {
            try
            {
                action();
            }
            catch (TerminatingErrorException ex)
            {
                _run?.Dispose();
                _run = null;
                // One failure, one record: what PowerShell put in $Error for its cause (a backend's script error) goes.
                DollarError.ForgetCauses(SessionState, ex.ErrorRecord);
                ThrowTerminatingError(ex.ErrorRecord);
            }
        }

        /// <summary>
        /// Opens the checkpoint the call uses (-Checkpoint, else a Use-JoblibConfig scope's) before anything starts:
        /// a bad path, another format or version, a checkpoint in use or one of another call fails here.
        /// </summary>
        private void OpenCheckpoint(RunRequest request)
        {
            string path = Bound(nameof(Checkpoint))
                ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Checkpoint)
                : ConfigResolver.CheckpointInForce(ConfigScopes.Of(Runspace.DefaultRunspace));
            if (path == null)
            {
                if (CheckpointKey != null) Fail(ErrorIds.CheckpointKeyInvalid, "-CheckpointKey says what identifies an item in a checkpoint, and the call has none: give -Checkpoint <path> too, or call inside Use-JoblibConfig -Checkpoint <path>.", CheckpointKey);
                return;
            }
            try
            {
                _checkpoint = CallCheckpoint.Open(path, CallIdentity.Of(request, CheckpointKey), CheckpointKey);
            }
            catch (CheckpointException ex)
            {
                ThrowTerminatingError(CheckpointErrors.ToErrorRecord(ex, path));
            }
            request.Checkpoint = _checkpoint;
        }

        private bool Bound(string name) => MyInvocation.BoundParameters.ContainsKey(name);

        private void Fail(string errorId, string message, object target)
        {
            ThrowTerminatingError(ErrorRecords.Argument(errorId, message, target));
        }
    }
}
