using System;
using System.Collections.Generic;
using System.Management.Automation.Runspaces;
using System.Threading;
using JoblibPS.Execution;

namespace JoblibPS.Backends.Threading
{
    /// <summary>
    /// A fixed number of worker threads, each running queued futures one at a time in a runspace it rents from
    /// <see cref="LocalRunspaceCache"/> when it starts and returns when it ends. Enqueue, Abort and Dispose may be
    /// called from any thread.
    /// </summary>
    internal sealed class RunspaceWorkerPool : IDisposable
    {
        private readonly object _gate = new object();
        private readonly Queue<BatchFuture> _queue = new Queue<BatchFuture>();
        private readonly List<Thread> _threads = new List<Thread>();
        private readonly HashSet<BatchFuture> _running = new HashSet<BatchFuture>();
        private bool _disposed;
        private int _call;

        /// <summary>Starts a new call: each worker resets its runspace before it runs the call's first task, so nothing a call leaves behind (global variables, functions, location) reaches the next one.</summary>
        public void BeginCall()
        {
            Interlocked.Increment(ref _call);
        }

        public RunspaceWorkerPool(int size)
        {
            Size = size;
            for (int i = 0; i < size; i++)
            {
                var thread = new Thread(WorkerLoop) { IsBackground = true, Name = "JoblibPS worker " + (i + 1) };
                _threads.Add(thread);
                thread.Start();
            }
        }

        public int Size { get; }

        public void Enqueue(BatchFuture future)
        {
            lock (_gate)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(RunspaceWorkerPool));
                _queue.Enqueue(future);
                Monitor.Pulse(_gate);
            }
        }

        /// <summary>Completes queued futures as stopped and stops the running ones; returns once they stopped (about a second at most).</summary>
        public void Abort()
        {
            List<BatchFuture> queued;
            List<BatchFuture> running;
            lock (_gate)
            {
                queued = new List<BatchFuture>(_queue);
                _queue.Clear();
                running = new List<BatchFuture>(_running);
            }
            foreach (BatchFuture future in queued)
            {
                future.Complete(BatchResult.ForStopped(future.Task, DateTime.UtcNow));
            }
            foreach (BatchFuture future in running)
            {
                future.Task.Stop();
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                Monitor.PulseAll(_gate);
            }
            Abort();
            foreach (Thread thread in _threads)
            {
                if (thread != Thread.CurrentThread) thread.Join(TimeSpan.FromSeconds(5));
            }
        }

        private void WorkerLoop()
        {
            Runspace runspace = null;
            bool healthy = true;
            int servedCall = 0;
            try
            {
                while (true)
                {
                    BatchFuture future;
                    lock (_gate)
                    {
                        while (_queue.Count == 0 && !_disposed) Monitor.Wait(_gate);
                        if (_queue.Count == 0) return;
                        future = _queue.Dequeue();
                        _running.Add(future);
                    }
                    BatchResult result;
                    try
                    {
                        int call = Volatile.Read(ref _call);
                        if (runspace == null)
                        {
                            runspace = LocalRunspaceCache.Rent();
                        }
                        else if (servedCall != 0 && servedCall != call)
                        {
                            LocalRunspaceCache.Reset(runspace);
                        }
                        servedCall = call;
                        result = future.Task.InvokeIn(runspace);
                    }
                    catch (Exception ex)
                    {
                        // Opening a runspace failed, or the runspace broke: report it as the task's failure.
                        healthy = false;
                        result = BatchResult.FromDriverOutput(future.Task, null, ex, false, false, TimeSpan.Zero);
                    }
                    lock (_gate)
                    {
                        _running.Remove(future);
                    }
                    future.Complete(result);
                    if (!healthy || runspace?.RunspaceStateInfo.State != RunspaceState.Opened)
                    {
                        LocalRunspaceCache.Return(runspace, false);
                        runspace = null;
                        healthy = true;
                    }
                }
            }
            finally
            {
                LocalRunspaceCache.Return(runspace, healthy);
            }
        }
    }
}
