using System;
using System.Collections.Generic;
using System.Management.Automation;
using Xunit;
using JoblibPS.Caller;

namespace JoblibPS.Tests.Caller
{
    /// <summary>
    /// The caller's preferences as the workers get them, in the order of WorkerDriver.PreferenceNames: error,
    /// warning, verbose, debug, information, WhatIf, Confirm, progress.
    /// </summary>
    public class CallerPreferencesTests
    {
        private static Func<string, object> Variables(Dictionary<string, object> values) =>
            name => values.TryGetValue(name, out object value) ? value : null;

        [Fact]
        public void TakesTheCallersVariablesWithInquireAsContinueAndSilencedRecordsStillSentWhereAVariableKeepsThem()
        {
            var variables = new Dictionary<string, object>
            {
                ["ErrorActionPreference"] = ActionPreference.SilentlyContinue,
                ["WarningPreference"] = PSObject.AsPSObject(ActionPreference.Inquire),
                ["VerbosePreference"] = ActionPreference.SilentlyContinue,
                ["DebugPreference"] = ActionPreference.Inquire,
                ["InformationPreference"] = ActionPreference.Stop,
                ["WhatIfPreference"] = new SwitchParameter(true),
                ["ConfirmPreference"] = ConfirmImpact.Low,
                ["ProgressPreference"] = ActionPreference.Continue,
            };
            object[] values = CallerPreferences.Capture(new Dictionary<string, object>(), Variables(variables));
            Assert.Equal(new object[] { "Continue", "Continue", "SilentlyContinue", "Continue", "Stop", true, "Low", "Continue" }, values);
        }

        [Fact]
        public void CommonParametersOfTheCallWinOverTheVariables()
        {
            var variables = new Dictionary<string, object>
            {
                ["ErrorActionPreference"] = ActionPreference.Continue,
                ["VerbosePreference"] = ActionPreference.Continue,
                ["DebugPreference"] = ActionPreference.SilentlyContinue,
                ["ProgressPreference"] = ActionPreference.Continue,
            };
            var bound = new Dictionary<string, object>
            {
                ["ErrorAction"] = ActionPreference.Stop,
                ["Verbose"] = new SwitchParameter(false),
                ["Debug"] = new SwitchParameter(true),
                ["ProgressAction"] = ActionPreference.Ignore,
            };
            object[] values = CallerPreferences.Capture(bound, Variables(variables));
            Assert.Equal("Stop", values[0]);
            Assert.Equal("SilentlyContinue", values[2]);
            Assert.Equal("Continue", values[3]);
            Assert.Equal("SilentlyContinue", values[7]);
            Assert.False(CallerPreferences.ShowsProgress(bound, Variables(variables)));
        }

        [Fact]
        public void UnsetVariablesGiveContinueNoDryRunConfirmHighAndProgressShown()
        {
            object[] values = CallerPreferences.Capture(new Dictionary<string, object>(), _ => null);
            Assert.Equal(new object[] { "Continue", "Continue", "Continue", "Continue", "Continue", false, "High", "Continue" }, values);
        }
    }
}
