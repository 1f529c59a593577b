using System;
using System.Collections;
using System.Management.Automation;
using System.Reflection;

namespace JoblibPS.Output
{
    /// <summary>
    /// Where the engine writes; implemented by the cmdlet. Called on the pipeline thread only. No write prompts
    /// (a preference of Inquire acts as Continue), and <see cref="WriteError"/> writes a worker's record as the block
    /// wrote it: its FullyQualifiedErrorId and invocation info are not re-stamped with the cmdlet's.
    /// </summary>
    internal interface IPipelineWriter
    {
        void WriteOutput(object value);
        void WriteError(ErrorRecord record);
        /// <summary>A non-terminating error JoblibPS itself reports (an item that failed under -OnError Continue): it carries the cmdlet's invocation, so its id reads as JoblibPS's terminating errors do ('JoblibTaskFailed,JoblibPS.Commands.InvokeJoblibParallelCommand').</summary>
        void WriteOwnError(ErrorRecord record);
        void WriteWarning(string message);
        void WriteVerbose(string message);
        void WriteDebug(string message);
        void WriteInformation(InformationRecord record);
        void WriteProgress(ProgressRecord record);

        /// <summary>
        /// True when the writer keeps items apart (a job: one child per item) and wants the item hooks below; the
        /// cmdlet does not, and the engine then spends nothing on them (no notification per batch).
        /// </summary>
        bool TracksItems { get; }

        /// <summary>The items <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 (input indexes) started in a worker: their batch began to run.</summary>
        void ItemsStarted(long first, int count);

        /// <summary>The records written next, up to <see cref="EndItem"/>, are those of item <paramref name="inputIndex"/>.</summary>
        void BeginItem(long inputIndex);

        /// <summary>
        /// Item <paramref name="inputIndex"/> is done and all its records were written: it succeeded when
        /// <paramref name="failure"/> is null, else it failed with that error (which may already have been written
        /// through <see cref="WriteOwnError"/> under -OnError Continue, or ends the call under -OnError Abort).
        /// </summary>
        void EndItem(long inputIndex, ErrorRecord failure);
    }

    /// <summary>
    /// Sorts a worker's merged output back into streams: an ErrorRecord, WarningRecord, VerboseRecord, DebugRecord
    /// or InformationRecord goes to its stream through the cmdlet (so the caller's preferences and -ErrorAction,
    /// -WarningAction, -InformationAction, -Verbose apply); everything else is output.
    /// Known limit: an object of one of those types that the block wrote to the output stream comes back on its stream.
    /// Records from a worker process come back deserialized (property bags whose first type name is
    /// <c>Deserialized.System.Management.Automation.ErrorRecord</c>, and so on): they are sorted the same way, and a
    /// deserialized ErrorRecord or InformationRecord is rebuilt as a real one.
    /// </summary>
    internal static class StreamRecords
    {
        public static void Write(PSObject record, IPipelineWriter writer)
        {
            object value = record?.BaseObject;
            switch (value)
            {
                case ErrorRecord error:
                    writer.WriteError(error);
                    return;
                case WarningRecord warning:
                    writer.WriteWarning(warning.Message);
                    return;
                case VerboseRecord verbose:
                    writer.WriteVerbose(verbose.Message);
                    return;
                case DebugRecord debug:
                    writer.WriteDebug(debug.Message);
                    return;
                case InformationRecord information:
                    writer.WriteInformation(information);
                    return;
                case PSCustomObject _ when WriteDeserialized(record, writer):
                    // A property bag from another process: deserialized objects have a PSCustomObject base.
                    return;
                default:
                    writer.WriteOutput(record);
                    return;
            }
        }

        private const string DeserializedPrefix = "Deserialized.System.Management.Automation.";

        /// <summary>PowerShell's own rebuilding of a remote ErrorRecord (internal; null when absent, then a public fallback is used).</summary>
        internal static readonly MethodInfo ErrorRecordFromRemoting =
            typeof(ErrorRecord).GetMethod("FromPSObjectForRemoting", BindingFlags.NonPublic | BindingFlags.Static, null, new[] { typeof(PSObject) }, null);

        private static bool WriteDeserialized(PSObject record, IPipelineWriter writer)
        {
            if (record == null || record.TypeNames.Count == 0) return false;
            string typeName = record.TypeNames[0];
            if (!typeName.StartsWith(DeserializedPrefix, StringComparison.Ordinal)) return false;
            switch (typeName.Substring(DeserializedPrefix.Length))
            {
                case "ErrorRecord":
                    writer.WriteError(WithComputerName(ErrorRecordFrom(record), record));
                    return true;
                case "WarningRecord":
                    writer.WriteWarning(MessageOf(record));
                    return true;
                case "VerboseRecord":
                    writer.WriteVerbose(MessageOf(record));
                    return true;
                case "DebugRecord":
                    writer.WriteDebug(MessageOf(record));
                    return true;
                case "InformationRecord":
                    writer.WriteInformation(WithComputerName(InformationRecordFrom(record), record));
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>
        /// Carries the PSComputerName note of a deserialized record (the remote backend's tag) over to the record rebuilt
        /// from it. A note added to an object's PSObject stays with that object (PowerShell keeps instance members of a
        /// reference-type object with it), so $Error, -ErrorVariable and -InformationVariable show it too.
        /// </summary>
        private static T WithComputerName<T>(T rebuilt, PSObject from) where T : class
        {
            object name = from.Properties["PSComputerName"]?.Value;
            if (name != null)
            {
                PSObject wrapped = PSObject.AsPSObject(rebuilt);
                if (wrapped.Properties["PSComputerName"] == null) wrapped.Properties.Add(new PSNoteProperty("PSComputerName", name));
            }
            return rebuilt;
        }

        /// <summary>A real ErrorRecord with the worker's message, error id, category and target.</summary>
        internal static ErrorRecord ErrorRecordFrom(PSObject record)
        {
            if (ErrorRecordFromRemoting != null)
            {
                try
                {
                    if (ErrorRecordFromRemoting.Invoke(null, new object[] { record }) is ErrorRecord rebuilt) return rebuilt;
                }
                catch (TargetInvocationException) { }
            }
            object exception = Property(record, "Exception");
            string message = Property(exception, "Message") as string ?? record.ToString();
            string errorId = Property(record, "FullyQualifiedErrorId") as string ?? "RemoteError";
            ErrorCategory category = ErrorCategory.NotSpecified;
            object categoryValue = Property(record, "ErrorCategory_Category");
            if (categoryValue != null)
            {
                try { category = LanguagePrimitives.ConvertTo<ErrorCategory>(categoryValue); }
                catch (PSInvalidCastException) { }
            }
            return new ErrorRecord(new RemoteException(message), errorId, category, Property(record, "TargetObject"));
        }

        private static InformationRecord InformationRecordFrom(PSObject record)
        {
            object data = Property(record, "MessageData");
            if (data is PSObject dataObject && dataObject.TypeNames.Count > 0 && dataObject.TypeNames[0] == DeserializedPrefix + "HostInformationMessage")
            {
                // Write-Host in a worker: rebuilt so the caller's host shows it (with its colours).
                var message = new HostInformationMessage
                {
                    Message = Property(dataObject, "Message") as string,
                    NoNewLine = LanguagePrimitives.IsTrue(Property(dataObject, "NoNewLine")),
                };
                if (Property(dataObject, "ForegroundColor") is object fg && LanguagePrimitives.TryConvertTo(fg, out ConsoleColor foreground)) message.ForegroundColor = foreground;
                if (Property(dataObject, "BackgroundColor") is object bg && LanguagePrimitives.TryConvertTo(bg, out ConsoleColor background)) message.BackgroundColor = background;
                data = message;
            }
            var information = new InformationRecord(data, Property(record, "Source") as string);
            if (Property(record, "Tags") is IEnumerable tags)
            {
                foreach (object tag in tags) if (tag != null) information.Tags.Add(tag.ToString());
            }
            if (Property(record, "TimeGenerated") is DateTime generated) information.TimeGenerated = generated;
            if (Property(record, "User") is string user) information.User = user;
            if (Property(record, "Computer") is string computer) information.Computer = computer;
            if (Property(record, "ProcessId") is uint processId) information.ProcessId = processId;
            return information;
        }

        private static string MessageOf(PSObject record)
        {
            return Property(record, "Message") as string ?? record.ToString();
        }

        private static object Property(object value, string name)
        {
            if (!(value is PSObject pso)) return null;
            object result = pso.Properties[name]?.Value;
            return result is PSObject inner && !(inner.BaseObject is PSCustomObject) ? inner.BaseObject : result;
        }
    }
}
