using System;
using System.Collections;
using System.ComponentModel;
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
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static class RemoteWorkerFrame
    {
        private static readonly Lazy<WorkerProgress> ProgressFile = new Lazy<WorkerProgress>(WorkerProgress.OpenFromEnvironment);

        /// <summary>This worker process's item counter (see <see cref="WorkerProgress"/>), or null outside a process worker.</summary>
        public static WorkerProgress Progress => ProgressFile.Value;

        /// <summary>
        /// Pushes a worker frame on the runspace running the batch (this thread's default runspace) and returns
        /// the token for <see cref="Exit"/>. <paramref name="nested"/> holds Backend (a registered name), NJobs
        /// (or null) and Level (the nested backend's nesting level), as the caller's engine sent them.
        /// </summary>
        public static int Enter(IDictionary nested)
        {
            Runspace runspace = Runspace.DefaultRunspace;
            if (runspace == null || nested == null) return -1;
            string name = Value(nested["Backend"]) as string;
            if (string.IsNullOrEmpty(name)) return -1;
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
            return ConfigScopes.Push(runspace, frame);
        }

        /// <summary>Pops the frame <see cref="Enter"/> pushed (and any left above it).</summary>
        public static void Exit(int token)
        {
            if (token >= 0) ConfigScopes.Pop(Runspace.DefaultRunspace, token);
        }

        private static object Value(object value) => value is PSObject pso ? pso.BaseObject : value;
    }
}
