using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace JoblibPS.Caller
{
    /// <summary>
    /// Builds a call's <see cref="WorkerSetup"/> from the block and -ImportFunction, -ImportVariable, -ImportModule
    /// and -InitializationScript, and checks them in the caller before any work starts: a name that matches nothing
    /// is a terminating error with a stable id that names it. Pipeline thread.
    /// </summary>
    internal static class WorkerSetupBuilder
    {
        /// <summary>
        /// Variables that never travel: PowerShell's automatic ones, which every runspace has its own of. Preference
        /// variables travel with every batch already (see <see cref="Driver.WorkerDriver.PreferenceNames"/>).
        /// </summary>
        private static readonly HashSet<string> Automatic = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "_", "$", "?", "^", "args", "input", "PSItem", "this", "MyInvocation", "PSBoundParameters", "PSCmdlet",
            "ExecutionContext", "Host", "PID", "PSHOME", "HOME", "ShellId", "PSVersionTable", "PSCulture", "PSUICulture",
            "null", "true", "false", "Error", "StackTrace", "LASTEXITCODE", "Matches", "foreach", "switch", "Event",
            "EventArgs", "EventSubscriber", "Sender", "PSScriptRoot", "PSCommandPath", "PWD", "NestedPromptLevel",
            "PSEdition", "IsLinux", "IsMacOS", "IsWindows", "IsCoreCLR", "PSSenderInfo", "PSDebugContext", "OFS",
            "PSDefaultParameterValues", "PSEmailServer", "PSSessionApplicationName", "PSSessionConfigurationName",
            "PSSessionOption", "PSModuleAutoLoadingPreference", "MaximumHistoryCount", "EnabledExperimentalFeatures",
            "PSStyle", "ConsoleFileName", "PSNativeCommandArgumentPassing", "PSNativeCommandUseErrorActionPreference",
        };

        /// <summary>The call's setup, or null when the workers need nothing (the common, free case).</summary>
        public static WorkerSetup Build(PSCmdlet cmdlet, ScriptBlock block, string[] importFunction, string[] importVariable, string[] importModule, ScriptBlock initializationScript)
        {
            var setup = new WorkerSetup();
            SessionState caller = cmdlet.SessionState;
            bool callsCommands = CommandCollector.CommandNames(block.Ast).Any()
                || (initializationScript != null && CommandCollector.CommandNames(initializationScript.Ast).Any());
            if (callsCommands || (importFunction != null && importFunction.Length > 0))
            {
                try
                {
                    CommandCollector.Collect(block, importFunction, caller, setup);
                    if (initializationScript != null) CommandCollector.Collect(initializationScript, null, caller, setup);
                }
                catch (ArgumentException ex)
                {
                    cmdlet.ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.ImportFunctionNotFound, ErrorCategory.ObjectNotFound, importFunction));
                }
            }
            foreach (string pattern in importVariable ?? Array.Empty<string>())
            {
                AddVariables(cmdlet, pattern, setup);
            }
            foreach (string module in importModule ?? Array.Empty<string>())
            {
                setup.AddModule(CheckModule(cmdlet, module));
            }
            if (initializationScript != null) setup.InitializationScript = initializationScript.ToString();
            if (setup.IsEmpty) return null;
            if (setup.FunctionNames.Any()) Output.CallerStreams.WriteVerbose(cmdlet, $"Functions defined in every worker: {string.Join(", ", setup.FunctionNames)}.");
            if (setup.Modules.Count > 0) Output.CallerStreams.WriteVerbose(cmdlet, $"Modules every worker imports: {string.Join(", ", setup.Modules)}.");
            return setup;
        }

        private static void AddVariables(PSCmdlet cmdlet, string pattern, WorkerSetup setup)
        {
            var wildcard = WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase);
            bool matched = false;
            foreach (PSObject entry in cmdlet.SessionState.InvokeProvider.ChildItem.Get("variable:", false))
            {
                if (!(entry.BaseObject is PSVariable variable) || !wildcard.IsMatch(variable.Name)) continue;
                matched = true;
                bool fixedByPowerShell = (variable.Options & (ScopedItemOptions.Constant | ScopedItemOptions.ReadOnly | ScopedItemOptions.AllScope)) != 0;
                if (fixedByPowerShell || Automatic.Contains(variable.Name) || variable.Name.EndsWith("Preference", StringComparison.OrdinalIgnoreCase)) continue;
                setup.AddVariable(variable.Name, variable.Value);
            }
            if (!matched)
            {
                cmdlet.ThrowTerminatingError(new ErrorRecord(
                    new ArgumentException($"-ImportVariable '{pattern}' matches no variable in the caller's session. Define the variable before calling Invoke-JoblibParallel, or correct the name."),
                    ErrorIds.ImportVariableNotFound, ErrorCategory.ObjectNotFound, pattern));
            }
        }

        /// <summary>A module name that exists on this machine, or the full path of a module file or folder; else a terminating error naming it.</summary>
        private static string CheckModule(PSCmdlet cmdlet, string module)
        {
            bool isPath = module.IndexOfAny(new[] { '/', '\\' }) >= 0 || module.EndsWith(".psd1", StringComparison.OrdinalIgnoreCase)
                || module.EndsWith(".psm1", StringComparison.OrdinalIgnoreCase) || module.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
            if (isPath)
            {
                string full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(module);
                if (File.Exists(full) || Directory.Exists(full)) return full;
            }
            else
            {
                var found = cmdlet.SessionState.InvokeCommand.InvokeScript("Get-Module -Name $args[0]; Get-Module -ListAvailable -Name $args[0]", true, PipelineResultTypes.None, null, module);
                if (found.Count > 0) return module;
            }
            cmdlet.ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"-ImportModule '{module}' cannot be found: {(isPath ? "no such file or folder" : "no module of that name is imported or on PSModulePath")}. Give the name of an installed module, or the path of its .psd1, .psm1 or .dll."),
                ErrorIds.ImportModuleNotFound, ErrorCategory.ObjectNotFound, module));
            return null;
        }
    }
}
