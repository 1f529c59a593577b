using System.Management.Automation;

namespace JoblibPS.Output
{
    /// <summary>Where the engine writes; implemented by the cmdlet. Called on the pipeline thread only.</summary>
    internal interface IPipelineWriter
    {
        void WriteOutput(object value);
        void WriteError(ErrorRecord record);
        void WriteWarning(string message);
        void WriteVerbose(string message);
        void WriteDebug(string message);
        void WriteInformation(InformationRecord record);
        void WriteProgress(ProgressRecord record);
    }

    /// <summary>
    /// Sorts a worker's merged output back into streams: an ErrorRecord, WarningRecord, VerboseRecord, DebugRecord
    /// or InformationRecord goes to its stream through the cmdlet (so the caller's preferences and -ErrorAction,
    /// -WarningAction, -InformationAction, -Verbose apply); everything else is output.
    /// Known limit: an object of one of those types that the block wrote to the output stream comes back on its stream.
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
                default:
                    writer.WriteOutput(record);
                    return;
            }
        }
    }
}
