using System;
using System.Collections;
using System.Management.Automation;

namespace JoblibPS.Execution
{
    /// <summary>
    /// The PowerShell script that runs one batch in a worker runspace, wherever that runspace lives.
    /// </summary>
    /// <remarks>
    /// Output protocol: all streams of the user's block are merged into the output (<c>*&gt;&amp;1</c>), so one
    /// ordered list comes back, and the marker string precedes each item's records. An item's records are
    /// those between its marker and the next one. A terminating error ends the invocation with an exception;
    /// the number of markers seen says which item failed. The <c>$using:</c> values are bound through
    /// PowerShell's own protocol (the <c>--%</c> parameter), which the engine finds by walking up from the
    /// user's block to the driver's scope; this works in-process, out-of-process and over remoting alike.
    /// The driver's own frames run inside the function <c>__JoblibRun</c>, which marks where the user's part of a
    /// script stack trace ends.
    /// </remarks>
    internal static class WorkerDriver
    {
        public static readonly string[] PreferenceNames =
        {
            "ErrorActionPreference", "WarningPreference", "VerbosePreference", "DebugPreference", "InformationPreference",
        };

        /// <summary>The name of the driver's function: stack frames from here down belong to the driver, not the user.</summary>
        public const string RunFunctionName = "__JoblibRun";

        public const string Text = @"param($__JoblibScript, $__JoblibItems, $__JoblibArguments, $__JoblibMarker, $__JoblibLocation, $__JoblibPreferences, [bool]$__JoblibPerItem)
$ErrorActionPreference, $WarningPreference, $VerbosePreference, $DebugPreference, $InformationPreference = $__JoblibPreferences
$ProgressPreference = 'SilentlyContinue'
if ($__JoblibLocation) { Set-Location -LiteralPath $__JoblibLocation }
function __JoblibRun {
    if ($__JoblibPerItem) {
        $__JoblibBlock = [scriptblock]::Create($__JoblibScript)
        foreach ($_ in $__JoblibItems) { $__JoblibMarker; do { & $__JoblibBlock $_ @__JoblibArguments } while ($false) }
    } else {
        $__JoblibBlock = [scriptblock]::Create('process { $__JoblibMarker; do { ' + $__JoblibScript + ""`n} while (`$false) }"")
        $__JoblibItems | & $__JoblibBlock
    }
}
__JoblibRun *>&1
";

        /// <summary>A marker no user output is expected to equal.</summary>
        public static string NewMarker()
        {
            return "\u0001JoblibPS.Item:" + Guid.NewGuid().ToString("N");
        }

        public static IDictionary Parameters(BatchTask task)
        {
            var items = new object[task.Items.Count];
            for (int i = 0; i < items.Length; i++) items[i] = task.Items[i];
            return new Hashtable(StringComparer.OrdinalIgnoreCase)
            {
                ["__JoblibScript"] = task.Script.Text,
                ["__JoblibItems"] = items,
                ["__JoblibArguments"] = task.ArgumentList,
                ["__JoblibMarker"] = task.Marker,
                ["__JoblibLocation"] = task.WorkingDirectory,
                ["__JoblibPreferences"] = task.PreferenceValues,
                ["__JoblibPerItem"] = task.Script.PerItemCall,
                ["--%"] = task.UsingValues,
            };
        }

        public static void AddTo(PowerShell ps, BatchTask task)
        {
            ps.AddScript(Text);
            foreach (DictionaryEntry entry in Parameters(task))
            {
                string name = (string)entry.Key;
                if (name == "--%" && ((Hashtable)entry.Value).Count == 0) continue;
                ps.AddParameter(name, entry.Value);
            }
        }
    }
}
