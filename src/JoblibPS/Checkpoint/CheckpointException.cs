using System;

namespace JoblibPS.Checkpoint
{
    /// <summary>A checkpoint's bad path, format, version or lock: the error id says which.</summary>
    internal sealed class CheckpointException : Exception
    {
        public CheckpointException(string errorId, string message, Exception inner) : base(message, inner)
        {
            ErrorId = errorId;
        }

        public string ErrorId { get; }
    }
}
