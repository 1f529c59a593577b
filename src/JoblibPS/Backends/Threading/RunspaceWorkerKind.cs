using System;
using System.Collections.Generic;
using System.Threading;
using JoblibPS.Workers;
using JoblibPS.Runspaces;

namespace JoblibPS.Backends.Threading
{
    /// <summary>
    /// Workers that are runspaces of this process, rented from the module's warm cache (<see cref="LocalRunspaceCache"/>)
    /// and given back to it, to be reset and kept warm, when the worker ends. Each runs on its slot's thread.
    /// </summary>
    internal sealed class RunspaceWorkerKind : WorkerKind
    {
        public override string Name => "threading";

        /// <summary>
        /// .NET cannot abort a thread, so one inside a call PowerShell cannot interrupt keeps running until that call
        /// returns; its runspace is never used again. The caller is told so, and what to do about it.
        /// </summary>
        public override string StuckWarning(int abandoned, int stuckNow, TimeSpan grace)
        {
            string threads = abandoned == 1 ? "1 worker thread" : $"{abandoned} worker threads";
            return $"{threads} did not stop within {grace.TotalSeconds:0.#} s: each is inside a call PowerShell cannot interrupt (a .NET method such as [Threading.Thread]::Sleep, " +
                $"or a blocking read). The call did not wait for {(abandoned == 1 ? "it" : "them")}: {(abandoned == 1 ? "its runspace is" : "their runspaces are")} abandoned and never reused, " +
                $"and fresh workers take {(abandoned == 1 ? "its" : "their")} place. A stuck thread ends only when its call returns (it does not keep pwsh from exiting); {stuckNow} of this backend's threads are stuck now. " +
                "Give such calls a timeout of their own (for example Wait(TimeSpan), or CancellationToken), or use the loky backend, whose stuck workers are killed.";
        }

        public override Worker Open(Worker replacing)
        {
            return new Worker(LocalRunspaceCache.Rent(), null);
        }

        /// <summary>Nothing a call leaves behind (global variables, functions, location) reaches the next call.</summary>
        public override void Reset(Worker worker)
        {
            LocalRunspaceCache.Reset(worker.Runspace);
        }

        /// <summary>
        /// A healthy worker's runspace goes back to the cache. A stuck one (its thread inside a .NET call that no stop
        /// reaches) is never reused: it is disposed on a thread of its own, which waits as long as the call runs.
        /// </summary>
        public override void Close(Worker worker, bool stuck)
        {
            if (!stuck)
            {
                LocalRunspaceCache.Return(worker.Runspace, healthy: true);
                return;
            }
            new Thread(() => LocalRunspaceCache.Return(worker.Runspace, healthy: false))
            {
                IsBackground = true,
                Name = "JoblibPS closing a stuck worker runspace",
            }.Start();
        }

        public override BatchResult LostResult(Worker worker, BatchTask task, DateTime started, string reason, Exception thrown, IReadOnlyList<string> placesLost)
        {
            Exception error = thrown ?? new InvalidOperationException("The worker runspace broke: " + reason);
            return BatchResult.FromDriverOutput(task, null, error, false, false, DateTime.UtcNow - started);
        }

        /// <summary>Opening a runspace failed: reported as the task's failure.</summary>
        public override BatchResult OpenFailed(BatchTask task, Exception error)
        {
            return BatchResult.FromDriverOutput(task, null, error, false, false, TimeSpan.Zero);
        }
    }
}
