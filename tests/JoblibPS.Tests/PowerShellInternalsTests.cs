using System;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using JoblibPS.Output;
using Xunit;
using JoblibPS.Errors;

namespace JoblibPS.Tests
{
    /// <summary>
    /// JoblibPS reaches a few members of PowerShell that are not public (or not in PowerShellStandard 5.1). Each has
    /// a fallback, so a PowerShell update that removes or renames one would silently degrade behaviour: these tests
    /// fail first, naming the member, against the PowerShell the tests host (Microsoft.PowerShell.SDK).
    /// </summary>
    public sealed class PowerShellInternalsTests
    {
        private const BindingFlags Members = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

        [Fact]
        public void ErrorRecordScriptStackTraceFieldExists()
        {
            Assert.True(ErrorRecords.ScriptStackTraceField != null,
                "ErrorRecord._scriptStackTrace is gone: JoblibTaskFailed records now carry the worker's stack trace in ErrorDetails instead (src/JoblibPS/Errors/ErrorRecords.cs).");
        }

        [Fact]
        public void ErrorRecordFromPSObjectForRemotingExists()
        {
            Assert.True(StreamRecords.ErrorRecordFromRemoting != null,
                "ErrorRecord.FromPSObjectForRemoting(PSObject) is gone: deserialized errors are now rebuilt by the public fallback, with fewer fields (src/JoblibPS/Output/StreamRecords.cs).");
        }

        [Fact]
        public void PSObjectInstanceProbesExist()
        {
            Assert.True(JoblibPS.Checkpoint.RecordCodec.HasInstanceMembers != null && JoblibPS.Checkpoint.RecordCodec.HasInstanceTypeName != null,
                "PSObject.HasInstanceMembers or HasInstanceTypeName is gone: a checkpoint then records every output as CliXml, several times slower (src/JoblibPS/Checkpoint/RecordCodec.cs).");
            Assert.False(JoblibPS.Checkpoint.RecordCodec.HasInstanceMembers(PSObject.AsPSObject(1)));
            PSObject noted = PSObject.AsPSObject(1);
            noted.Properties.Add(new PSNoteProperty("Extra", 1));
            Assert.True(JoblibPS.Checkpoint.RecordCodec.HasInstanceMembers(noted));
        }

        [Fact]
        public void InvocationInfoScriptPositionExists()
        {
            Assert.True(typeof(InvocationInfo).GetProperty("ScriptPosition", Members) != null,
                "InvocationInfo.ScriptPosition is gone: errors a block writes are shown at a line of the worker's driver instead of the caller's call (src/JoblibPS/Output/CallerStreams.cs).");
        }

        [Theory]
        [InlineData("RemoteRunspace", "RunspacePool")]
        [InlineData("RunspacePool", "_internalPool")]
        [InlineData("RemoteRunspacePoolInternal", "DataStructureHandler")]
        [InlineData("ClientRunspacePoolDataStructureHandler", "TransportManager")]
        [InlineData("SSHClientSessionTransportManager", "_stdInWriter")]
        public void TheSshTransportGuardFindsEveryMemberOnItsPath(string typeName, string member)
        {
            Type type = typeof(Runspace).Assembly.GetTypes().FirstOrDefault(t => t.Name == typeName);
            Assert.True(type != null, $"PowerShell has no type {typeName} any more: SshTransportGuard (src/JoblibPS/Backends/Remote/SshTransportGuard.cs) no longer applies, and a host lost mid-send may end pwsh again.");
            MemberInfo found = type.GetMember(member, Members).FirstOrDefault();
            Assert.True(found != null, $"{typeName}.{member} is gone: SshTransportGuard (src/JoblibPS/Backends/Remote/SshTransportGuard.cs) no longer applies, and a host lost mid-send may end pwsh again.");
        }

        [Fact]
        public void ThePwsh7TypesTheProcessAndRemoteBackendsUseExist()
        {
            Type instance = typeof(Runspace).Assembly.GetType("System.Management.Automation.Runspaces.PowerShellProcessInstance");
            Assert.True(instance != null, "PowerShellProcessInstance is gone: the process backends (PwshWorker.cs) cannot start workers.");
            Assert.True(typeof(RunspaceFactory).GetMethod("CreateOutOfProcessRunspace", new[] { typeof(TypeTable), instance }) != null,
                "RunspaceFactory.CreateOutOfProcessRunspace(TypeTable, PowerShellProcessInstance) is gone: the process backends (PwshWorker.cs) cannot start workers.");
            Assert.True(typeof(Runspace).Assembly.GetType("System.Management.Automation.Runspaces.SSHConnectionInfo") != null,
                "SSHConnectionInfo is gone: the remote backend (SshRunspaces.cs) cannot open SSH runspaces.");
        }
    }
}
