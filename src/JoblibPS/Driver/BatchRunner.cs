using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using JoblibPS.Runspaces;

namespace JoblibPS.Driver
{
    /// <summary>
    /// Runs one <see cref="BatchTask"/> in a runspace: the driver script with the batch's items (see
    /// <see cref="WorkerDriver"/>), the item timeout's watchdog, the block's progress records handed on as they
    /// arrive, and the batch's records read back into one <see cref="BatchResult"/>. A batch is data; this is how it
    /// runs, on the calling thread. The task keeps what another thread needs while it runs (its invocation, for a
    /// stop; what arrived so far, for a worker that dies).
    /// </summary>
    internal static class BatchRunner
    {
        /// <summary>Runs <paramref name="task"/> with <paramref name="ps"/> in <paramref name="runspace"/> (open and idle) and returns its result.</summary>
        public static BatchResult Run(BatchTask task, PowerShell ps, Runspace runspace)
        {
            var started = DateTime.UtcNow;
            var output = new PSDataCollection<PSObject>();
            task.BeginRun(output);
            bool outOfProcess = runspace != null && runspace.RunspaceIsRemote;
            // In this process an item log marks where items start (see ItemLog); elsewhere marker records do.
            ItemLog log = outOfProcess ? null : new ItemLog(output, task);
            Timer watchdog = null;
            if (task.ItemTimeout.HasValue)
            {
                if (outOfProcess) output.DataAdded += (sender, e) => OnOutput(task, output, e.Index);
                var period = TimeSpan.FromMilliseconds(Math.Max(20, Math.Min(250, task.ItemTimeout.Value.TotalMilliseconds / 4)));
                watchdog = new Timer(_ => CheckItemTimeout(task), null, period, period);
            }
            WorkerDriver.AddTo(ps, task, runspace, outOfProcess, log);
            ForwardProgress(ps, task.ProgressSink);
            if (!task.TryStartInvocation(ps))
            {
                watchdog?.Dispose();
                return BatchResult.ForStopped(task, started);
            }
            task.Started?.Invoke();
            Exception failure = null;
            int contextToken = outOfProcess ? -1 : WorkerContext.Enter(runspace, task);
            try
            {
                ps.Invoke(null, output);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            finally
            {
                WorkerContext.Exit(runspace, contextToken);
                watchdog?.Dispose();
                task.EndInvocation();
            }
            if (outOfProcess && !WorkerDriver.HasLastChunk(output, task.Marker))
            {
                WorkerDriver.FetchPending(runspace, task.Marker, output);
            }
            bool stopped = task.StopRequested || ps.InvocationStateInfo.State == PSInvocationState.Stopped;
            TimeSpan duration = DateTime.UtcNow - started;
            return log != null
                ? BatchResult.FromLog(task, output, log, failure, stopped, task.TimedOut, duration)
                : BatchResult.FromDriverOutput(task, output, failure, stopped, task.TimedOut, duration);
        }

        /// <summary>
        /// In this process and over remoting alike, the block's Write-Progress records land in the invocation's
        /// progress stream (the runspace has no host to draw them): each is handed on as it arrives.
        /// </summary>
        private static void ForwardProgress(PowerShell ps, Action<ProgressRecord> sink)
        {
            if (sink == null) return;
            ps.Streams.Progress.DataAdded += (sender, e) =>
            {
                var records = (PSDataCollection<ProgressRecord>)sender;
                ProgressRecord record;
                try { record = records[e.Index]; }
                catch (ArgumentOutOfRangeException) { return; }
                sink(record);
            };
        }

        /// <summary>A record arrived from another process: an item's marker is a sign of progress for the item timeout.</summary>
        private static void OnOutput(BatchTask task, PSDataCollection<PSObject> output, int index)
        {
            PSObject added;
            try { added = output[index]; }
            catch (ArgumentOutOfRangeException) { return; }
            if (WorkerDriver.StartsItem(added, task.Marker)) task.MarkProgress();
        }

        /// <summary>The watchdog's tick: an item that ran past the timeout stops the task (once).</summary>
        private static void CheckItemTimeout(BatchTask task)
        {
            TimeSpan? since = task.SinceProgress;
            if (since == null || !task.ItemTimeout.HasValue || since.Value <= task.ItemTimeout.Value) return;
            if (!task.MarkTimedOut()) return;
            ThreadPool.QueueUserWorkItem(_ =>
            {
                // A thread-pool work item must never throw: that would end the process.
                try { task.Stop(); } catch (Exception) { }
            });
        }
    }
}
