using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// No host of the remote backend could be reached when its workers opened. Its error id is
    /// <see cref="ErrorIds.RemoteNoHostReachable"/>; <see cref="Reasons"/> says why, host by host.
    /// </summary>
    internal sealed class RemoteHostUnreachableException : Exception, IContainsErrorRecord
    {
        internal RemoteHostUnreachableException(IReadOnlyDictionary<string, string> reasons)
            : base(
                "None of the hosts of backend 'remote' could be reached: " +
                string.Join("; ", reasons.Select(r => $"'{r.Key}': {r.Value.TrimEnd('.', ' ')}")) +
                ". Check that each host runs sshd with the PowerShell subsystem, the user and key, and that its host key is known (or give Session with sessions you opened).")
        {
            Reasons = reasons;
            ErrorRecord = new ErrorRecord(this, ErrorIds.RemoteNoHostReachable, ErrorCategory.ConnectionError, reasons.Keys.ToArray());
        }

        /// <summary>Why each host could not be reached, by host name.</summary>
        public IReadOnlyDictionary<string, string> Reasons { get; }

        /// <summary>The record the engine reports.</summary>
        public ErrorRecord ErrorRecord { get; }
    }

    /// <summary>
    /// Every host of the remote backend was lost while a call ran, so its batches could not run again anywhere.
    /// Its error id is <see cref="ErrorIds.RemoteHostsLost"/>; the item whose batch was lost is the target.
    /// </summary>
    internal sealed class RemoteHostsLostException : Exception, IContainsErrorRecord
    {
        internal RemoteHostsLostException(IReadOnlyDictionary<string, string> reasons, object item)
            : base(
                "Every host of backend 'remote' was lost while the call ran: " +
                string.Join("; ", reasons.Select(r => $"'{r.Key}': {r.Value.TrimEnd('.', ' ')}")) +
                ". The items they were running did not finish. The next call in this config scope connects again.")
        {
            Reasons = reasons;
            ErrorRecord = new ErrorRecord(this, ErrorIds.RemoteHostsLost, ErrorCategory.ConnectionError, item);
        }

        /// <summary>Why each host was lost, by host name.</summary>
        public IReadOnlyDictionary<string, string> Reasons { get; }

        /// <summary>The record the engine reports.</summary>
        public ErrorRecord ErrorRecord { get; }
    }
}
