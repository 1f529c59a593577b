using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using System.Threading;

namespace JoblibPS.Runspaces
{
    /// <summary>
    /// Runs a piece of work on the pipeline thread of a given runspace, for script blocks that must run where they
    /// were defined (backend factories). On that runspace's own thread the work runs at once. When the runspace
    /// is idle, it runs there through a new pipeline. When the runspace is busy waiting in an Invoke-JoblibParallel
    /// call (a nested call in a worker asks its caller's runspace), the waiting engine runs it on its pipeline
    /// thread. Otherwise the caller waits, at most <see cref="BusyTimeout"/>.
    /// </summary>
    internal static class RunspaceDispatcher
    {
        private static readonly ConditionalWeakTable<Runspace, Mailbox> Mailboxes = new ConditionalWeakTable<Runspace, Mailbox>();

        public static TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(60);

        public static object Invoke(Runspace owner, Func<object> work)
        {
            Runspace current = Runspace.DefaultRunspace;
            if (owner == null || owner == current || owner.RunspaceStateInfo.State != RunspaceState.Opened)
            {
                return work();
            }
            if (owner.RunspaceAvailability == RunspaceAvailability.Available)
            {
                try
                {
                    using (var ps = PowerShell.Create())
                    {
                        ps.Runspace = owner;
                        Func<object> captured = work;
                        ps.AddScript("param($__JoblibWork) $__JoblibWork.Invoke()").AddArgument(captured);
                        var output = ps.Invoke();
                        if (ps.HadErrors && ps.Streams.Error.Count > 0) throw ps.Streams.Error[0].Exception;
                        return output.Count == 0 ? null : output[0]?.BaseObject;
                    }
                }
                catch (Exception ex) when (ex is InvalidRunspaceStateException || ex is PSInvalidOperationException)
                {
                    // It became busy in the meantime, or it was busy all along: RunspaceAvailability is only a hint
                    // (in pwsh 7.6.9 a script's runspace reads Available while it runs, after some commands such as
                    // Add-Member), and PowerShell refuses the second pipeline before running any of it
                    // ("a pipeline is already running"). Fall through to the mailbox.
                }
            }
            var item = new WorkItem(work);
            Mailbox mailbox = Mailboxes.GetValue(owner, _ => new Mailbox());
            mailbox.Post(item);
            if (!item.Done.Wait(BusyTimeout))
            {
                throw new TimeoutException($"The runspace that registered this backend (id {owner.Id}) stayed busy for {BusyTimeout.TotalSeconds:0} s, so its factory could not run. Register the backend with a Type instead of a script block, or call from that runspace.");
            }
            if (item.Error != null) throw item.Error;
            return item.Result;
        }

        /// <summary>Registers a wake-up for work posted to <paramref name="runspace"/> while its pipeline thread waits; dispose to unregister.</summary>
        public static IDisposable Listen(Runspace runspace, Action wake)
        {
            if (runspace == null) return null;
            Mailbox mailbox = Mailboxes.GetValue(runspace, _ => new Mailbox());
            return mailbox.Listen(wake);
        }

        /// <summary>Runs the work posted to <paramref name="runspace"/>; call on its pipeline thread.</summary>
        public static void RunPending(Runspace runspace)
        {
            if (runspace != null && Mailboxes.TryGetValue(runspace, out Mailbox mailbox)) mailbox.RunAll();
        }

        private sealed class Mailbox
        {
            private readonly ConcurrentQueue<WorkItem> _queue = new ConcurrentQueue<WorkItem>();
            private readonly List<Action> _listeners = new List<Action>();

            public void Post(WorkItem item)
            {
                _queue.Enqueue(item);
                Action[] listeners;
                lock (_listeners) listeners = _listeners.ToArray();
                foreach (Action wake in listeners) wake();
            }

            public IDisposable Listen(Action wake)
            {
                lock (_listeners) _listeners.Add(wake);
                if (!_queue.IsEmpty) wake();
                return new Unlisten(() => { lock (_listeners) _listeners.Remove(wake); });
            }

            public void RunAll()
            {
                while (_queue.TryDequeue(out WorkItem item))
                {
                    try { item.Result = item.Work(); }
                    catch (Exception ex) { item.Error = ex; }
                    item.Done.Set();
                }
            }
        }

        private sealed class WorkItem
        {
            public WorkItem(Func<object> work) { Work = work; }
            public Func<object> Work { get; }
            public object Result { get; set; }
            public Exception Error { get; set; }
            public ManualResetEventSlim Done { get; } = new ManualResetEventSlim(false);
        }

        private sealed class Unlisten : IDisposable
        {
            private Action _action;
            public Unlisten(Action action) { _action = action; }
            public void Dispose() { Interlocked.Exchange(ref _action, null)?.Invoke(); }
        }
    }
}
