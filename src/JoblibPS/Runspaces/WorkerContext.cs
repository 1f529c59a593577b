using System.Management.Automation.Runspaces;
using JoblibPS.Config;

namespace JoblibPS.Runspaces
{
    /// <summary>
    /// Puts a batch's nested backend in force in the runspace that runs the batch, so that an Invoke-JoblibParallel
    /// call made by an item uses it (joblib runs each batch under parallel_config(nested backend)).
    /// </summary>
    internal static class WorkerContext
    {
        /// <summary>Pushes the batch's frame on <paramref name="runspace"/>, a runspace of this process (one in another process gets it in the driver's parameters). Returns the token for <see cref="Exit"/>.</summary>
        public static int Enter(Runspace runspace, BatchTask task)
        {
            if (runspace == null || task.NestedBackend == null)
            {
                return -1;
            }
            var frame = new ConfigFrame
            {
                Backend = task.NestedBackend,
                NJobs = task.NestedNJobs,
                OwnsBackend = false,
                IsWorker = true,
            };
            return ConfigScopes.Push(runspace, frame);
        }

        public static void Exit(Runspace runspace, int token)
        {
            if (token >= 0) ConfigScopes.Pop(runspace, token);
        }
    }
}
