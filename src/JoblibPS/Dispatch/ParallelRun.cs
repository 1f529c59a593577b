using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Config;
using JoblibPS.Output;

namespace JoblibPS.Dispatch
{
    /// <summary>
    /// The engine of one Invoke-JoblibParallel call: cuts input into batches, submits them to the backend within
    /// the pre-dispatch window, marshals completions back, writes each item's records in order (or as batches
    /// complete), and aborts on the first failure, a timeout or a stop.
    /// </summary>
    /// <remarks>
    /// Threading: every member but <see cref="Cancel"/> is called on the pipeline thread, which is also the only
    /// thread that calls the backend (except the completion callback, which only enqueues) and the only thread
    /// that writes. Memory is bounded by the window: at most <c>window</c> batches are outstanding (submitted and
    /// not yet written), and the upstream command is held back while the window is full.
    /// </remarks>
    internal sealed class ParallelRun : IDisposable
    {
        private readonly RunRequest _request;
        private readonly IPipelineWriter _writer;
        private readonly ResolvedSettings _settings;
        private readonly int _pipelineThread = Thread.CurrentThread.ManagedThreadId;
        private readonly List<object> _pending = new List<object>();
        private readonly SortedDictionary<int, BatchState> _outstanding = new SortedDictionary<int, BatchState>();
        private readonly ConcurrentQueue<Completion> _completions = new ConcurrentQueue<Completion>();
        private readonly SemaphoreSlim _signal = new SemaphoreSlim(0);
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TimeSpan? _gcPauseAtStart = GcPauses.Now();

        private readonly System.Management.Automation.Runspaces.Runspace _runspace = System.Management.Automation.Runspaces.Runspace.DefaultRunspace;
        private IDisposable _mailbox;
        private ParallelBackendBase _backend;
        private bool _callOwnsBackend;
        private int _nJobs;
        private int _window;
        private long _nextItemIndex;
        private int _nextBatchIndex;
        private int _nextToWrite;
        private int _running;
        private int _batchSize;
        private bool _batchSizeStale = true;
        private Failure _failure;
        private bool _callStarted;
        private bool _aborted;
        private bool _finished;
        private long _lastActivityTicks;
        private long _lastInputTicks;
        private long _oldestPendingTicks;
        private bool _upstreamSlow;
        private bool _inputEnded;
        private long _completedItems;
        private TimeSpan _workerTime;
        private readonly RunProgress _progress;
        private readonly ConcurrentDictionary<int, BatchTask> _inFlight = new ConcurrentDictionary<int, BatchTask>();
        private int _reorderLimit;

        /// <summary>
        /// The longest a partial batch is held back while a worker is idle and items keep arriving quickly:
        /// 10 ms, twenty times the 0.3 to 0.6 ms a batch costs in a warm runspace (../shared/PLATFORM.md), so the
        /// overhead stays near 5% while a slow upstream command is never held back by more than that.
        /// </summary>
        private static readonly long HoldTicks = Stopwatch.Frequency / 100;

        public ParallelRun(RunRequest request, ResolvedSettings settings, IPipelineWriter writer)
        {
            _request = request;
            _settings = settings;
            _writer = writer;
            _backend = settings.Backend;
            _callOwnsBackend = settings.CallOwnsBackend;
            _progress = new RunProgress(writer, _clock);
        }

        /// <summary>The backend the call runs on (after any fallback).</summary>
        public ParallelBackendBase Backend => _backend;

        /// <summary>The effective number of jobs.</summary>
        public int EffectiveNJobs => _nJobs;

        /// <summary>Configures the backend (following fallbacks) and starts the call.</summary>
        public void Start()
        {
            var call = new ParallelCall(_settings.NJobs, _settings.BackendArguments, _settings.InnerMaxNumThreads, _request.Timeout, _request.Ordered, _request.BatchSizeText, _request.PreDispatch, _stop.Token);
            for (int hop = 0; ; hop++)
            {
                try
                {
                    _backend.Parallel = call;
                    _nJobs = _backend.Configure(_settings.NJobs, call, _settings.BackendArguments);
                    break;
                }
                catch (FallbackToBackendException fallback) when (hop < 8)
                {
                    if (_callOwnsBackend) SafeTerminate(_backend);
                    _backend = fallback.Backend;
                    _callOwnsBackend = true;
                }
                catch (Exception ex) when (!(ex is FallbackToBackendException) && !(ex is PipelineStoppedException))
                {
                    throw new TerminatingErrorException(ErrorRecords.BackendContract(_backend, "Configure threw an exception", Unwrap(ex)));
                }
            }
            if (_nJobs < 1)
            {
                throw new TerminatingErrorException(ErrorRecords.BackendContract(_backend, $"Configure returned {_nJobs} jobs; it must return at least 1"));
            }
            try { _window = PreDispatchExpression.Evaluate(_request.PreDispatch, _nJobs); }
            catch (FormatException ex) { throw new TerminatingErrorException(ErrorRecords.Argument(ErrorIds.InvalidPreDispatch, ex.Message, _request.PreDispatch)); }
            _reorderLimit = (int)Math.Min(int.MaxValue, Math.Max(16L, 4L * _window));
            _backend.ResetBatchSizer();
            Call(() => _backend.StartCall(), "StartCall threw an exception");
            _callStarted = true;
            _lastActivityTicks = _clock.ElapsedTicks;
            // Work that must run on this runspace's thread (a nested call's backend factory) wakes the wait loop.
            _mailbox = Execution.RunspaceDispatcher.Listen(_runspace, () => { try { _signal.Release(); } catch (ObjectDisposedException) { } });
            string workers = _nJobs == 1 ? "1 concurrent worker" : $"{_nJobs} concurrent workers";
            _writer.WriteVerbose($"Using backend {_backend} with {workers}.");
        }

        /// <summary>Takes one input item; may dispatch, write finished output, and wait while the window is full.</summary>
        public void Add(object item)
        {
            long now = _clock.ElapsedTicks;
            _upstreamSlow = _lastInputTicks == 0 || now - _lastInputTicks >= HoldTicks;
            _lastInputTicks = now;
            if (_pending.Count == 0) _oldestPendingTicks = now;
            _pending.Add(item);
            Pump(endOfInput: false);
        }

        /// <summary>Dispatches what is left, waits for every batch, writes the rest, and ends the call.</summary>
        public void Finish()
        {
            _inputEnded = true;
            Pump(endOfInput: true);
            _finished = true;
            _writer.WriteDebug($"Workers ran batches for {_workerTime.TotalSeconds:0.000}s in all; the call took {_clock.Elapsed.TotalSeconds:0.000}s.");
            ReportGcPauses();
            _progress.Finish(_nextItemIndex, _nextBatchIndex);
            EndCall();
        }

        /// <summary>
        /// Says, at -Verbose, how much of a call of a second or more garbage collection paused this process (every
        /// thread at once), with what to do about it when that was a quarter or more of a multi-threaded call.
        /// </summary>
        private void ReportGcPauses()
        {
            TimeSpan? now = GcPauses.Now();
            TimeSpan elapsed = _clock.Elapsed;
            if (now == null || _gcPauseAtStart == null || elapsed < TimeSpan.FromSeconds(1)) return;
            TimeSpan paused = now.Value - _gcPauseAtStart.Value;
            double share = paused.TotalSeconds / elapsed.TotalSeconds;
            string message = $"Garbage collection paused this process for {paused.TotalSeconds:0.0}s of the call's {elapsed.TotalSeconds:0.0}s ({share:P0}).";
            if (share >= 0.25 && _backend.UsesThreads && _nJobs > 1)
            {
                message += " Every collection pauses all worker threads, so allocating CPU-bound PowerShell does not scale on threads: use -Backend loky (worker processes with their own garbage collector), or start pwsh with $env:DOTNET_GCgen0size = '0x10000000' set (see about_JoblibPS_Backends).";
            }
            _writer.WriteVerbose(message);
        }

        /// <summary>Asks the run to stop (Ctrl+C). Any thread.</summary>
        public void Cancel()
        {
            _stop.Cancel();
            // A task running on the pipeline thread itself (the sequential backend) only ends if asked directly.
            foreach (BatchTask task in _inFlight.Values) task.RequestStop();
            try { _signal.Release(); } catch (ObjectDisposedException) { }
        }

        public void Dispose()
        {
            _mailbox?.Dispose();
            _mailbox = null;
            if (!_finished)
            {
                Abort();
                EndCall();
                _progress.Clear();
            }
            // _signal and _stop are left undisposed on purpose: Cancel may still arrive from another thread, and
            // neither holds an OS handle unless asked for one.
        }

        private void Pump(bool endOfInput)
        {
            while (true)
            {
                ProcessCompletions();
                if (_failure != null) FailCall();
                if (TryDispatchOne(endOfInput)) continue;
                if (!endOfInput)
                {
                    // Hold the upstream command back while a full batch waits for room in the window.
                    if (_pending.Count >= BatchSize() && WindowFull)
                    {
                        WaitForCompletion();
                        continue;
                    }
                    return;
                }
                if (_pending.Count == 0 && _outstanding.Count == 0) return;
                WaitForCompletion();
            }
        }

        private bool TryDispatchOne(bool endOfInput)
        {
            if (_pending.Count == 0 || _failure != null || WindowFull) return false;
            int size = BatchSize();
            int take;
            if (_pending.Count >= size)
            {
                take = size;
            }
            else if (endOfInput)
            {
                // Tail: split what is left into smaller batches so that no worker is left with a long tail
                // (joblib divides the last slice by 10 * n_jobs).
                take = Math.Max(1, Math.Min(_pending.Count, size / (10 * _nJobs)));
                if (_running >= _nJobs && take == _pending.Count && take > 1) take = Math.Max(1, take / 2);
            }
            else if (_running < _nJobs && (_upstreamSlow || _clock.ElapsedTicks - _oldestPendingTicks >= HoldTicks))
            {
                // Work-conserving: a worker would sit idle, so a partial batch goes now when the upstream command is
                // slow (the last item took longer than the hold limit to arrive) or the oldest waiting item has
                // waited that long. A fast upstream fills batches instead of paying a batch's overhead per item.
                take = _pending.Count;
            }
            else
            {
                return false;
            }
            Submit(take);
            return true;
        }

        /// <summary>
        /// True when no batch may be submitted now: the pre-dispatch window (batches submitted and not yet
        /// complete) is full, or the reorder window (batches complete but waiting for an earlier one, in ordered
        /// mode) is. Together they bound memory whatever the input size.
        /// </summary>
        private bool WindowFull => _running >= _window || _outstanding.Count - _running >= _reorderLimit;

        private int BatchSize()
        {
            if (_request.FixedBatchSize.HasValue) return _request.FixedBatchSize.Value;
            if (_batchSizeStale)
            {
                int size = 1;
                Call(() => size = _backend.ComputeBatchSize(), "ComputeBatchSize threw an exception");
                if (size < 1) throw new TerminatingErrorException(ErrorRecords.BackendContract(_backend, $"ComputeBatchSize returned {size}; it must return at least 1"));
                if (size != _batchSize && _batchSize != 0) _writer.WriteDebug($"Batch size changed from {_batchSize} to {size}.");
                _batchSize = size;
                _batchSizeStale = false;
            }
            return _batchSize;
        }

        private void Submit(int take)
        {
            object[] items = _pending.GetRange(0, take).ToArray();
            _pending.RemoveRange(0, take);
            _oldestPendingTicks = _clock.ElapsedTicks;
            var task = new BatchTask(_request.Script, items, _nextItemIndex, _nextBatchIndex, _request.ArgumentList, _request.UsingValues, _request.WorkingDirectory, _request.Preferences, _request.Timeout);
            NestedBackend nested = null;
            Call(() => nested = _backend.GetNestedBackend(), "GetNestedBackend threw an exception");
            if (nested != null)
            {
                task.NestedBackend = nested.Backend;
                task.NestedNJobs = nested.NJobs;
            }
            var state = new BatchState(task, _clock.ElapsedTicks);
            _outstanding.Add(task.BatchIndex, state);
            _inFlight[task.BatchIndex] = task;
            _nextItemIndex += take;
            _nextBatchIndex++;
            _batchSizeStale = true;
            _running++;

            Action<object> callback = future =>
            {
                bool duplicate = Interlocked.Increment(ref state.Callbacks) > 1;
                _completions.Enqueue(new Completion(state, future, duplicate));
                try { _signal.Release(); } catch (ObjectDisposedException) { }
            };
            object submitted = null;
            Call(() => submitted = _backend.Submit(task, callback), "Submit threw an exception");
            if (submitted == null)
            {
                throw new TerminatingErrorException(ErrorRecords.BackendContract(_backend, "Submit returned null; it must return a future (for example the .NET Task running the batch)"));
            }
            state.Future = submitted;
        }

        private void ProcessCompletions()
        {
            while (_completions.TryDequeue(out Completion completion))
            {
                BatchState state = completion.State;
                if (completion.Duplicate)
                {
                    RecordFailure(new Failure(state, ErrorRecords.BackendContract(_backend, $"the callback for batch {state.Task.BatchIndex} was called more than once; call it once per task"), state.Task.FirstItemIndex));
                    continue;
                }
                _lastActivityTicks = _clock.ElapsedTicks;
                object raw = null;
                bool byCallback = _backend.SupportsRetrieveCallback;
                Call(() => raw = byCallback
                        ? _backend.RetrieveResultCallback(completion.Future)
                        : _backend.RetrieveResult(completion.Future, _request.Timeout ?? Timeout.InfiniteTimeSpan),
                    (byCallback ? "RetrieveResultCallback" : "RetrieveResult") + " threw an exception");
                if (!(ParallelBackendBase.Unwrap(raw) is BatchResult result) || result.Task != state.Task)
                {
                    string got = raw == null ? "null" : ParallelBackendBase.Unwrap(raw).GetType().FullName;
                    RecordFailure(new Failure(state, ErrorRecords.BackendContract(_backend, $"it returned {got} as the result of batch {state.Task.BatchIndex}; return what task.Invoke() returned"), state.Task.FirstItemIndex));
                    continue;
                }
                state.Result = result;
                _inFlight.TryRemove(state.Task.BatchIndex, out _);
                _running--;
                _completedItems += state.Task.Count;
                _workerTime += result.Duration;
                Call(() => _backend.BatchCompleted(state.Task.Count, result.Duration), "BatchCompleted threw an exception");
                _batchSizeStale = true;
                if (result.Outcome != BatchOutcome.Completed && !_aborted)
                {
                    RecordFailure(FailureOf(state, result));
                }
            }
            WriteReady();
            _progress.Report(_completedItems, _nextItemIndex, _inputEnded);
        }

        private void WriteReady()
        {
            if (_request.Ordered)
            {
                while (_outstanding.TryGetValue(_nextToWrite, out BatchState state) && state.Result != null)
                {
                    if (state.Result.Outcome != BatchOutcome.Completed) return;
                    WriteItems(state, state.Result.CompleteItems);
                    _outstanding.Remove(_nextToWrite);
                    _nextToWrite++;
                }
            }
            else
            {
                foreach (BatchState state in _outstanding.Values.Where(s => s.Result != null && s.Result.Outcome == BatchOutcome.Completed).ToList())
                {
                    WriteItems(state, state.Result.CompleteItems);
                    _outstanding.Remove(state.Task.BatchIndex);
                }
            }
        }

        private void WriteItems(BatchState state, int count)
        {
            Debug.Assert(Thread.CurrentThread.ManagedThreadId == _pipelineThread, "Only the pipeline thread writes.");
            if (Thread.CurrentThread.ManagedThreadId != _pipelineThread)
            {
                throw new InvalidOperationException("JoblibPS wrote from a thread other than the pipeline thread.");
            }
            for (int i = state.Written; i < count; i++)
            {
                foreach (PSObject record in state.Result.RecordsOf(i))
                {
                    StreamRecords.Write(record, _writer);
                }
                state.Written = i + 1;
            }
        }

        private void RecordFailure(Failure failure)
        {
            if (_failure == null || (_request.Ordered && failure.ItemIndex < _failure.ItemIndex))
            {
                _failure = failure;
            }
        }

        private Failure FailureOf(BatchState state, BatchResult result)
        {
            long index = state.Task.FirstItemIndex + Math.Max(0, result.FailedItem);
            object item = result.FailedItem >= 0 && result.FailedItem < state.Task.Count ? state.Task.Items[result.FailedItem] : null;
            ErrorRecord record;
            switch (result.Outcome)
            {
                case BatchOutcome.Failed:
                    record = ErrorRecords.TaskFailed(result.Error, item);
                    break;
                case BatchOutcome.TimedOut:
                    record = ErrorRecords.TaskTimeout(item, _request.Timeout ?? TimeSpan.Zero);
                    break;
                case BatchOutcome.Exited:
                    record = ErrorRecords.TaskExited(item);
                    break;
                default:
                    record = ErrorRecords.BackendContract(_backend, $"batch {state.Task.BatchIndex} came back stopped although nothing asked it to stop");
                    break;
            }
            return new Failure(state, record, index);
        }

        /// <summary>
        /// Ends the call for the recorded failure: in ordered mode the batches before the failing one finish and
        /// are written first (their output comes before the error, as in a plain loop); then the items of the
        /// failing batch before the failing item; then the backend aborts everything and the error is thrown.
        /// </summary>
        private void FailCall()
        {
            _pending.Clear();
            if (_request.Ordered)
            {
                while (_failure.State.Result != null && _outstanding.Keys.Any(k => k < _failure.State.Task.BatchIndex) && !_stop.IsCancellationRequested)
                {
                    WaitForCompletion();
                    ProcessCompletions();
                }
            }
            Failure failure = _failure;
            if (failure.State.Result != null && _outstanding.ContainsKey(failure.State.Task.BatchIndex))
            {
                WriteItems(failure.State, Math.Min(failure.State.Result.CompleteItems, (int)(failure.ItemIndex - failure.State.Task.FirstItemIndex)));
            }
            Abort();
            throw new TerminatingErrorException(failure.Record);
        }

        private void WaitForCompletion()
        {
            TimeSpan wait = TimeSpan.FromMilliseconds(_request.Timeout.HasValue ? Math.Max(20, Math.Min(250, _request.Timeout.Value.TotalMilliseconds / 4)) : 1000);
            bool signalled;
            try
            {
                signalled = _signal.Wait(wait, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                signalled = false;
            }
            if (_stop.IsCancellationRequested)
            {
                Abort();
                throw new PipelineStoppedException();
            }
            Execution.RunspaceDispatcher.RunPending(_runspace);
            if (!signalled) CheckStalled();
        }

        /// <summary>
        /// The engine's own guard for -TimeoutSeconds when nothing reports progress at all (a backend that never
        /// calls back, or runs tasks out of the task's sight): fail the oldest outstanding batch.
        /// </summary>
        private void CheckStalled()
        {
            if (!_request.Timeout.HasValue || _outstanding.Count == 0 || _failure != null) return;
            long lastTicks = _lastActivityTicks;
            DateTime now = DateTime.UtcNow;
            TimeSpan sinceProgress = TimeSpan.FromSeconds((_clock.ElapsedTicks - lastTicks) / (double)Stopwatch.Frequency);
            foreach (BatchState state in _outstanding.Values)
            {
                long progress = state.Task.LastProgressTicks;
                if (progress != 0)
                {
                    TimeSpan since = now - new DateTime(progress, DateTimeKind.Utc);
                    if (since < sinceProgress) sinceProgress = since;
                }
            }
            TimeSpan grace = _request.Timeout.Value + TimeSpan.FromSeconds(1);
            if (sinceProgress > grace)
            {
                BatchState oldest = _outstanding.Values.First(s => s.Result == null);
                RecordFailure(new Failure(oldest, ErrorRecords.TaskTimeout(oldest.Task.Items[0], _request.Timeout.Value), oldest.Task.FirstItemIndex));
            }
        }

        private void Abort()
        {
            if (_aborted || !_callStarted) return;
            _aborted = true;
            _pending.Clear();
            try
            {
                _backend.AbortEverything(_settings.EnsureReadyOnAbort && !_callOwnsBackend);
            }
            catch (Exception ex)
            {
                _writer.WriteWarning($"The backend '{_backend}' failed to abort its tasks: {Unwrap(ex).Message}");
            }
        }

        private void EndCall()
        {
            if (_callStarted)
            {
                _callStarted = false;
                try { _backend.StopCall(); }
                catch (Exception ex) { _writer.WriteWarning($"The backend '{_backend}' failed in StopCall: {Unwrap(ex).Message}"); }
                _backend.Parallel = null;
            }
            if (_callOwnsBackend)
            {
                _callOwnsBackend = false;
                SafeTerminate(_backend);
            }
        }

        private void SafeTerminate(ParallelBackendBase backend)
        {
            try { backend.Terminate(); }
            catch (Exception ex) { _writer.WriteWarning($"The backend '{backend}' failed in Terminate: {Unwrap(ex).Message}"); }
        }

        private void Call(Action action, string rule)
        {
            try
            {
                action();
            }
            catch (TerminatingErrorException)
            {
                throw;
            }
            catch (PipelineStoppedException)
            {
                throw;
            }
            catch (Exception ex)
            {
                throw new TerminatingErrorException(ErrorRecords.BackendContract(_backend, rule, Unwrap(ex)));
            }
        }

        private static Exception Unwrap(Exception ex)
        {
            while ((ex is System.Reflection.TargetInvocationException || ex is MethodInvocationException || ex is AggregateException) && ex.InnerException != null)
            {
                ex = ex.InnerException;
            }
            return ex;
        }

        private sealed class BatchState
        {
            public BatchState(BatchTask task, long submittedTicks)
            {
                Task = task;
                SubmittedTicks = submittedTicks;
            }

            public BatchTask Task { get; }
            public long SubmittedTicks { get; }
            public object Future { get; set; }
            public BatchResult Result { get; set; }
            public int Written { get; set; }
            public int Callbacks;
        }

        private sealed class Completion
        {
            public Completion(BatchState state, object future, bool duplicate)
            {
                State = state;
                Future = future;
                Duplicate = duplicate;
            }

            public BatchState State { get; }
            public object Future { get; }
            public bool Duplicate { get; }
        }

        private sealed class Failure
        {
            public Failure(BatchState state, ErrorRecord record, long itemIndex)
            {
                State = state;
                Record = record;
                ItemIndex = itemIndex;
            }

            public BatchState State { get; }
            public ErrorRecord Record { get; }
            public long ItemIndex { get; }
        }
    }
}
