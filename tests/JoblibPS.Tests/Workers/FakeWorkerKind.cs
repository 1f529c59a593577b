using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using JoblibPS.Workers;
using JoblibPS.Caller;
using JoblibPS.Driver;

namespace JoblibPS.Tests.Workers
{
    /// <summary>
    /// A <see cref="WorkerKind"/> with no PowerShell behind it, for deterministic tests of <see cref="WorkerPool"/>:
    /// every open and every run waits for the test to say how it ends (<see cref="NextOpen"/>, <see cref="NextRun"/>),
    /// so a test drives opens, completions, failures, losses and stuck batches in exactly the order it wants.
    /// Everything the pool tells the kind (closes, losses, reruns) is recorded.
    /// </summary>
    internal sealed class FakeWorkerKind : WorkerKind
    {
        /// <summary>How long a test waits for something the pool must do before it fails: only reached when the pool is wrong.</summary>
        public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

        private readonly BlockingCollection<FakeOpen> _opens = new BlockingCollection<FakeOpen>();
        private readonly BlockingCollection<FakeRun> _runs = new BlockingCollection<FakeRun>();
        private readonly object _gate = new object();
        private readonly List<string> _events = new List<string>();
        private int _workerNumber;

        public FakeWorkerKind(bool opensOnDemand = true, bool rerunsLostWork = false, bool autoOpen = true)
        {
            OnDemand = opensOnDemand;
            Reruns = rerunsLostWork;
            AutoOpen = autoOpen;
        }

        public bool OnDemand { get; }

        public bool Reruns { get; }

        /// <summary>When true, opens succeed at once without the test's say (most tests); else each waits for <see cref="NextOpen"/>.</summary>
        public bool AutoOpen { get; set; }

        /// <summary>The pool under test (for losses the kind reports itself).</summary>
        public WorkerPool Pool { get; set; }

        /// <summary>What <see cref="Probe"/> answers; true by default.</summary>
        public Func<Worker, bool> ProbeAnswer { get; set; } = _ => true;

        /// <summary>Places of new workers, in order: by default each worker is its own place ("w1", "w2", ...).</summary>
        public Func<int, string> PlaceOf { get; set; } = n => "w" + n;

        public override string Name => "fake";

        /// <summary>The abort deadline the pool takes from the kind; 5 s unless a test sets a short one.</summary>
        public TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(5);

        public override TimeSpan StopGrace => Grace;

        public override bool OpensOnDemand => OnDemand;

        public override bool RerunsLostWork => Reruns;

        /// <summary>Everything the pool told the kind, in order: "open w1", "close w1", "close w1 stuck", "lost w1: why", "rerun w1", "probe w1".</summary>
        public IReadOnlyList<string> Events
        {
            get { lock (_gate) return _events.ToList(); }
        }

        public int Count(string prefix) => Events.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));

        /// <summary>Makes a worker that the kind did not open through the pool (a fixed set that the kind opened up front).</summary>
        public Worker NewWorker()
        {
            int n = Interlocked.Increment(ref _workerNumber);
            var worker = new Worker(null, PlaceOf(n));
            Record("open " + worker.Place);
            return worker;
        }

        /// <summary>The next open the pool started, waiting for it (fails the test when none comes within <see cref="Patience"/>).</summary>
        public FakeOpen NextOpen()
        {
            if (!_opens.TryTake(out FakeOpen open, Patience)) throw new TimeoutException("The pool opened no worker.");
            return open;
        }

        /// <summary>The next run the pool started, waiting for it (fails the test when none comes within <see cref="Patience"/>).</summary>
        public FakeRun NextRun()
        {
            if (!_runs.TryTake(out FakeRun run, Patience)) throw new TimeoutException("The pool ran no batch.");
            return run;
        }

        /// <summary>True when the pool starts no run within <paramref name="wait"/> (for "nothing more runs" checks).</summary>
        public bool NoRunWithin(TimeSpan wait, out FakeRun run) => !_runs.TryTake(out run, wait);

        public int PendingRuns => _runs.Count;

        public void Record(string text)
        {
            lock (_gate) _events.Add(text);
        }

        public override Worker Open(Worker replacing)
        {
            if (!AutoOpen)
            {
                var open = new FakeOpen(replacing);
                _opens.Add(open);
                open.Decided.Wait();
                if (open.Failure != null) throw open.Failure;
                if (open.Refused) return null;
                if (open.DiesWith != null)
                {
                    Worker dying = NewWorker();
                    Pool.Lost(dying, open.DiesWith);
                    return dying;
                }
            }
            return NewWorker();
        }

        public override BatchResult Run(Worker worker, BatchTask task)
        {
            var run = new FakeRun(this, worker, task);
            Record("run " + worker.Place + " " + task.BatchIndex);
            _runs.Add(run);
            return run.WaitForVerdict();
        }

        public override bool Probe(Worker worker)
        {
            Record("probe " + worker.Place);
            return ProbeAnswer(worker);
        }

        public override void Close(Worker worker, bool stuck)
        {
            Record("close " + worker.Place + (stuck ? " stuck" : string.Empty));
        }

        private readonly ConcurrentDictionary<Worker, string> _gone = new ConcurrentDictionary<Worker, string>();

        /// <summary>Marks the worker as gone, as a broken runspace is: the kind's <see cref="LostReason"/> says so after its run.</summary>
        public void Gone(Worker worker, string reason) => _gone[worker] = reason;

        public override string LostReason(Worker worker, BatchResult result, Exception thrown)
        {
            return worker.LostReason ?? (_gone.TryGetValue(worker, out string reason) ? reason : null);
        }

        public override BatchResult LostResult(Worker worker, BatchTask task, DateTime started, string reason, Exception thrown, IReadOnlyList<string> placesLost)
        {
            string where = placesLost == null ? worker.Place : string.Join(",", placesLost);
            return Crash(task, $"lost in {where}: {reason}", "FakeLost");
        }

        public override BatchResult NoWorkersLeft(BatchTask task) => Crash(task, "no workers left", "FakeNoWorkersLeft");

        public override BatchResult OpenFailed(BatchTask task, Exception error) => Crash(task, "open failed: " + error.Message, "FakeOpenFailed");

        public override void WorkerLost(Worker worker, string reason, int remaining)
        {
            Record($"lost {worker.Place}: {reason} ({remaining} left)");
        }

        public override void WorkRerun(Worker worker, BatchTask task, string reason)
        {
            Record("rerun " + task.BatchIndex + " from " + worker.Place);
        }

        private static BatchResult Crash(BatchTask task, string message, string id)
        {
            return BatchResult.ForWorkerCrash(task, 0, new ErrorRecord(new InvalidOperationException(message), id, ErrorCategory.ResourceUnavailable, null), TimeSpan.Zero);
        }

        /// <summary>A task of <paramref name="count"/> items (0, 1, ...) from <paramref name="first"/> on, batch <paramref name="batchIndex"/>.</summary>
        public static BatchTask NewTask(int batchIndex, int count = 1, long first = 0, object callToken = null)
        {
            object[] items = Enumerable.Range(0, count).Select(i => (object)(first + i)).ToArray();
            return new BatchTask(WorkerScript.From(ScriptBlock.Create("$_")), items, first, batchIndex, null, null, null, Array.Empty<object>(), null)
            {
                CallToken = callToken ?? CallOne,
            };
        }

        /// <summary>The call token most tests share (one call).</summary>
        public static readonly object CallOne = new object();

        /// <summary>A completed result: each item's one output is "out N" (its input index).</summary>
        public static BatchResult Completed(BatchTask task) => FromItems(task, task.Count, null, ranToEnd: true);

        /// <summary>The records the driver would send for the first <paramref name="started"/> items, then how it ended.</summary>
        public static BatchResult FromItems(BatchTask task, int started, Exception failure, bool ranToEnd, bool stopped = false)
        {
            var output = new List<PSObject>();
            for (int i = 0; i < started; i++)
            {
                output.Add(PSObject.AsPSObject(task.Marker));
                output.Add(PSObject.AsPSObject("out " + (task.FirstItemIndex + i)));
            }
            if (ranToEnd) output.Add(PSObject.AsPSObject(task.Marker + WorkerDriver.ItemsEndSuffix));
            return BatchResult.FromDriverOutput(task, output, failure, stopped, false, TimeSpan.FromMilliseconds(1));
        }
    }

    /// <summary>One open the pool started, waiting for the test's verdict.</summary>
    internal sealed class FakeOpen
    {
        public FakeOpen(Worker replacing) { Replacing = replacing; }

        public Worker Replacing { get; }

        public ManualResetEventSlim Decided { get; } = new ManualResetEventSlim(false);

        public Exception Failure { get; private set; }

        /// <summary>Set by <see cref="SucceedButDie"/>: the worker opens, but its process dies before the pool takes it.</summary>
        public string DiesWith { get; private set; }

        public void SucceedButDie(string reason)
        {
            DiesWith = reason;
            Decided.Set();
        }

        public bool Refused { get; private set; }

        public void Succeed() => Decided.Set();

        public void Fail(string message)
        {
            Failure = new InvalidOperationException(message);
            Decided.Set();
        }

        /// <summary>The kind cannot open a worker in that place (returns null).</summary>
        public void Refuse()
        {
            Refused = true;
            Decided.Set();
        }
    }

    /// <summary>One run of a batch on a fake worker, waiting for the test's verdict (or a stop, unless it is stuck).</summary>
    internal sealed class FakeRun
    {
        private readonly FakeWorkerKind _kind;
        private readonly ManualResetEventSlim _decided = new ManualResetEventSlim(false);
        private Func<BatchResult> _verdict;
        private bool _stuck;

        public FakeRun(FakeWorkerKind kind, Worker worker, BatchTask task)
        {
            _kind = kind;
            Worker = worker;
            Task = task;
        }

        public Worker Worker { get; }

        public BatchTask Task { get; }

        public string Place => Worker.Place;

        /// <summary>Every item ran to its end.</summary>
        public void Complete() => Decide(() => FakeWorkerKind.Completed(Task));

        /// <summary>Item <paramref name="item"/> (within the batch) threw in the user's script.</summary>
        public void FailInScript(int item) => Decide(() => FakeWorkerKind.FromItems(Task, item + 1, new RuntimeException("script failed"), ranToEnd: false));

        /// <summary>The worker itself failed (the invocation threw something that is not the user's script's error).</summary>
        public void FailWorker() => Decide(() => throw new InvalidOperationException("the worker broke"));

        /// <summary>The worker went away while it ran the batch (its process died, its host dropped).</summary>
        public void LoseWorker(string reason)
        {
            _kind.Gone(Worker, reason);
            Decide(() => FakeWorkerKind.FromItems(Task, 0, new InvalidOperationException(reason), ranToEnd: false));
        }

        /// <summary>The batch ignores stops from now on, as an item stuck in a .NET call does, until <see cref="Release"/>.</summary>
        public void BeStuck() => _stuck = true;

        /// <summary>Lets a stuck run end (its thread returns, as a stuck call finally does).</summary>
        public void Release() => Decide(() => FakeWorkerKind.FromItems(Task, 0, null, ranToEnd: false, stopped: true));

        private void Decide(Func<BatchResult> verdict)
        {
            _verdict = verdict;
            _decided.Set();
        }

        internal BatchResult WaitForVerdict()
        {
            // A stop reaches a run that is not stuck within a few milliseconds, as it reaches a real pipeline.
            while (!_decided.Wait(5))
            {
                if (!_stuck && Task.StopRequested)
                {
                    _kind.Record("stopped " + Task.BatchIndex);
                    return FakeWorkerKind.FromItems(Task, 0, null, ranToEnd: false, stopped: true);
                }
            }
            return _verdict();
        }
    }
}
