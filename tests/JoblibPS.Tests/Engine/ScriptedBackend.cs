using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Config;
using JoblibPS.Output;
using JoblibPS.Caller;
using JoblibPS.Driver;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Engine
{
    /// <summary>What one run of one item does, decided by a test from the item's input index and its run number (1 for the first).</summary>
    internal enum ItemVerdict
    {
        /// <summary>Writes "out N" and ends.</summary>
        Ok,
        /// <summary>Throws in the user's script.</summary>
        Fail,
        /// <summary>Runs past the item timeout and is stopped by the task's own timer.</summary>
        TimeOut,
        /// <summary>Its worker dies while it runs: the batch's earlier items' output is lost with it.</summary>
        LoseWorker,
        /// <summary>Never returns, and ignores stops (an item stuck in a .NET call), until the backend terminates.</summary>
        Stuck,
    }

    /// <summary>
    /// A backend with no PowerShell behind it, for deterministic tests of the engine (<see cref="ParallelRun"/>): each
    /// item's fate is the test's <see cref="Decide"/>, and batches complete on a thread of the backend's own in an
    /// order chosen by a seeded random generator once submissions pause, so the engine meets results in any order.
    /// </summary>
    internal sealed class ScriptedBackend : ParallelBackendBase
    {
        private readonly object _gate = new object();
        private readonly List<(BatchTask Task, Action<object> Callback)> _pending = new List<(BatchTask, Action<object>)>();
        private readonly List<(BatchTask Task, Action<object> Callback)> _stuck = new List<(BatchTask, Action<object>)>();
        private readonly Dictionary<long, int> _runs = new Dictionary<long, int>();
        private readonly Random _random;
        private readonly Thread _completer;
        private long _lastSubmitTicks;
        private bool _ended;

        public ScriptedBackend(Func<long, int, ItemVerdict> decide, int seed)
        {
            Decide = decide;
            _random = new Random(seed);
            UsesThreads = true;
            SupportsRetrieveCallback = true;
            _completer = new Thread(CompleteLoop) { IsBackground = true, Name = "ScriptedBackend completer" };
            _completer.Start();
        }

        public Func<long, int, ItemVerdict> Decide { get; }

        /// <summary>How many times each item (by input index) started to run.</summary>
        public int RunsOf(long item)
        {
            lock (_gate) return _runs.TryGetValue(item, out int n) ? n : 0;
        }

        public int Submitted { get; private set; }

        private readonly List<long> _lostWith = new List<long>();

        /// <summary>The items that finished in a batch before its worker was lost (their output went with it).</summary>
        public IReadOnlyList<long> LostWith
        {
            get { lock (_gate) return _lostWith.ToList(); }
        }

        public override int EffectiveNJobs(int nJobs) => nJobs;

        public override object Submit(BatchTask task, Action<object> callback)
        {
            lock (_gate)
            {
                Submitted++;
                _pending.Add((task, callback));
                _lastSubmitTicks = Environment.TickCount64;
                Monitor.PulseAll(_gate);
            }
            return task;
        }

        public override void AbortEverything(bool ensureReady)
        {
            List<(BatchTask Task, Action<object> Callback)> dropped;
            lock (_gate)
            {
                dropped = _pending.ToList();
                _pending.Clear();
            }
            foreach (var (task, callback) in dropped) callback(FakeResult(task, 0, stopped: true));
        }

        public override void Terminate()
        {
            AbortEverything(false);
            List<(BatchTask Task, Action<object> Callback)> stuck;
            lock (_gate)
            {
                _ended = true;
                stuck = _stuck.ToList();
                _stuck.Clear();
                Monitor.PulseAll(_gate);
            }
            // A stuck item returns at last: a late callback the engine must ignore.
            foreach (var (task, callback) in stuck) callback(FakeResult(task, 0, stopped: true));
        }

        public override object RetrieveResultCallback(object future) => future;

        private void CompleteLoop()
        {
            while (true)
            {
                (BatchTask Task, Action<object> Callback) next;
                lock (_gate)
                {
                    // Results come once submissions pause for 5 ms, in a random order among the batches waiting.
                    while (!_ended && (_pending.Count == 0 || Environment.TickCount64 - _lastSubmitTicks < 5)) Monitor.Wait(_gate, 2);
                    if (_ended) return;
                    int pick = _random.Next(_pending.Count);
                    next = _pending[pick];
                    _pending.RemoveAt(pick);
                }
                object result = Run(next.Task);
                if (result == null)
                {
                    lock (_gate) _stuck.Add(next);
                    continue;
                }
                next.Callback(result);
            }
        }

        /// <summary>Runs a batch by the test's verdicts: the result, or null for a batch that never returns.</summary>
        private BatchResult Run(BatchTask task)
        {
            for (int i = 0; i < task.Count; i++)
            {
                long item = task.FirstItemIndex + i;
                int run;
                lock (_gate)
                {
                    run = (_runs.TryGetValue(item, out int n) ? n : 0) + 1;
                    _runs[item] = run;
                }
                task.MarkProgress();
                switch (Decide(item, run))
                {
                    case ItemVerdict.Ok:
                        continue;
                    case ItemVerdict.Fail:
                        return FakeResult(task, i + 1, failure: new RuntimeException($"item {item} failed on run {run}"), lastWritesNothing: true);
                    case ItemVerdict.TimeOut:
                        return FakeResult(task, i + 1, timedOut: true, lastWritesNothing: true);
                    case ItemVerdict.LoseWorker:
                        lock (_gate) _lostWith.AddRange(Enumerable.Range(0, i).Select(k => task.FirstItemIndex + k));
                        return BatchResult.ForWorkerCrash(task, i, new ErrorRecord(new InvalidOperationException("the worker died"), ErrorIds.WorkerCrashed, ErrorCategory.ResourceUnavailable, null), TimeSpan.Zero);
                    case ItemVerdict.Stuck:
                        return null;
                }
            }
            return FakeResult(task, task.Count, ranToEnd: true);
        }

        /// <summary>The driver's records for the first <paramref name="started"/> items ("out N" each), then how the batch ended.</summary>
        internal static BatchResult FakeResult(BatchTask task, int started, Exception failure = null, bool ranToEnd = false, bool stopped = false, bool timedOut = false, bool lastWritesNothing = false)
        {
            var output = new List<PSObject>();
            for (int i = 0; i < started; i++)
            {
                output.Add(PSObject.AsPSObject(task.Marker));
                if (!(lastWritesNothing && i == started - 1)) output.Add(PSObject.AsPSObject("out " + (task.FirstItemIndex + i)));
            }
            if (ranToEnd) output.Add(PSObject.AsPSObject(task.Marker + WorkerDriver.ItemsEndSuffix));
            return BatchResult.FromDriverOutput(task, output, failure, stopped, timedOut, TimeSpan.FromMilliseconds(1));
        }
    }

    /// <summary>Everything the engine writes, in order, as text: "out N" for output, "error N: id" for an item's own error, "warning: ...".</summary>
    internal sealed class RecordingWriter : IPipelineWriter
    {
        private readonly List<string> _written = new List<string>();

        public IReadOnlyList<string> Written => _written;

        public IEnumerable<string> Outputs => _written.Where(w => w.StartsWith("out ", StringComparison.Ordinal));

        public void WriteOutput(object value) => _written.Add(Text(value));

        public void WriteError(ErrorRecord record) => _written.Add("error " + Describe(record));

        public void WriteOwnError(ErrorRecord record) => _written.Add("error " + Describe(record));

        public void WriteWarning(string message) => _written.Add("warning: " + message);

        public void WriteVerbose(string message) { }

        public void WriteDebug(string message) { }

        public void WriteInformation(InformationRecord record) { }

        public void WriteProgress(ProgressRecord record) { }

        public bool TracksItems => false;

        public void ItemsStarted(long first, int count) { }

        public void BeginItem(long inputIndex) { }

        public void EndItem(long inputIndex, ErrorRecord failure) { }

        private static string Text(object value) => (value is PSObject ps ? ps.BaseObject : value)?.ToString();

        internal static string Describe(ErrorRecord record) => $"{Text(record.TargetObject)}: {record.FullyQualifiedErrorId.Split(',')[0]}";
    }

    /// <summary>One engine run over a <see cref="ScriptedBackend"/>: items 0 to count - 1, on the calling thread as the pipeline thread.</summary>
    internal static class EngineRun
    {
        public static (RecordingWriter Writer, ErrorRecord Error) Run(ScriptedBackend backend, int count, int nJobs = 2, int? batchSize = 1, OnErrorAction onError = OnErrorAction.Abort, int retry = 0, double retryDelaySeconds = 0, double? timeoutSeconds = null, bool ordered = true)
        {
            var request = new RunRequest
            {
                Script = WorkerScript.From(ScriptBlock.Create("$_")),
                Preferences = Array.Empty<object>(),
                FixedBatchSize = batchSize,
                BatchSizeText = batchSize?.ToString() ?? "auto",
                OnError = onError,
                Ordered = ordered,
            };
            request.SetRetry(retry, retryDelaySeconds);
            if (timeoutSeconds.HasValue) request.SetTimeout(timeoutSeconds.Value);
            var settings = new ResolvedSettings { Backend = backend, NJobs = nJobs, CallOwnsBackend = true, BackendArguments = new Hashtable() };
            var writer = new RecordingWriter();
            ErrorRecord error = null;
            using (var run = new ParallelRun(request, settings, writer))
            {
                try
                {
                    run.Start();
                    for (int i = 0; i < count; i++) run.Add(i);
                    run.Finish();
                }
                catch (TerminatingErrorException ex)
                {
                    error = ex.ErrorRecord;
                }
            }
            return (writer, error);
        }
    }
}
