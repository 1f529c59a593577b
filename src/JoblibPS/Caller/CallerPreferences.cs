using System;
using System.Collections.Generic;
using System.Management.Automation;
using JoblibPS.Output;
using JoblibPS.Driver;

namespace JoblibPS.Caller
{
    /// <summary>
    /// The caller's preferences at an Invoke-JoblibParallel call, as its workers use them, read from the call's bound
    /// common parameters and the caller's preference variables. Pipeline thread (it reads the caller's session state).
    /// </summary>
    internal static class CallerPreferences
    {
        /// <summary>The preferences of <paramref name="cmdlet"/>'s call (see <see cref="Capture(IDictionary{string, object}, Func{string, object})"/>).</summary>
        public static object[] Capture(PSCmdlet cmdlet)
        {
            return Capture(cmdlet.MyInvocation.BoundParameters, cmdlet.SessionState.PSVariable.GetValue);
        }

        /// <summary>True unless -ProgressAction or $ProgressPreference silences progress for <paramref name="cmdlet"/>'s call.</summary>
        public static bool ShowsProgress(PSCmdlet cmdlet)
        {
            return ShowsProgress(cmdlet.MyInvocation.BoundParameters, cmdlet.SessionState.PSVariable.GetValue);
        }

        /// <summary>
        /// The caller's effective preference for each stream, as the worker should use it: a common parameter
        /// given to this call wins over the caller's preference variable. Inquire becomes Continue (a worker
        /// cannot ask); the record then reaches the caller, whose own preference applies when it is written (there,
        /// too, Inquire acts as Continue: see <see cref="CallerStreams"/>).
        /// The order is <see cref="WorkerDriver.PreferenceNames"/>: error, warning, verbose, debug, information, then
        /// $WhatIfPreference (a boolean: a dry run stays a dry run in the workers), $ConfirmPreference, and
        /// $ProgressPreference (Continue when the caller shows progress, so the blocks' records are made and forwarded).
        /// </summary>
        /// <param name="boundParameters">The call's bound parameters (the common ones are read).</param>
        /// <param name="variable">Reads a variable of the caller's session (null when it is not set).</param>
        internal static object[] Capture(IDictionary<string, object> boundParameters, Func<string, object> variable)
        {
            string[] names = WorkerDriver.PreferenceNames;
            string[] common = { "ErrorAction", "WarningAction", null, null, "InformationAction" };
            var values = new object[names.Length];
            values[5] = LanguagePrimitives.IsTrue(variable("WhatIfPreference"));
            values[7] = ShowsProgress(boundParameters, variable) ? "Continue" : "SilentlyContinue";
            values[6] = (variable("ConfirmPreference") is object confirm ? (confirm is PSObject wrapped ? wrapped.BaseObject : confirm) : null)?.ToString() ?? "High";
            for (int i = 0; i < common.Length; i++)
            {
                object value = null;
                if (common[i] != null && boundParameters.TryGetValue(common[i], out object given)) value = given;
                else if (names[i] == "VerbosePreference" && boundParameters.TryGetValue("Verbose", out object verbose)) value = ((SwitchParameter)verbose).IsPresent ? ActionPreference.Continue : ActionPreference.SilentlyContinue;
                else if (names[i] == "DebugPreference" && boundParameters.TryGetValue("Debug", out object debug)) value = ((SwitchParameter)debug).IsPresent ? ActionPreference.Continue : ActionPreference.SilentlyContinue;
                else value = variable(names[i]);
                string text = (value is PSObject pso ? pso.BaseObject : value)?.ToString() ?? "Continue";
                if (text.Equals("Inquire", StringComparison.OrdinalIgnoreCase) || text.Equals("Suspend", StringComparison.OrdinalIgnoreCase)) text = "Continue";
                // Silenced errors, warnings and information still belong in -ErrorVariable, -WarningVariable,
                // -InformationVariable and $Error: the worker sends them, and the caller's own preference drops them
                // from view when the cmdlet writes them. Verbose and debug have no variables: silence saves the work.
                if (i != 2 && i != 3 && text.Equals("SilentlyContinue", StringComparison.OrdinalIgnoreCase)) text = "Continue";
                values[i] = text;
            }
            return values;
        }

        /// <summary>True unless -ProgressAction or $ProgressPreference silences progress (SilentlyContinue or Ignore).</summary>
        internal static bool ShowsProgress(IDictionary<string, object> boundParameters, Func<string, object> variable)
        {
            object value = boundParameters.TryGetValue("ProgressAction", out object given) ? given : variable("ProgressPreference");
            string text = (value is PSObject pso ? pso.BaseObject : value)?.ToString() ?? "Continue";
            return !text.Equals("SilentlyContinue", StringComparison.OrdinalIgnoreCase) && !text.Equals("Ignore", StringComparison.OrdinalIgnoreCase);
        }
    }
}
