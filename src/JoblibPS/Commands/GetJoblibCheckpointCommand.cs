using System;
using System.Linq;
using System.Management.Automation;
using JoblibPS.Checkpoint;

namespace JoblibPS.Commands
{
    /// <summary>Shows what a checkpoint holds (items done, when, how the last run ended) without running anything.</summary>
    [Cmdlet(VerbsCommon.Get, "JoblibCheckpoint")]
    [OutputType(typeof(JoblibCheckpointInfo))]
    public sealed class GetJoblibCheckpointCommand : PSCmdlet
    {
        /// <summary>The checkpoint file.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>Reads the checkpoint (shared access: a checkpoint a call is using is reported as in use).</summary>
        protected override void ProcessRecord()
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            try
            {
                WriteObject(new JoblibCheckpointInfo(path, CheckpointFile.ReadOnly(path)));
            }
            catch (CheckpointException ex)
            {
                WriteError(CheckpointErrors.ToErrorRecord(ex, path));
            }
        }
    }

    /// <summary>What Get-JoblibCheckpoint shows of a checkpoint. Times are local.</summary>
    public sealed class JoblibCheckpointInfo
    {
        internal JoblibCheckpointInfo(string path, CheckpointContents contents)
        {
            Path = path;
            Command = contents.Header?.Description;
            Created = contents.Header?.Created.ToLocalTime();
            Items = contents.ItemCount;
            Keys = contents.Keys.ToArray();
            LastRecorded = contents.LastRecorded?.ToLocalTime();
            Runs = contents.Runs.Count;
            CheckpointRun last = contents.Runs.LastOrDefault();
            if (last != null)
            {
                LastRunStarted = last.Started.ToLocalTime();
                LastRunEnded = last.Ended?.ToLocalTime();
                LastRunStatus = last.Status?.ToString() ?? "Interrupted";
                LastRunItems = last.Items;
                LastRunFailed = last.Status.HasValue ? last.Failed : (long?)null;
            }
            IgnoredBytes = contents.IgnoredBytes;
        }

        /// <summary>The checkpoint's full path.</summary>
        public string Path { get; }

        /// <summary>The call's script block, on one line, cut to 80 characters.</summary>
        public string Command { get; }

        /// <summary>When the checkpoint was started.</summary>
        public DateTime? Created { get; }

        /// <summary>How many items are recorded (done).</summary>
        public int Items { get; }

        /// <summary>The recorded items' keys (see about_JoblibPS_Admin, CHECKPOINTS), in no particular order.</summary>
        public string[] Keys { get; }

        /// <summary>When the last item was recorded.</summary>
        public DateTime? LastRecorded { get; }

        /// <summary>How many runs used the checkpoint.</summary>
        public int Runs { get; }

        /// <summary>When the last run started.</summary>
        public DateTime? LastRunStarted { get; }

        /// <summary>When the last run ended; null when it was interrupted (killed, power lost).</summary>
        public DateTime? LastRunEnded { get; }

        /// <summary>How the last run ended: Completed, Failed (an item failed the call), Stopped (Ctrl+C, Stop-Job) or Interrupted (no end recorded).</summary>
        public string LastRunStatus { get; }

        /// <summary>How many input items the last run had.</summary>
        public long? LastRunItems { get; }

        /// <summary>How many items failed in the last run (null when it was interrupted).</summary>
        public long? LastRunFailed { get; }

        /// <summary>Bytes after the last whole record (a write torn by a kill or power cut): ignored, and cut away by the next run.</summary>
        public long IgnoredBytes { get; }
    }
}
