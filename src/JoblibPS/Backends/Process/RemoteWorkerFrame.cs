using System;
using System.Collections;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Config;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// Used by the worker driver inside a worker process (or any runspace in another process where JoblibPS is
    /// loaded): puts the batch's nested backend in force for the batch, as <c>WorkerContext</c> does for local
    /// runspaces, so an Invoke-JoblibParallel call made by an item follows the outer backend's GetNestedBackend
    /// (threading at the first level, sequential below). Not meant to be called by users.
    /// </summary>
    internal static class RemoteWorkerFrame
    {
        private static readonly Lazy<WorkerProgress> ProgressFile = new Lazy<WorkerProgress>(WorkerProgress.OpenFromEnvironment);

        /// <summary>This worker process's item counter (see <see cref="WorkerProgress"/>), or null outside a process worker.</summary>
        public static WorkerProgress Progress => ProgressFile.Value;

        private static readonly ConditionalWeakTable<Runspace, StrongBox<int>> Tokens = new ConditionalWeakTable<Runspace, StrongBox<int>>();

        /// <summary>
        /// Pushes a worker frame on the runspace running the batch (this thread's default runspace), first popping
        /// one a batch that ended early left there (the driver has no finally: see WorkerDriver).
        /// <paramref name="nested"/> holds Backend (a registered name), NJobs (or null) and Level (the nested
        /// backend's nesting level), as the caller's engine sent them.
        /// </summary>
        public static void Enter(IDictionary nested)
        {
            Runspace runspace = Runspace.DefaultRunspace;
            if (runspace == null || nested == null) return;
            Exit();
            string name = Value(nested["Backend"]) as string;
            if (string.IsNullOrEmpty(name)) return;
            ParallelBackendBase backend = BackendRegistry.Create(name, new Hashtable());
            backend.NestingLevel = LanguagePrimitives.ConvertTo<int>(Value(nested["Level"]) ?? 0);
            object nJobs = Value(nested["NJobs"]);
            var frame = new ConfigFrame
            {
                Backend = backend,
                NJobs = nJobs == null ? (int?)null : LanguagePrimitives.ConvertTo<int>(nJobs),
                OwnsBackend = false,
                IsWorker = true,
            };
            Tokens.GetValue(runspace, _ => new StrongBox<int>(-1)).Value = ConfigScopes.Push(runspace, frame);
        }

        /// <summary>Pops the frame <see cref="Enter"/> pushed on this thread's runspace (and any left above it), if any.</summary>
        public static void Exit()
        {
            Runspace runspace = Runspace.DefaultRunspace;
            if (runspace == null || !Tokens.TryGetValue(runspace, out StrongBox<int> token) || token.Value < 0) return;
            ConfigScopes.Pop(runspace, token.Value);
            token.Value = -1;
        }

        private static object Value(object value) => value is PSObject pso ? pso.BaseObject : value;
    }
}
