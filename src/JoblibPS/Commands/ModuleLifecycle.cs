using System.Management.Automation;
using JoblibPS.Runspaces;

namespace JoblibPS.Commands
{
    /// <summary>Ends everything the module keeps warm when the module is removed (Remove-Module JoblibPS).</summary>
    public sealed class ModuleLifecycle : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        /// <summary>Nothing to do on import: pools start on first use.</summary>
        public void OnImport() { }

        /// <summary>Stops every running -AsJob job (its work, not its records), then closes every warm runspace and worker.</summary>
        public void OnRemove(PSModuleInfo psModuleInfo)
        {
            JoblibPS.Jobs.JobRun.StopAll();
            LocalRunspaceCache.CloseAll();
            JoblibPS.Backends.Process.ProcessPools.ShutdownAll();
            JoblibPS.Workers.LivePools.CloseAll();
        }
    }
}
