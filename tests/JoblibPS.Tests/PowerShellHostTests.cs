using System;
using System.Diagnostics;
using System.Threading.Tasks;
using Xunit;

namespace JoblibPS.Tests
{
    /// <summary>The test host itself: its hang guard and how it tells terminating errors from written ones.</summary>
    [Collection(PowerShellCollection.Name)]
    public sealed class PowerShellHostTests : IDisposable
    {
        private readonly PowerShellHost _host = new PowerShellHost();

        public void Dispose() => _host.Dispose();

        [Fact]
        public async Task AScriptThatOutlivesItsGuardIsStopped()
        {
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAsync<TimeoutException>(() => _host.RunAsync("Start-Sleep -Seconds 60", TimeSpan.FromSeconds(1)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
            // The runspace is usable again.
            Assert.Equal(new[] { 2 }, _host.Run("1 + 1").AssertNoErrors().Ints);
        }

        [Fact]
        public void TerminatingAndWrittenErrorsAreToldApart()
        {
            ScriptRun written = _host.Run("Write-Error 'soft'; 'after'");
            Assert.Null(written.Terminating);
            Assert.Single(written.Errors);
            Assert.Equal(new object[] { "after" }, written.Output);

            ScriptRun thrown = _host.Run("'before'; Get-Item -LiteralPath '/no/such/path' -ErrorAction Stop; 'after'");
            Assert.NotNull(thrown.Terminating);
            Assert.Equal(new object[] { "before" }, thrown.Output);

            Assert.Null(_host.Run("'clean'").Terminating);
        }
    }
}
