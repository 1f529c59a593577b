using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// What the remote backend does to a batch's records before the engine sees them: tags each with the host it
    /// came from, and carries the backend's own notices (a host lost, a host unreachable at open) to the caller in
    /// the batch's stream, where the cmdlet writes them like any worker warning. Called on slot threads, on a
    /// result no other thread holds yet.
    /// </summary>
    internal static class RemoteRecords
    {
        /// <summary>The note property that names the host an object came from, as Invoke-Command adds it.</summary>
        public const string ComputerNameProperty = "PSComputerName";

        private static readonly string[] MessageRecordTypes =
        {
            "Deserialized.System.Management.Automation.WarningRecord",
            "Deserialized.System.Management.Automation.VerboseRecord",
            "Deserialized.System.Management.Automation.DebugRecord",
        };

        /// <summary>
        /// Tags every record of <paramref name="result"/>'s started items with <paramref name="host"/>: warning,
        /// verbose and debug messages get a "[host] " prefix (they reach the caller as text); output objects,
        /// error records and information records get a PSComputerName note property (unless they carry one).
        /// A bare PowerShell on a remote runspace adds no PSComputerName (only Invoke-Command does), hence this.
        /// </summary>
        public static void Tag(BatchResult result, string host)
        {
            string prefix = "[" + host + "] ";
            for (int i = 0; i < result.StartedItems; i++)
            {
                foreach (PSObject record in result.RecordsOf(i))
                {
                    TagRecord(record, host, prefix);
                }
            }
        }

        private static void TagRecord(PSObject record, string host, string prefix)
        {
            if (record == null) return;
            if (record.BaseObject is InformationalRecord message)
            {
                message.Message = prefix + message.Message;
                return;
            }
            if (IsDeserializedMessageRecord(record))
            {
                // PSRP serializes the message as InformationalRecord_Message (InformationalRecord.ToPSObjectForRemoting);
                // the bag also gets the live record's Message, which is what StreamRecords reads first.
                PSPropertyInfo serialized = record.Properties["InformationalRecord_Message"];
                string text = prefix + (serialized?.Value ?? record.Properties["Message"]?.Value ?? record.ToString());
                if (serialized != null) serialized.Value = text;
                PSPropertyInfo live = record.Properties["Message"];
                if (live == null) record.Properties.Add(new PSNoteProperty("Message", text));
                else if (live.IsSettable) live.Value = text;
                return;
            }
            if (record.Properties[ComputerNameProperty] == null)
            {
                record.Properties.Add(new PSNoteProperty(ComputerNameProperty, host));
            }
        }

        private static bool IsDeserializedMessageRecord(PSObject record)
        {
            foreach (string name in record.TypeNames)
            {
                if (Array.IndexOf(MessageRecordTypes, name) >= 0) return true;
            }
            return false;
        }

        /// <summary>A warning of the backend itself, as a record the cmdlet writes to the warning stream.</summary>
        public static PSObject Warning(string message) => new PSObject(new WarningRecord(message));

        /// <summary>A verbose message of the backend itself, written by the cmdlet when verbose output is on.</summary>
        public static PSObject Verbose(string message) => new PSObject(new VerboseRecord(message));

        /// <summary>
        /// <paramref name="result"/> with <paramref name="notices"/> before the first item's records, so the cmdlet
        /// writes them, in order, just before that item's output. Only a completed result carries notices (the
        /// engine writes every record of it); the caller keeps them for a later batch otherwise.
        /// </summary>
        public static BatchResult WithNotices(BatchResult result, IReadOnlyList<PSObject> notices)
        {
            if (result.Outcome != BatchOutcome.Completed) return result;
            return result.WithLeadingRecords(notices);
        }
    }
}
