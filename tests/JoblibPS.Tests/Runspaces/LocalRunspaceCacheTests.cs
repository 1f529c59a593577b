using System;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Xunit;
using JoblibPS.Driver;
using JoblibPS.Runspaces;

namespace JoblibPS.Tests.Runspaces
{
    /// <summary>
    /// The module's warm runspaces: rented for exclusive use, reset before they serve again, closed when broken.
    /// The cache is process-wide, so these tests run in the serial PowerShell collection and only count what they
    /// did themselves.
    /// </summary>
    [Collection(PowerShellCollection.Name)]
    public sealed class LocalRunspaceCacheTests : IDisposable
    {
        private static object[] Run(Runspace runspace, string script)
        {
            using (PowerShell ps = PowerShell.Create())
            {
                ps.Runspace = runspace;
                return ps.AddScript(script).Invoke().Select(o => o?.BaseObject).ToArray();
            }
        }

        public void Dispose()
        {
            int rented = LocalRunspaceCache.RentedCount;
            Assert.True(rented == 0, $"{rented} runspace(s) are still rented after the test.");
        }

        [Fact]
        public void ARentedRunspaceIsOpenAndLive()
        {
            int rented = LocalRunspaceCache.RentedCount;
            Runspace runspace = LocalRunspaceCache.Rent();
            try
            {
                Assert.Equal(RunspaceState.Opened, runspace.RunspaceStateInfo.State);
                Assert.Equal(rented + 1, LocalRunspaceCache.RentedCount);
                Assert.Equal(new object[] { 2 }, Run(runspace, "1 + 1"));
            }
            finally
            {
                LocalRunspaceCache.Return(runspace, healthy: true);
            }
        }

        [Fact]
        public void WorkerRunspacesCanRunTheModulesCmdlets()
        {
            Runspace runspace = LocalRunspaceCache.Rent();
            try
            {
                Assert.Equal(new object[] { "Invoke-JoblibParallel" }, Run(runspace, "(Get-Command Invoke-JoblibParallel).Name"));
            }
            finally
            {
                LocalRunspaceCache.Return(runspace, healthy: true);
            }
        }

        [Fact]
        public void AReturnedRunspaceIsReusedWithItsVariablesReset()
        {
            Runspace first = LocalRunspaceCache.Rent();
            Run(first, "$global:leftOver = 'from the last user'");
            LocalRunspaceCache.Return(first, healthy: true);
            // The runspace is reset in the background; once that is done it is the first to be rented again.
            Assert.True(LocalRunspaceCache.WaitForResets(TimeSpan.FromSeconds(10)));

            Runspace second = LocalRunspaceCache.Rent();
            try
            {
                Assert.Same(first, second);
                Assert.Equal(new object[] { true }, Run(second, "$null -eq $global:leftOver"));
            }
            finally
            {
                LocalRunspaceCache.Return(second, healthy: true);
            }
        }

        [Fact]
        public void AReturnedRunspaceLosesTheFunctionsAndAliasesACallDefinedAndKeepsTheDriver()
        {
            Runspace first = LocalRunspaceCache.Rent();
            Assert.True(WorkerDriver.HoldsDriver(first));
            Run(first, "function global:Get-LeftOver { 1 }; Set-Alias -Name glo -Value Get-LeftOver -Scope Global; Set-Item -LiteralPath 'function:Get-Left[1]' -Value { 1 }; Remove-Item -LiteralPath function:" + WorkerDriver.FunctionName);
            LocalRunspaceCache.Return(first, healthy: true);
            // The runspace is reset in the background; once that is done it is the first to be rented again.
            Assert.True(LocalRunspaceCache.WaitForResets(TimeSpan.FromSeconds(10)));

            Runspace second = LocalRunspaceCache.Rent();
            try
            {
                Assert.Same(first, second);
                Assert.Equal(new object[] { false, false, false, true },
                    Run(second, "[bool](Get-Command Get-LeftOver -ErrorAction Ignore); [bool](Get-Alias glo -ErrorAction Ignore); Test-Path -LiteralPath 'function:Get-Left[1]'; [bool](Get-Command " + WorkerDriver.FunctionName + " -ErrorAction Ignore)"));
            }
            finally
            {
                LocalRunspaceCache.Return(second, healthy: true);
            }
        }

        [Fact]
        public void AReturnedRunspaceHasItsLocationReset()
        {
            Runspace first = LocalRunspaceCache.Rent();
            string initial = (string)Run(first, "$PWD.ProviderPath").Single();
            string elsewhere = System.IO.Path.GetTempPath().TrimEnd('/', '\\');
            if (string.Equals(initial.TrimEnd('/', '\\'), elsewhere, StringComparison.Ordinal)) elsewhere = System.IO.Path.GetPathRoot(elsewhere);
            Run(first, $"Set-Location -LiteralPath '{elsewhere}'");
            LocalRunspaceCache.Return(first, healthy: true);
            // The runspace is reset in the background; once that is done it is the first to be rented again.
            Assert.True(LocalRunspaceCache.WaitForResets(TimeSpan.FromSeconds(10)));

            Runspace second = LocalRunspaceCache.Rent();
            try
            {
                Assert.Same(first, second);
                Assert.Equal(initial, (string)Run(second, "$PWD.ProviderPath").Single());
            }
            finally
            {
                LocalRunspaceCache.Return(second, healthy: true);
            }
        }

        [Fact]
        public void AnUnhealthyRunspaceIsClosedNotKept()
        {
            Runspace runspace = LocalRunspaceCache.Rent();
            int live = LocalRunspaceCache.LiveCount;
            LocalRunspaceCache.Return(runspace, healthy: false);
            Assert.Equal(live - 1, LocalRunspaceCache.LiveCount);
            Assert.NotEqual(RunspaceState.Opened, runspace.RunspaceStateInfo.State);

            Runspace next = LocalRunspaceCache.Rent();
            try
            {
                Assert.NotSame(runspace, next);
            }
            finally
            {
                LocalRunspaceCache.Return(next, healthy: true);
            }
        }

        [Fact]
        public void AClosedRunspaceReturnedAsHealthyIsDiscarded()
        {
            Runspace runspace = LocalRunspaceCache.Rent();
            int live = LocalRunspaceCache.LiveCount;
            runspace.Close();
            LocalRunspaceCache.Return(runspace, healthy: true);
            Assert.Equal(live - 1, LocalRunspaceCache.LiveCount);
        }

        [Fact]
        public void CloseAllClosesIdleRunspacesAndOnesStillRented()
        {
            Runspace idle = LocalRunspaceCache.Rent();
            Runspace rented = LocalRunspaceCache.Rent();
            LocalRunspaceCache.Return(idle, healthy: true);

            LocalRunspaceCache.CloseAll();
            Assert.Equal(0, LocalRunspaceCache.LiveCount);
            Assert.Equal(0, LocalRunspaceCache.IdleCount);
            Assert.NotEqual(RunspaceState.Opened, idle.RunspaceStateInfo.State);

            // The rented one was closed under its user; giving it back does not bring it back.
            LocalRunspaceCache.Return(rented, healthy: true);
            Assert.Equal(0, LocalRunspaceCache.LiveCount);
            Assert.NotEqual(RunspaceState.Opened, rented.RunspaceStateInfo.State);
        }
    }
}
