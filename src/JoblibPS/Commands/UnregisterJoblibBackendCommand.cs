using System.Management.Automation;
using JoblibPS.Backends;
using JoblibPS.Errors;

namespace JoblibPS.Commands
{
    /// <summary>Removes a registered backend; built-in backends stay.</summary>
    [Cmdlet(VerbsLifecycle.Unregister, "JoblibBackend")]
    public sealed class UnregisterJoblibBackendCommand : PSCmdlet
    {
        /// <summary>The name of the backend to remove.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(BackendNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>Removes the registration.</summary>
        protected override void ProcessRecord()
        {
            BackendRegistration registration = BackendRegistry.Find(Name);
            if (registration == null)
            {
                WriteError(ErrorRecords.Argument(ErrorIds.BackendNotFound, BackendRegistry.UnknownMessage(Name), Name, ErrorCategory.ObjectNotFound));
                return;
            }
            if (registration.Source == BackendSource.BuiltIn)
            {
                WriteError(ErrorRecords.Argument(ErrorIds.BuiltInBackend, $"The backend '{registration.Name}' is built in and cannot be unregistered.", Name, ErrorCategory.PermissionDenied));
                return;
            }
            BackendRegistry.Unregister(registration.Name);
            WriteVerbose($"Unregistered backend '{registration.Name}'.");
        }
    }
}
