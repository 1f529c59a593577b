using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace JoblibPS.Backends
{
    /// <summary>
    /// joblib's EXTERNAL_BACKENDS: a backend registered by name and module only. Its first use imports the module
    /// in the current runspace, and the module's import registers the real factory.
    /// </summary>
    internal static class ExternalBackends
    {
        public static BackendRegistration Load(BackendRegistration external)
        {
            if (Runspace.DefaultRunspace == null)
            {
                throw new ModuleMissingException(external, "there is no runspace on this thread to import it in");
            }
            using (var ps = PowerShell.Create(RunspaceMode.CurrentRunspace))
            {
                ps.AddCommand("Import-Module").AddParameter("Name", external.ModuleName).AddParameter("ErrorAction", "Stop");
                try
                {
                    ps.Invoke();
                }
                catch (RuntimeException ex)
                {
                    throw new ModuleMissingException(external, ex.Message);
                }
            }
            BackendRegistration loaded = BackendRegistry.Find(external.Name);
            if (loaded == null || loaded.Source == BackendSource.External)
            {
                throw new ModuleMissingException(external, "it was imported but did not register the backend (its import must run Register-JoblibBackend -Name " + external.Name + " -Factory ...)");
            }
            return loaded;
        }
    }

    /// <summary>An external backend's module could not provide it.</summary>
    internal sealed class ModuleMissingException : Exception
    {
        public ModuleMissingException(BackendRegistration external, string reason)
            : base($"The backend '{external.Name}' comes from the module '{external.ModuleName}', which could not provide it: {reason.TrimEnd('.', ' ')}. Install the module (Install-PSResource {external.ModuleName}, or Install-Module {external.ModuleName}), or add its folder to $env:PSModulePath.")
        {
        }
    }
}
