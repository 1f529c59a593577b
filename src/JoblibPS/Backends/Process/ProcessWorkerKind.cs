using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Runspaces;
using JoblibPS.Workers;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// Workers that are pwsh processes (<see cref="PwshWorker"/>), for loky and multiprocessing.
    /// </summary>
    /// <remarks>
    /// Crashes: the kind watches each worker's process (Process.Exited fires about 30 ms after a death) instead of
    /// waiting for the runspace, which reports Broken only about 60 s later; the pool then fails the batch the
    /// worker held at once with <see cref="ErrorIds.WorkerCrashed"/> and opens a fresh worker when work needs one.
    /// The environment workers start with may change between calls (NJobs changes the thread limits): workers
    /// started with an older one are replaced while idle.
    /// </remarks>
    internal sealed class ProcessWorkerKind : WorkerKind
    {
        /// <summary>
        /// How long a probe after a stopped batch may take: a round trip to a worker costs 5 to 8 ms, so only a
        /// pipeline that really is still running (or a broken transport) misses 2 s.
        /// </summary>
        private static readonly TimeSpan ProbeWait = TimeSpan.FromSeconds(2);

        private readonly object _gate = new object();
        private readonly string _name;
        private readonly ProcessBackendOptions _options;
        private IDictionary<string, string> _environment = new Dictionary<string, string>();

        public ProcessWorkerKind(string name, ProcessBackendOptions options)
        {
            _name = name;
            _options = options;
        }

        /// <summary>The pool the kind reports crashes to; set once, before the first worker opens.</summary>
        public WorkerPool Pool { get; set; }

        public override string Name => _name;

        /// <summary>Sets the variables later workers start with on top of the caller's environment.</summary>
        public void SetEnvironment(IDictionary<string, string> environment)
        {
            lock (_gate) _environment = new Dictionary<string, string>(environment, StringComparer.Ordinal);
        }

        public override Worker Open(Worker replacing)
        {
            IDictionary<string, string> environment;
            lock (_gate) environment = _environment;
            PwshWorker worker = PwshWorker.Create(_options.PwshPath, environment, OnExited);
            try
            {
                worker.Start();
            }
            catch (Exception ex) when (!(ex is WorkerExitedException) && worker.ExitCode.HasValue)
            {
                // PowerShell noticed the death first ("The background process closed or ended abnormally"): say what ended it.
                worker.Dispose();
                throw new WorkerExitedException(worker.ProcessId != 0 ? worker.ProcessId : worker.SafeId(), worker.ExitCode);
            }
            catch
            {
                worker.Dispose();
                throw;
            }
            return worker;
        }

        public override bool IsStale(Worker worker)
        {
            IDictionary<string, string> current;
            lock (_gate) current = _environment;
            IDictionary<string, string> started = ((PwshWorker)worker).Environment;
            return !(started.Count == current.Count && started.All(e => current.TryGetValue(e.Key, out string v) && v == e.Value));
        }

        /// <summary>Runs the batch; the worker shares this machine's file system, so files and folders travel by path.</summary>
        public override BatchResult Run(Worker worker, BatchTask task)
        {
            ((PwshWorker)worker).Progress.Reset();
            task.SendsFilesByPath = true;
            return task.InvokeIn(worker.Runspace);
        }

        /// <summary>A no-op round trip: the worker's last pipeline really ended and its transport works.</summary>
        public override bool Probe(Worker worker)
        {
            if (!base.Probe(worker) || ((PwshWorker)worker).ExitCode.HasValue) return false;
            PowerShell ps = PowerShell.Create();
            ps.Runspace = worker.Runspace;
            ps.AddScript("$null", useLocalScope: true);
            if (BoundedInvoke.Run(ps, ProbeWait) == null) return false;
            return worker.Runspace.RunspaceStateInfo.State == RunspaceState.Opened;
        }

        /// <summary>Ends the worker and waits (3 s at most; a killed process ends in milliseconds) until its process is gone.</summary>
        public override void Close(Worker worker, bool stuck)
        {
            var process = (PwshWorker)worker;
            process.Dispose(busy: stuck);
            try { process.Process.WaitForExit(3000); }
            catch (Exception) { }
        }

        public override string LostReason(Worker worker, BatchResult result, Exception thrown)
        {
            if (((PwshWorker)worker).ExitCode.HasValue) return worker.LostReason ?? "its process exited.";
            return base.LostReason(worker, result, thrown);
        }

        public override BatchResult LostResult(Worker worker, BatchTask task, DateTime started, string reason, Exception thrown, IReadOnlyList<string> placesLost)
        {
            var process = (PwshWorker)worker;
            if (!process.ExitCode.HasValue && thrown != null)
            {
                // The process lives but its runspace broke: a message it could not read (an input nested too deep) or
                // a transport failure. Say which value could not travel when one is to blame, else what the invocation said.
                return TransportFailure.Diagnose(_name, task, BatchResult.FromDriverOutput(task, null, thrown, false, false, DateTime.UtcNow - started));
            }
            return WorkerCrash.Result(_name, task, process, started, (int)Math.Min(int.MaxValue, process.Progress.Started) - 1, ReceivedBeforeDeath(task, process));
        }

        /// <summary>
        /// The chunks a dead worker sent before it died. Process.Exited may come before the caller read the last of
        /// them from the pipe (they are there, written before the death): wait, 1 s at most, until as many item
        /// markers arrived as the worker's counter says it sent.
        /// </summary>
        private static List<PSObject> ReceivedBeforeDeath(BatchTask task, PwshWorker worker)
        {
            long sent = worker.Progress.SentItems;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            List<PSObject> received = task.ReceivedSoFar();
            while (BatchResult.CountStarts(task, received) < sent && clock.ElapsedMilliseconds < 1000)
            {
                System.Threading.Thread.Sleep(10);
                received = task.ReceivedSoFar();
            }
            return received;
        }

        public override BatchResult OpenFailed(BatchTask task, Exception error)
        {
            var failure = new WorkerStartException(_name, _options.PwshPath, error);
            return BatchResult.FromDriverOutput(task, null, failure, false, false, TimeSpan.Zero);
        }

        /// <summary>Process.Exited of any worker (a thread-pool thread): an exit this side did not cause is a crash.</summary>
        private void OnExited(PwshWorker worker)
        {
            if (worker.KilledOnPurpose) return;
            Pool?.Lost(worker, "its process exited (" + WorkerCrash.DescribeExit(worker.ExitCode) + ").");
        }
    }
}
