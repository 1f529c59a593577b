using System;
using System.Management.Automation;

namespace JoblibPS.Engine
{
    /// <summary>Carries an ErrorRecord from the engine to the cmdlet, which throws it as a terminating error.</summary>
    internal sealed class TerminatingErrorException : Exception, IContainsErrorRecord
    {
        public TerminatingErrorException(ErrorRecord record)
            : base(record.Exception?.Message, record.Exception)
        {
            ErrorRecord = record;
        }

        public ErrorRecord ErrorRecord { get; }
    }
}
