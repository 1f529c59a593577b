using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Backends;
using JoblibPS.Errors;

namespace JoblibPS.Commands
{
    /// <summary>Registers a backend by name: a factory (a ParallelBackendBase type or a script block), or an external module that registers it on first use.</summary>
    [Cmdlet(VerbsLifecycle.Register, "JoblibBackend", DefaultParameterSetName = FactorySet)]
    [OutputType(typeof(BackendInfo))]
    public sealed class RegisterJoblibBackendCommand : PSCmdlet
    {
        private const string FactorySet = "Factory";
        private const string ExternalSet = "External";

        /// <summary>The name users give to -Backend.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidatePattern(@"^[A-Za-z0-9_.\-]+$")]
        public string Name { get; set; }

        /// <summary>A type deriving from JoblibPS.ParallelBackendBase, or a script block returning an instance or an object with the contract's methods as script methods.</summary>
        [Parameter(Mandatory = true, Position = 1, ParameterSetName = FactorySet)]
        [ValidateNotNull]
        public object Factory { get; set; }

        /// <summary>The module whose import registers the backend (an external backend, loaded on first use).</summary>
        [Parameter(Mandatory = true, ParameterSetName = ExternalSet)]
        [ValidateNotNullOrEmpty]
        public string ModuleName { get; set; }

        /// <summary>Make it the session's default backend.</summary>
        [Parameter]
        public SwitchParameter MakeDefault { get; set; }

        /// <summary>Replace a registration of the same name, built-ins included.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Output the registration.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>Validates and registers.</summary>
        protected override void EndProcessing()
        {
            BackendRegistration existing = BackendRegistry.Find(Name);
            if (existing != null && !Force.IsPresent && existing.Source != BackendSource.External)
            {
                string what = existing.Source == BackendSource.BuiltIn ? "a built-in backend" : "already registered";
                ThrowTerminatingError(ErrorRecords.Argument(ErrorIds.BackendNameTaken,
                    $"The backend name '{Name}' is {what}. Choose another name, or give -Force to replace it.", Name, ErrorCategory.ResourceExists));
            }

            BackendRegistration registration;
            if (ParameterSetName == ExternalSet)
            {
                registration = new BackendRegistration(Name, BackendSource.External, null, null, ModuleName);
            }
            else
            {
                object factory = Factory is PSObject pso ? pso.BaseObject : Factory;
                try
                {
                    switch (factory)
                    {
                        case Type type:
                            registration = new BackendRegistration(Name, BackendSource.Registered, type, BackendFactory.FromType(Name, type));
                            break;
                        case ScriptBlock scriptBlock:
                            registration = new BackendRegistration(Name, BackendSource.Registered, null, BackendFactory.FromScriptBlock(Name, scriptBlock, Runspace.DefaultRunspace));
                            BackendInfo.RememberCapabilities(registration, BackendFactory.Probe(scriptBlock, registration.Factory, out Exception probeFailure));
                            DollarError.Forget(SessionState, probeFailure);
                            break;
                        case ParallelBackendBase _:
                            throw new ArgumentException("-Factory takes a type or a script block, not a backend instance: a factory makes a fresh backend for each use. Pass the type ([MyBackend]) or { [MyBackend]::new() }, or give the instance to -Backend directly.");
                        default:
                            throw new ArgumentException($"-Factory takes a type deriving from JoblibPS.ParallelBackendBase, or a script block that returns a backend (an instance of such a type, or an object with the backend's methods as script methods), not a {factory.GetType().FullName}.");
                    }
                }
                catch (ArgumentException ex)
                {
                    ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.InvalidBackendFactory, ErrorCategory.InvalidArgument, Factory));
                    return;
                }
                catch (BackendContractException ex)
                {
                    ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.BackendContract, ErrorCategory.InvalidResult, Factory));
                    return;
                }
            }

            BackendRegistry.Register(registration);
            if (MakeDefault.IsPresent) BackendRegistry.SetDefault(Name);
            WriteVerbose($"Registered backend '{Name}'" + (MakeDefault.IsPresent ? " as the default backend." : "."));
            if (PassThru.IsPresent) WriteObject(BackendInfo.From(registration));
        }
    }
}
