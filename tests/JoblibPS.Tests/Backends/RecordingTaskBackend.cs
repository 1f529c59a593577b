using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace JoblibPS.Tests.Backends
{
    /// <summary>
    /// A backend written the way an author who knows nothing about PowerShell would write one: each task runs with
    /// <c>Task.Run(() =&gt; task.Invoke())</c>, the engine's callback is a continuation of that Task, and the Task is
    /// the future. It records every contract call, in order, with the thread it came on.
    /// </summary>
    /// <remarks>
    /// AbortEverything and Terminate stop the tasks still running and wait for every Task it started (at most
    /// <see cref="DrainLimit"/>), so no runspace is still rented when the call ends. Subclasses break one rule
    /// each, to check that the engine reports it.
    /// </remarks>
    public class RecordingTaskBackend : ParallelBackendBase
    {
        public static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);

        private readonly object _gate = new object();
        private readonly List<string> _calls = new List<string>();
        private readonly HashSet<int> _threads = new HashSet<int>();
        private readonly List<(BatchTask Task, Task<object> Run)> _started = new List<(BatchTask, Task<object>)>();

        public RecordingTaskBackend()
        {
            SupportsRetrieveCallback = true;
            SupportsSharedMem = true;
            UsesThreads = true;
        }

        /// <summary>The contract calls so far, in order: Configure, StartCall, Submit, RetrieveResultCallback, RetrieveResult, StopCall, AbortEverything(True|False), Terminate.</summary>
        public IReadOnlyList<string> Calls
        {
            get { lock (_gate) return _calls.ToList(); }
        }

        /// <summary>The managed thread ids the contract calls came on.</summary>
        public IReadOnlyCollection<int> Threads
        {
            get { lock (_gate) return _threads.ToList(); }
        }

        /// <summary>The nJobs the last Configure received.</summary>
        public int ConfiguredNJobs { get; private set; }

        public int CountOf(string call) => Calls.Count(c => c == call);

        protected void Record(string call)
        {
            lock (_gate)
            {
                _calls.Add(call);
                _threads.Add(Environment.CurrentManagedThreadId);
            }
        }

        public override int EffectiveNJobs(int nJobs) => NJobs.Resolve(nJobs);

        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            Record("Configure");
            ConfiguredNJobs = nJobs;
            return base.Configure(nJobs, parallel, backendArgs);
        }

        /// <summary>The call's settings as StartCall saw them (<see cref="ParallelBackendBase.Parallel"/>).</summary>
        public ParallelCall ParallelAtStart { get; private set; }

        public override void StartCall()
        {
            Record("StartCall");
            ParallelAtStart = Parallel;
        }

        public override object Submit(BatchTask task, Action<object> callback)
        {
            Record("Submit");
            Task<object> run = Task.Run(() => task.Invoke());
            lock (_gate) _started.Add((task, run));
            ArrangeCallback(run, callback);
            return run;
        }

        /// <summary>How the callback is wired to the Task: once, as a continuation.</summary>
        protected virtual void ArrangeCallback(Task<object> run, Action<object> callback)
        {
            run.ContinueWith(_ => callback(run), TaskScheduler.Default);
        }

        public override object RetrieveResultCallback(object future)
        {
            Record("RetrieveResultCallback");
            return base.RetrieveResultCallback(future);
        }

        public override object RetrieveResult(object future, TimeSpan timeout)
        {
            Record("RetrieveResult");
            return base.RetrieveResult(future, timeout);
        }

        public override void StopCall() => Record("StopCall");

        public override void AbortEverything(bool ensureReady)
        {
            Record($"AbortEverything({ensureReady})");
            Drain(stop: true);
        }

        public override void Terminate()
        {
            Record("Terminate");
            Drain(stop: true);
        }

        private void Drain(bool stop)
        {
            List<(BatchTask Task, Task<object> Run)> started;
            lock (_gate) started = _started.ToList();
            if (stop)
            {
                foreach (var entry in started.Where(e => !e.Run.IsCompleted)) entry.Task.Stop();
            }
            Task.WaitAll(started.Select(e => (Task)e.Run).ToArray(), DrainLimit);
        }
    }

    /// <summary>Calls back synchronously, before Submit returns, with the task's result as the future (the contract allows both).</summary>
    public sealed class SynchronousBackend : RecordingTaskBackend
    {
        public override object Submit(BatchTask task, Action<object> callback)
        {
            Record("Submit");
            object result = task.Invoke();
            callback(result);
            return result;
        }
    }

    /// <summary>Breaks the rule "Submit returns a future, never null".</summary>
    public sealed class NullSubmitBackend : RecordingTaskBackend
    {
        public override object Submit(BatchTask task, Action<object> callback)
        {
            Record("Submit");
            return null;
        }
    }

    /// <summary>Breaks the rule "RetrieveResultCallback returns the task's result" by throwing.</summary>
    public sealed class ThrowingRetrieveBackend : RecordingTaskBackend
    {
        public override object RetrieveResultCallback(object future)
        {
            Record("RetrieveResultCallback");
            throw new InvalidOperationException("retrieving failed on purpose");
        }
    }

    /// <summary>Breaks the rule "call the callback once per task".</summary>
    public sealed class DoubleCallbackBackend : RecordingTaskBackend
    {
        protected override void ArrangeCallback(Task<object> run, Action<object> callback)
        {
            run.ContinueWith(_ =>
            {
                callback(run);
                callback(run);
            }, TaskScheduler.Default);
        }
    }

    /// <summary>Fails in Configure.</summary>
    public sealed class ThrowingConfigureBackend : RecordingTaskBackend
    {
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            Record("Configure");
            throw new InvalidOperationException("configuring failed on purpose");
        }
    }

    /// <summary>Accepts tasks and never runs them nor calls back: only -TimeoutSeconds ends a call on it.</summary>
    public sealed class SilentBackend : RecordingTaskBackend
    {
        public override object Submit(BatchTask task, Action<object> callback)
        {
            Record("Submit");
            return new object();
        }
    }

    /// <summary>Fails in Submit.</summary>
    public sealed class ThrowingSubmitBackend : RecordingTaskBackend
    {
        public override object Submit(BatchTask task, Action<object> callback)
        {
            Record("Submit");
            throw new InvalidOperationException("submitting failed on purpose");
        }
    }

    /// <summary>Breaks the rule "Configure returns at least one job".</summary>
    public sealed class ZeroJobsBackend : RecordingTaskBackend
    {
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            base.Configure(nJobs, parallel, backendArgs);
            return 0;
        }
    }

    /// <summary>Breaks the rule "RetrieveResultCallback returns what task.Invoke() returned".</summary>
    public sealed class WrongResultBackend : RecordingTaskBackend
    {
        public override object RetrieveResultCallback(object future)
        {
            Record("RetrieveResultCallback");
            return "not a BatchResult";
        }
    }
}
