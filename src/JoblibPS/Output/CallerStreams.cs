using System;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Remoting.Internal;
using System.Reflection;

namespace JoblibPS.Output
{
    /// <summary>
    /// Writes to a cmdlet's error, warning, verbose, debug, information and progress streams the way Receive-Job
    /// writes a job's records: a preference of Inquire acts as Continue, and an error record keeps the invocation
    /// info (and so the FullyQualifiedErrorId) it was written with. Called on the cmdlet's pipeline thread only.
    /// </summary>
    /// <remarks>
    /// Why not <see cref="Cmdlet.WriteDebug"/> and its siblings: a cmdlet given <c>-Debug</c> has a verbose preference
    /// of Inquire, and <c>$DebugPreference = 'Inquire'</c> a debug preference of Inquire, so each write would ask the
    /// user whether to continue, and fail ("PowerShell is in NonInteractive mode") with no console. A record from a
    /// worker describes work that has already moved on, and JoblibPS's own lines ask nothing: there is no question
    /// to put. And <see cref="Cmdlet.WriteError"/> stamps the record with this cmdlet's invocation info, which appends
    /// <c>,JoblibPS.Commands.InvokeJoblibParallelCommand</c> to the id the block's <c>Write-Error</c> gave it.
    /// <see cref="PSStreamObject.WriteStreamObject(Cmdlet, bool)"/> (public in PowerShell 5.1 and 7) is the engine's
    /// own path for both: it writes through the cmdlet's runtime with the Inquire override, and marks an error
    /// record to keep its invocation info once. Every other preference (SilentlyContinue, Stop, Ignore, the common
    /// parameters, redirection, the -*Variable parameters) applies as it does to any write.
    /// </remarks>
    internal static class CallerStreams
    {
        /// <summary>
        /// An error record written as it was made: its id and invocation info are left alone, except that a record
        /// whose position is a line of the worker's driver is shown at the cmdlet's own call (see <see cref="ShowAtCall"/>).
        /// </summary>
        public static void WriteError(PSCmdlet cmdlet, ErrorRecord record)
        {
            ShowAtCall(record, cmdlet.MyInvocation);
            Write(cmdlet, PSStreamObjectType.Error, record);
        }

        public static void WriteWarning(Cmdlet cmdlet, string message) => Write(cmdlet, PSStreamObjectType.Warning, message);

        public static void WriteVerbose(Cmdlet cmdlet, string message) => Write(cmdlet, PSStreamObjectType.Verbose, message);

        public static void WriteDebug(Cmdlet cmdlet, string message) => Write(cmdlet, PSStreamObjectType.Debug, message);

        public static void WriteInformation(Cmdlet cmdlet, InformationRecord record) => Write(cmdlet, PSStreamObjectType.Information, record);

        public static void WriteProgress(Cmdlet cmdlet, ProgressRecord record) => Write(cmdlet, PSStreamObjectType.Progress, record);

        /// <summary>
        /// Every name the worker's driver script defines starts with this (see WorkerDriver.Text), so a position whose
        /// line holds it is a line of the driver, not of the user's block.
        /// </summary>
        private const string DriverNamePrefix = "__Joblib";

        /// <summary>The engine's extent of an invocation (internal; null when absent, then the record's position stays).</summary>
        private static readonly PropertyInfo InvocationExtent =
            typeof(InvocationInfo).GetProperty("ScriptPosition", BindingFlags.Instance | BindingFlags.NonPublic);

        /// <summary>
        /// A record the block itself wrote (<c>Write-Error</c> stamps the block's own <c>$MyInvocation</c>) has as its
        /// position the driver line that called the block, which means nothing to the user and would be shown as
        /// <c>$__JoblibItems | &amp; $__JoblibBlock</c>. Such a record is shown at the caller's Invoke-JoblibParallel
        /// instead, through <see cref="InvocationInfo.DisplayScriptPosition"/>, which changes where the error is shown
        /// and nothing else (not the id, not the command). A position inside the block's own text (a command in the
        /// block that failed) is kept.
        /// </summary>
        private static void ShowAtCall(ErrorRecord record, InvocationInfo call)
        {
            InvocationInfo at = record.InvocationInfo;
            if (at == null || at.DisplayScriptPosition != null || at.Line == null) return;
            if (at.Line.IndexOf(DriverNamePrefix, StringComparison.Ordinal) < 0) return;
            IScriptExtent callExtent = call?.DisplayScriptPosition;
            if (callExtent == null && call != null && InvocationExtent != null)
            {
                try { callExtent = InvocationExtent.GetValue(call) as IScriptExtent; }
                catch (TargetInvocationException) { }
            }
            if (callExtent != null) at.DisplayScriptPosition = callExtent;
        }

        private static void Write(Cmdlet cmdlet, PSStreamObjectType type, object value)
        {
            new PSStreamObject(type, value).WriteStreamObject(cmdlet, overrideInquire: true);
        }
    }
}
