using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Checkpoint;
using JoblibPS.Config;
using JoblibPS.Output;
using JoblibPS.Errors;

namespace JoblibPS.Engine
{
    /// <summary>
    /// The engine of one Invoke-JoblibParallel call: cuts input into batches, submits them to the backend within
    /// the pre-dispatch window, marshals completions back, has <see cref="OutputOrder"/> write each item's records
    /// in order (or as batches complete), and applies <see cref="FailurePolicy"/> to items that fail.
    /// </summary>
    /// <remarks>
    /// The life of an item: the cmdlet hands it to <see cref="Add"/>; it waits in a batch being filled; the batch
    /// becomes a <see cref="BatchTask"/> (one typed invocation) that the backend runs in a worker; the backend's
    /// callback queues the completion; this thread takes the result and writes the item's records.
    /// Threading: every member but <see cref="Cancel"/> is called on the pipeline thread, which is also the only
    /// thread that calls the backend (except the completion callback, which only enqueues) and the only thread
    /// that writes. Memory is bounded by the window: at most <c>window</c> batches run (submitted and not yet
    /// complete), at most the reorder limit wait to be written, and the upstream command is held back meanwhile.
    /// </remarks>
    internal sealed class ParallelRun : IDisposable
    {
        private readonly RunRequest _request;
        private readonly IPipelineWriter _writer;
        private readonly ResolvedSettings _settings;
        private readonly BackendSession _session;
        private readonly FailurePolicy _policy;
        private readonly OutputOrder _output;
        private readonly int _pipelineThread = Thread.CurrentThread.ManagedThreadId;
        private readonly List<object> _pending = new List<object>();
        private readonly RetryQueue _retries = new RetryQueue();
        private readonly FailureRouter _failures;
        private readonly ConcurrentQueue<Completion> _completions = new ConcurrentQueue<Completion>();
        private readonly SemaphoreSlim _signal = new SemaphoreSlim(0);
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TimeSpan? _gcPauseAtStart = GcPauses.Now();
        private readonly object _callToken = new object();
        private readonly InFlight _inFlight = new InFlight();
        private readonly RunProgress _progress;
        private readonly ProgressRelay _blockProgress;
        private readonly ConcurrentQueue<KeyValuePair<long, int>> _startedItems = new ConcurrentQueue<KeyValuePair<long, int>>();
        private readonly System.Management.Automation.Runspaces.Runspace _runspace = System.Management.Automation.Runspaces.Runspace.DefaultRunspace;
        private readonly CallCheckpoint _checkpoint;
        private IDisposable _mailbox;
        private int _window;
        private int _reorderLimit;
        private long _nextItemIndex;
        private int _nextBatchIndex;
        private int _batchSize;
        private bool _batchSizeStale = true;
        private bool _finished;
        private long _lastActivityTicks;
        private long _lastInputTicks;
        private long _oldestPendingTicks;
        private bool _upstreamSlow;
        private bool _inputEnded;
        private long _completedItems;
        private int _stalledBatches;
        private TimeSpan _workerTime;
        private long _addedItems;

        /// <summary>
        /// The longest a partial batch is held back while a worker is idle and items keep arriving quickly:
        /// 10 ms, twenty times the 0.3 to 0.6 ms a batch costs in a warm runspace (measured with
        /// bench/Invoke-Benchmark.ps1, W1), so the overhead stays near 5% while a slow upstream command is never held
        /// back by more than that.
        /// </summary>
        private static readonly long HoldTicks = Stopwatch.Frequency / 100;

        public ParallelRun(RunRequest request, ResolvedSettings settings, IPipelineWriter writer)
        {
            _request = request;
            _settings = settings;
            _writer = writer;
            _session = new BackendSession(settings, writer);
            _policy = new FailurePolicy(request.OnError, request.Retry, request.RetryDelay);
            _output = new OutputOrder(request.Ordered);
            _progress = new RunProgress(writer, _clock);
            _checkpoint = request.Checkpoint;
            if (request.ForwardProgress) _blockProgress = new ProgressRelay(Wake);
            _failures = new FailureRouter(request, _policy, _output, _retries, _session, writer, _clock, Submit);
        }

        /// <summary>The backend the call runs on (after any fallback), once started.</summary>
        public ParallelBackendBase Backend => _session.Backend;

        /// <summary>Configures the backend (following fallbacks) and starts the call.</summary>
        public void Start()
        {
            var call = new ParallelCall(_settings.NJobs, _settings.BackendArguments, _settings.InnerMaxNumThreads, _request.Timeout, _request.Ordered, _request.BatchSizeText, _request.PreDispatch, _stop.Token) { InJob = _request.InJob };
            _session.Start(call, _request.Script.Text);
            try { _window = PreDispatchExpression.Evaluate(_request.PreDispatch, _session.NJobs); }
            catch (FormatException ex) { throw new TerminatingErrorException(ErrorRecords.Argument(ErrorIds.InvalidPreDispatch, ex.Message, _request.PreDispatch)); }
            _reorderLimit = (int)Math.Min(int.MaxValue, Math.Max(16L, 4L * _window));
            _lastActivityTicks = _clock.ElapsedTicks;
            // Work that must run on this runspace's thread (a nested call's backend factory) wakes the wait loop.
            _mailbox = Runspaces.RunspaceDispatcher.Listen(_runspace, Wake);
            int n = _session.NJobs;
            _writer.WriteVerbose($"Using backend {Backend} with {(n == 1 ? "1 concurrent worker" : $"{n} concurrent workers")}.");
            string warning = _session.ConfiguredWarning();
            if (warning != null) _writer.WriteWarning(warning);
        }

        /// <summary>Takes one input item; may dispatch, write finished output, and wait while the window is full.</summary>
        public void Add(object item)
        {
            long now = _clock.ElapsedTicks;
            _upstreamSlow = _lastInputTicks == 0 || now - _lastInputTicks >= HoldTicks;
            _lastInputTicks = now;
            if (_pending.Count == 0) _oldestPendingTicks = now;
            // An item a checkpoint holds waits in line as such: it is written from the checkpoint in its place, not run.
            bool recorded = _checkpoint != null && _checkpoint.IsRecorded(_addedItems++);
            _pending.Add(recorded ? new RecordedItem(item) : item);
            // A run of recorded items is gathered before the engine pumps, so that it is written as one span (see
            // WriteRecorded), not one span per item: the next item is known to be recorded (all input is in).
            if (recorded && _pending.Count < MaxRecordedSpan && _checkpoint.IsRecorded(_addedItems)) return;
            Pump(endOfInput: false);
        }

        /// <summary>Dispatches what is left, waits for every batch, writes the rest, and ends the call.</summary>
        public void Finish()
        {
            _inputEnded = true;
            Pump(endOfInput: true);
            _finished = true;
            _writer.WriteDebug($"Workers ran batches for {_workerTime.TotalSeconds:0.000}s in all; the call took {_clock.Elapsed.TotalSeconds:0.000}s.");
            string gc = GcPauses.Report(_gcPauseAtStart, _clock.Elapsed, _session.UsesThreads && _session.NJobs > 1);
            if (gc != null) _writer.WriteVerbose(gc);
            _progress.Finish(_nextItemIndex, _nextBatchIndex);
            _writer.WriteVerbose(_policy.Summary());
            _checkpoint?.Close(CheckpointRunStatus.Completed, _policy.Failed);
            // Batches the stall guard gave up on are still the backend's: abort them, so its workers are whole again
            // (a stuck one replaced) and the backend says which threads it had to abandon.
            if (_stalledBatches > 0) _session.Abort();
            _session.End();
        }

        /// <summary>Asks the run to stop (Ctrl+C). Any thread.</summary>
        public void Cancel()
        {
            _stop.Cancel();
            // A task running on the pipeline thread itself (the sequential backend) only ends if asked directly.
            _inFlight.RequestStopAll();
            Wake();
        }

        public void Dispose()
        {
            _mailbox?.Dispose();
            _mailbox = null;
            if (!_finished)
            {
                _session.Abort();
                _session.End();
                _progress.Clear();
                _checkpoint?.Close(_stop.IsCancellationRequested ? CheckpointRunStatus.Stopped : CheckpointRunStatus.Failed, _policy.Failed);
            }
            // _signal and _stop are left undisposed on purpose: Cancel may still arrive from another thread, and
            // neither holds an OS handle unless asked for one.
        }

        // ---- dispatch ------------------------------------------------------------------------------------------

        private void Pump(bool endOfInput)
        {
            while (true)
            {
                // A stop asked for between two waits (before the first batch, or while input arrives) dispatches nothing more.
                if (_stop.IsCancellationRequested) Stopped();
                ProcessCompletions();
                if (_failures.Recorded != null) FailCall();
                if (TrySubmitRetry() || TryDispatchOne(endOfInput)) continue;
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
                if (_pending.Count == 0 && _output.Count == 0) return;
                WaitForCompletion();
            }
        }

        private bool TryDispatchOne(bool endOfInput)
        {
            if (_pending.Count == 0 || _failures.Recorded != null || WindowFull) return false;
            if (_pending[0] is RecordedItem)
            {
                WriteRecorded();
                return true;
            }
            bool holdOver = _upstreamSlow || _clock.ElapsedTicks - _oldestPendingTicks >= HoldTicks;
            int take = BatchCut.Take(_pending.Count, BatchSize(), endOfInput, _inFlight.Count, _session.NJobs, holdOver);
            if (take == 0) return false;
            if (_checkpoint != null)
            {
                // A batch runs items up to the first one the checkpoint holds.
                int recorded = _pending.FindIndex(0, take, i => i is RecordedItem);
                if (recorded > 0) take = recorded;
            }
            object[] items = _pending.GetRange(0, take).ToArray();
            _pending.RemoveRange(0, take);
            _oldestPendingTicks = _clock.ElapsedTicks;
            var span = new Span(_nextItemIndex, take, items);
            _nextItemIndex += take;
            _output.Add(span);
            Submit(span);
            return true;
        }

        /// <summary>
        /// The items at the head of the line that the checkpoint holds become one span, ready at once with their
        /// recorded output: the output order writes it in its place (or at once, unordered) like any batch that came
        /// back. At most <see cref="MaxRecordedSpan"/> items, so memory stays bounded in ordered output.
        /// </summary>
        private void WriteRecorded()
        {
            int count = 0;
            while (count < _pending.Count && count < MaxRecordedSpan && _pending[count] is RecordedItem) count++;
            var items = new object[count];
            for (int i = 0; i < count; i++) items[i] = ((RecordedItem)_pending[i]).Item;
            _pending.RemoveRange(0, count);
            var span = new Span(_nextItemIndex, count, items) { Result = _checkpoint.Replay(_nextItemIndex, count), WriteCount = count };
            if (_writer.TracksItems) CheckedWriter().ItemsStarted(span.First, count);
            _nextItemIndex += count;
            _completedItems += count;
            _output.Add(span);
        }

        /// <summary>The most recorded items written as one span: their records are decoded before they are written.</summary>
        private const int MaxRecordedSpan = 1024;

        /// <summary>
        /// Submits the first retry that is due, when a worker is free in the window. The reorder limit does not hold
        /// it back: in ordered output the spans waiting to be written may be waiting for this very one.
        /// </summary>
        private bool TrySubmitRetry()
        {
            // While the call fails, FailCall keeps only the retries of items before the failing one: they still run.
            if (_retries.Count == 0 || _inFlight.Count >= _window) return false;
            Span due = _retries.TakeDue(_clock.ElapsedTicks);
            if (due == null) return false;
            Submit(due);
            return true;
        }

        /// <summary>
        /// True when no batch may be submitted now: the pre-dispatch window (batches submitted and not yet
        /// complete) is full, or the reorder window (batches complete but waiting for an earlier one, in ordered
        /// mode) is. Together they bound memory whatever the input size.
        /// </summary>
        private bool WindowFull => _inFlight.Count >= _window || (_output.Count - _inFlight.Count >= _reorderLimit && _output.ReadyCount >= _reorderLimit);

        private int BatchSize()
        {
            if (_request.FixedBatchSize.HasValue) return _request.FixedBatchSize.Value;
            if (_batchSizeStale)
            {
                int size = _session.ComputeBatchSize();
                if (size != _batchSize && _batchSize != 0) _writer.WriteDebug($"Batch size changed from {_batchSize} to {size}.");
                _batchSize = size;
                _batchSizeStale = false;
            }
            return _batchSize;
        }

        private void Submit(Span span)
        {
            BatchTask task = _request.TaskFor(span, _nextBatchIndex++, _callToken, _session.GetNestedBackend());
            if (_blockProgress != null) task.ProgressSink = _blockProgress.Post;
            if (_writer.TracksItems)
            {
                var started = new KeyValuePair<long, int>(span.First, span.Count);
                task.Started = () =>
                {
                    _startedItems.Enqueue(started);
                    Wake();
                };
            }
            span.Task = task;
            span.Callbacks = 0;
            _inFlight.Add(task, span);
            _batchSizeStale = true;

            Action<object> callback = future =>
            {
                bool duplicate = Interlocked.Increment(ref span.Callbacks) > 1;
                _completions.Enqueue(new Completion(span, task, future, duplicate));
                Wake();
            };
            _session.Submit(task, callback);
        }

        // ---- completions ---------------------------------------------------------------------------------------

        private void ProcessCompletions()
        {
            while (_startedItems.TryDequeue(out KeyValuePair<long, int> started)) CheckedWriter().ItemsStarted(started.Key, started.Value);
            while (_completions.TryDequeue(out Completion completion))
            {
                Span span = completion.Span;
                if (completion.Duplicate)
                {
                    _failures.Record(span, _session.DuplicateCallback(completion.Task));
                    continue;
                }
                if (!_inFlight.Contains(completion.Task))
                {
                    // A batch the stall guard gave up on (see CheckStalled) came back at last: it was already
                    // accounted for, and its items were reported or run again.
                    continue;
                }
                _lastActivityTicks = _clock.ElapsedTicks;
                BatchResult result = _session.Retrieve(completion.Task, completion.Future, _request.Timeout, out ErrorRecord violation);
                if (result == null)
                {
                    _failures.Record(span, violation);
                    continue;
                }
                _inFlight.Remove(completion.Task);
                _workerTime += result.Duration;
                _session.BatchCompleted(span.Count, result.Duration);
                if (result.Outcome == BatchOutcome.Completed) ItemCostMemory.Record(_session.CostKey, span.Count, result.Duration);
                Settle(span, result);
            }
            // A call that fails writes what comes before the failure itself (see FailCall).
            if (_failures.Recorded == null) _output.WriteReady(CheckedWriter(), _policy.CountDone);
            _progress.Report(_completedItems, _nextItemIndex, _inputEnded);
            // After the bar's own report: a block's record that woke the engine once the bar is due finds it shown,
            // and goes under it (drained first, it went out without a parent while the bar appeared just after).
            _blockProgress?.Drain(CheckedWriter(), _progress.Shown ? RunProgress.ActivityId : (int?)null);
        }

        /// <summary>
        /// Takes a batch's final result (from its backend, or the stall guard's verdict): the span is written from it,
        /// and an item that ended it early goes to the failure policy. While the call already fails, an item before
        /// the failing one still does (in ordered output it is written before the error, so its retry still runs and
        /// an earlier final failure becomes the call's error); one after it only counts as a further failure.
        /// </summary>
        private void Settle(Span span, BatchResult result)
        {
            _completedItems += result.Outcome == BatchOutcome.Completed ? span.Count : 0;
            _batchSizeStale = true;
            span.Result = result;
            span.WriteCount = result.Outcome == BatchOutcome.Completed ? span.Count : result.CompleteItems;
            // Items that finished without error are recorded, also those before a failed one; the failed one is not.
            if (_checkpoint != null) _checkpoint.Record(span.First, span.WriteCount, result);
            if (result.Outcome == BatchOutcome.Completed || _stop.IsCancellationRequested) return;
            _failures.Route(span, result);
        }

        private IPipelineWriter CheckedWriter()
        {
            if (Thread.CurrentThread.ManagedThreadId != _pipelineThread)
            {
                throw new InvalidOperationException("JoblibPS wrote from a thread other than the pipeline thread.");
            }
            return _writer;
        }

        /// <summary>
        /// Ends the call for the recorded failure: in ordered mode the items before the failing one finish and are
        /// written first (their output comes before the error, as in a plain loop); then the backend aborts
        /// everything and the error is thrown.
        /// </summary>
        private void FailCall()
        {
            _pending.Clear();
            if (!_request.Ordered) _retries.Clear();
            while (_request.Ordered)
            {
                // Items before the failing one that are still to run (in flight, a retry waiting for its delay, a part
                // run again after a failure) run to their end: their output comes before the error. An earlier item
                // may fail for good meanwhile: FailureRouter.Record keeps the earliest, which the error is then about.
                long failing = _failures.Recorded.Span.First;
                _retries.DropFrom(failing);
                if (!_inFlight.AnyBefore(failing) && _retries.Count == 0) break;
                if (TrySubmitRetry()) continue;
                WaitForCompletion();
                ProcessCompletions();
            }
            CallFailure failure = _failures.Recorded;
            if (_request.Ordered)
            {
                _output.WriteReady(CheckedWriter(), _policy.CountDone, before: failure.Span.First);
            }
            if (failure.Span.Result != null)
            {
                OutputOrder.WritePart(failure.Span, Math.Min(failure.Span.Result.CompleteItems, (int)(failure.ItemIndex - failure.Span.First)), CheckedWriter());
            }
            if (_writer.TracksItems) CheckedWriter().EndItem(failure.ItemIndex, failure.Record);
            _session.Abort();
            throw new TerminatingErrorException(failure.Record);
        }

        /// <summary>Ends the call for a stop (Ctrl+C, Stop-Job): the backend aborts, nothing more is written.</summary>
        private void Stopped()
        {
            _session.Abort();
            throw new PipelineStoppedException();
        }

        private void Wake()
        {
            try { _signal.Release(); } catch (ObjectDisposedException) { } catch (SemaphoreFullException) { }
        }

        private void WaitForCompletion()
        {
            double ms = _request.Timeout.HasValue ? Math.Max(20, Math.Min(250, _request.Timeout.Value.TotalMilliseconds / 4)) : 1000;
            long? due = _retries.NextDue;
            if (due.HasValue) ms = Math.Max(1, Math.Min(ms, (due.Value - _clock.ElapsedTicks) * 1000.0 / Stopwatch.Frequency));
            bool signalled;
            try
            {
                signalled = _signal.Wait(TimeSpan.FromMilliseconds(ms), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                signalled = false;
            }
            if (_stop.IsCancellationRequested) Stopped();
            Runspaces.RunspaceDispatcher.RunPending(_runspace);
            if (!signalled) CheckStalled();
        }

        /// <summary>
        /// The engine's own guard for -TimeoutSeconds when nothing reports progress at all (a backend that never
        /// calls back, or runs tasks out of the task's sight): fail the oldest running batch.
        /// </summary>
        private void CheckStalled()
        {
            // Also while the call fails: FailCall may be waiting for an earlier item that is the stuck one.
            if (!_request.Timeout.HasValue) return;
            TimeSpan sinceActivity = TimeSpan.FromSeconds((_clock.ElapsedTicks - _lastActivityTicks) / (double)Stopwatch.Frequency);
            Span oldest = _inFlight.Stalled(sinceActivity, _request.Timeout.Value + TimeSpan.FromSeconds(1), out TimeSpan quiet);
            if (oldest == null) return;
            // The oldest batch is given up on as timed out at the item it had reached, and that verdict goes through
            // the failure policy like any other: -OnError Continue goes on, -Retry runs it again. The backend keeps
            // the batch (an item stuck in a .NET call cannot be stopped) until it returns or is aborted; whatever it
            // sends back then is ignored.
            BatchTask task = oldest.Task;
            _inFlight.Remove(task);
            _stalledBatches++;
            _lastActivityTicks = _clock.ElapsedTicks;
            task.RequestStop();
            _writer.WriteDebug($"Batch {task.BatchIndex} made no progress for {quiet.TotalSeconds:0.0}s: its item counts as timed out.");
            Settle(oldest, BatchResult.ForStalled(task, task.ItemsStartedSoFar));
        }
    }
}
