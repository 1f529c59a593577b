// A custom JoblibPS backend written in C#: each task runs on the .NET thread pool.
//
// The port of the custom backend in joblib's documentation, member for member the same as
// examples/ThreadPoolBackend.ps1. examples/ThreadPoolBackend.CSharp.ps1 compiles it with Add-Type and registers
// it as 'custom'; in a project of your own, reference JoblibPS.dll (netstandard2.0) and register the type:
//     Register-JoblibBackend -Name custom -Factory ([JoblibPS.Examples.ThreadPoolBackend])
//
// The contract (Get-Help about_JoblibPS_Backends): the engine calls every member on the pipeline thread, one at a
// time, so the fields below need no lock; only the callback given to Submit is called from other threads.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace JoblibPS.Examples
{
    public class ThreadPoolBackend : ParallelBackendBase
    {
        private ConcurrentExclusiveSchedulerPair _schedulers;
        private TaskFactory<object> _executor;
        private readonly List<BatchTask> _submitted = new List<BatchTask>();

        public ThreadPoolBackend()
        {
            // The constructor allocates nothing: a backend is also made just to read these (Get-JoblibBackend).
            SupportsRetrieveCallback = true;
            SupportsSharedMem = true;
            UsesThreads = true;
        }

        // The one abstract member: how many tasks may run at once (-1 = every CPU, -k = all CPUs but k-1).
        public override int EffectiveNJobs(int nJobs)
        {
            return NJobs.Resolve(nJobs);
        }

        // Called before every Invoke-JoblibParallel call: an executor running at most n tasks at once.
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            int n = EffectiveNJobs(nJobs);
            Terminate();
            _schedulers = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, n);
            _executor = new TaskFactory<object>(_schedulers.ConcurrentScheduler);
            return n;
        }

        // The task converts to Func<object> and returns a BatchResult; an error in the user's script travels inside
        // that result, so the .NET task does not fault for it.
        public override object Submit(BatchTask task, Action<object> callback)
        {
            _submitted.Add(task);
            Task<object> future = _executor.StartNew(task);
            // joblib's future.add_done_callback(callback). Action<object> is an Action<Task<object>> by variance.
            future.ContinueWith(callback);
            return future;
        }

        // On the pipeline thread, after the callback fired: the future is complete, so Result does not block.
        // Optional (joblib's example writes it): the default reads a Task's Result, a BatchFuture's GetResult() and a
        // BatchResult.
        public override object RetrieveResultCallback(object future)
        {
            return ((Task<object>)future).Result;
        }

        // A task failed, timed out or the call was stopped: stop what runs (a task not started yet ends at once when
        // it starts). With ensureReady the same config scope will call Configure again, so keep nothing else.
        public override void AbortEverything(bool ensureReady)
        {
            foreach (BatchTask task in _submitted) task.Stop();
            _submitted.Clear();
            if (!ensureReady) Terminate();
        }

        public override void StopCall()
        {
            _submitted.Clear();
        }

        public override void Terminate()
        {
            _schedulers?.Complete();
            _schedulers = null;
            _executor = null;
        }
    }
}
