using System.Management.Automation;
using JoblibPS.Checkpoint;

namespace JoblibPS.Commands
{
    /// <summary>Removes a checkpoint, so that the next run of its call starts afresh. A file that is not a checkpoint, or one in use, is left alone.</summary>
    [Cmdlet(VerbsCommon.Remove, "JoblibCheckpoint", SupportsShouldProcess = true)]
    [OutputType(typeof(void))]
    public sealed class RemoveJoblibCheckpointCommand : PSCmdlet
    {
        /// <summary>The checkpoint file.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>Checks the file is a checkpoint no call holds, then deletes it.</summary>
        protected override void ProcessRecord()
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            if (!ShouldProcess(path, "Remove checkpoint")) return;
            try
            {
                CheckpointFile.Delete(path);
                WriteVerbose($"Removed checkpoint '{path}'.");
            }
            catch (CheckpointException ex)
            {
                WriteError(CheckpointErrors.ToErrorRecord(ex, path));
            }
        }
    }
}
