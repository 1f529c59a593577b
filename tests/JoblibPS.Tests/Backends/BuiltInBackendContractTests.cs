using System.IO;
using System;
using System.Text.Json;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace JoblibPS.Tests.Backends
{
    /// <summary>
    /// The contract every backend honours, as a user sees it through Invoke-JoblibParallel. Each test runs once per
    /// backend of <see cref="Backends"/>.
    /// </summary>
    [Collection(PowerShellCollection.Name)]
    public sealed class BuiltInBackendContractTests : IDisposable
    {
        private readonly PowerShellHost _host = new PowerShellHost();

        public void Dispose() => _host.Dispose();

        /// <summary>
        /// The backends under contract, with the -NJobs to run them with: tests/ContractBackends.json, the list the Pester
        /// contract suite reads too. Entries that need what this suite does not set up (SSH test hosts, the
        /// script-method example) run in the Pester suite only.
        /// </summary>
        public static IEnumerable<object[]> Backends
        {
            get
            {
                string dir = AppContext.BaseDirectory;
                while (dir != null && !File.Exists(Path.Combine(dir, "tests", "ContractBackends.json"))) dir = Path.GetDirectoryName(dir);
                if (dir == null) throw new InvalidOperationException("tests/ContractBackends.json was not found above " + AppContext.BaseDirectory);
                using JsonDocument list = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "tests", "ContractBackends.json")));
                var backends = new List<object[]>();
                foreach (JsonElement entry in list.RootElement.GetProperty("Backends").EnumerateArray())
                {
                    if (entry.GetProperty("Needs").ValueKind != JsonValueKind.Null) continue;
                    backends.Add(new object[] { entry.GetProperty("Backend").GetString(), entry.GetProperty("NJobs").GetInt32() });
                }
                return backends;
            }
        }

        private static string Call(string block, string backend, int nJobs, string extra = "")
        {
            return $"Invoke-JoblibParallel {{ {block} }} -Backend {backend} -NJobs {nJobs} {extra}";
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void ResultsComeBackInInputOrder(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("1..50 | " + Call("$_ * 2", backend, nJobs)).AssertNoErrors();
            Assert.Equal(Enumerable.Range(1, 50).Select(i => i * 2), run.Ints);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void UnorderedReturnsEveryResultOnce(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("1..50 | " + Call("$_ * 2", backend, nJobs, "-Unordered")).AssertNoErrors();
            Assert.Equal(Enumerable.Range(1, 50).Select(i => i * 2), run.Ints.OrderBy(i => i));
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void AThrowingItemIsATerminatingErrorNamingTheItem(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("1..20 | " + Call("if ($_ -eq 7) { throw \"item $_ failed\" } $_", backend, nJobs));

            ErrorRecord error = run.Terminating;
            Assert.NotNull(error);
            Assert.StartsWith(ErrorIds.TaskFailed, error.FullyQualifiedErrorId);
            Assert.Equal(7, Unwrap(error.TargetObject));
            Assert.Equal("item 7 failed", error.Exception.Message);
            // Ordered: the items before the failing one were written, nothing after it.
            Assert.Equal(Enumerable.Range(1, 6), run.Ints);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void AThrowingItemCanBeCaughtByTheCaller(string backend, int nJobs)
        {
            ScriptRun run = _host.Run(
                "try { 1..5 | " + Call("if ($_ -eq 3) { throw 'x' } $_", backend, nJobs) + " | Out-Null; 'not caught' } " +
                "catch { $_.FullyQualifiedErrorId; $_.TargetObject }").AssertNoErrors();
            Assert.Equal(2, run.Output.Count);
            Assert.StartsWith(ErrorIds.TaskFailed, (string)run.Output[0]);
            Assert.Equal(3, run.Output[1]);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void UsingValuesReachTheBlock(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("$offset = 1000; 1..10 | " + Call("$_ + $using:offset", backend, nJobs)).AssertNoErrors();
            Assert.Equal(Enumerable.Range(1001, 10), run.Ints);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void WarningsReachTheWarningStream(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("1..3 | " + Call("Write-Warning \"careful $_\"; $_", backend, nJobs)).AssertNoErrors();
            Assert.Equal(new[] { 1, 2, 3 }, run.Ints);
            Assert.Equal(new[] { "careful 1", "careful 2", "careful 3" }, run.Warnings);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void NestedCallsWork(string backend, int nJobs)
        {
            ScriptRun run = _host.Run(
                "1..4 | " + Call("$n = $_; (1..$n | Invoke-JoblibParallel { $_ * 10 } | Measure-Object -Sum).Sum", backend, nJobs)).AssertNoErrors();
            Assert.Equal(new[] { 10, 30, 60, 100 }, run.Ints);
        }

        /// <summary>
        /// A nested call inside one item must not disturb the items after it in the same batch. Even items nest,
        /// odd items are quick, and -BatchSize 2 lets an odd item share a batch with the even one before it; batch
        /// composition depends on timing, so the call is repeated to make a shared batch all but certain.
        /// </summary>
        [Theory]
        [MemberData(nameof(Backends))]
        public void ANestedCallLeavesTheRestOfItsBatchAlone(string backend, int nJobs)
        {
            string call = "1..10 | " + Call("if ($_ % 2) { $_ } else { $n = $_; (1..$n | Invoke-JoblibParallel { $_ } | Measure-Object -Sum).Sum }", backend, nJobs, "-BatchSize 2");
            ScriptRun run = _host.Run($"foreach ($i in 1..5) {{ ({call}) -join ',' }}").AssertNoErrors();
            Assert.Equal(Enumerable.Repeat("1,3,3,10,5,21,7,36,9,55", 5), run.Output.Cast<string>());
        }

        /// <summary>The caller's variables, functions and preferences are the same after a call as before it.</summary>
        [Theory]
        [MemberData(nameof(Backends))]
        public void ACallLeavesTheCallersSessionAsItWas(string backend, int nJobs)
        {
            ScriptRun run = _host.Run(
                "$ErrorActionPreference = 'Continue'; $WarningPreference = 'Continue'; $ProgressPreference = 'Continue'; " +
                "$null = 1..3 | " + Call("$_", backend, nJobs, "-ErrorAction SilentlyContinue -WarningAction SilentlyContinue") + "; " +
                "$ErrorActionPreference; $WarningPreference; $ProgressPreference; " +
                "(@(Get-Variable -Name '__Joblib*' -ErrorAction Ignore).Name) -join ','; " +
                "@(Get-Command -Name '__Joblib*' -ErrorAction Ignore).Count").AssertNoErrors();
            Assert.Equal(new object[] { "Continue", "Continue", "Continue", "", 0 }, run.Output.Select(o => o is Enum e ? e.ToString() : o).ToArray());
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void ResultsStayInInputOrderWhenBatchesFinishOutOfOrder(string backend, int nJobs)
        {
            // Odd items take longer, so with two workers the even items finish first.
            ScriptRun run = _host.Run("1..10 | " + Call("if ($_ % 2) { Start-Sleep -Milliseconds 40 }; $_", backend, nJobs, "-BatchSize 1")).AssertNoErrors();
            Assert.Equal(Enumerable.Range(1, 10), run.Ints);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void ANonTerminatingErrorReachesTheErrorStreamAndTheCallGoesOn(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("1..4 | " + Call("if ($_ -eq 2) { Write-Error \"soft $_\" }; $_", backend, nJobs));
            Assert.Null(run.Terminating);
            Assert.Equal(new[] { 1, 2, 3, 4 }, run.Ints);
            Assert.Equal("soft 2", Assert.Single(run.Errors).Exception.Message);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public void ADownstreamSelectFirstEndsTheCall(string backend, int nJobs)
        {
            // The host's Dispose checks that the ended call gave back every runspace.
            ScriptRun run = _host.Run("1..10000 | " + Call("$_", backend, nJobs) + " | Select-Object -First 3").AssertNoErrors();
            Assert.Equal(new[] { 1, 2, 3 }, run.Ints);
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public async Task ASlowItemIsStoppedByTheTimeout(string backend, int nJobs)
        {
            // Items sleep 60 s: a call that ends well before that was ended by the timeout. The bound leaves room for
            // starting worker processes on a loaded machine (a call with -TimeoutSeconds waits for its workers first).
            var guard = TimeSpan.FromSeconds(55);
            ScriptRun run = await _host.RunAsync("1..3 | " + Call("Start-Sleep -Seconds 60; $_", backend, nJobs, "-TimeoutSeconds 1"), guard);
            Assert.NotNull(run.Terminating);
            Assert.StartsWith(ErrorIds.TaskTimeout, run.Terminating.FullyQualifiedErrorId);
            Assert.Equal(1, Unwrap(run.Terminating.TargetObject));
            Assert.True(run.Elapsed < TimeSpan.FromSeconds(45), $"The call took {run.Elapsed}.");
        }

        private static async Task<bool> WaitForFile(string path, TimeSpan timeout)
        {
            using var watcher = new FileSystemWatcher(Path.GetDirectoryName(path), Path.GetFileName(path)) { EnableRaisingEvents = true };
            var created = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            watcher.Created += (_, _) => created.TrySetResult(true);
            bool done = File.Exists(path) || await Task.WhenAny(created.Task, Task.Delay(timeout)) == created.Task || File.Exists(path);
            try { File.Delete(path); } catch (IOException) { }
            return done;
        }

        [Theory]
        [MemberData(nameof(Backends))]
        public async Task StoppingTheCallEndsItPromptly(string backend, int nJobs)
        {
            // Every item signals when it starts, so the test stops the call once work is running, without guessing a delay.
            // In-process backends signal through a shared semaphore; a worker process cannot reach it, so it creates
            // a file that the test watches for instead.
            using var started = new SemaphoreSlim(0);
            using var stop = new CancellationTokenSource();
            string flag = Path.Combine(Path.GetTempPath(), "joblibps-started-" + Guid.NewGuid().ToString("N"));
            _host.SetVariable("started", started);
            _host.SetVariable("flag", flag);
            string signal = backend == "loky" || backend == "multiprocessing"
                ? "$null = New-Item -ItemType File -Force -Path $using:flag"
                : "$s = $using:started; $null = $s.Release()";
            // Up to 40 s for the first item to start: worker processes start cold, and a loaded machine is slow at it.
            Task<ScriptRun> running = _host.RunAsync("1..8 | " + Call(signal + "; Start-Sleep -Seconds 60; $_", backend, nJobs, "-BatchSize 1"), TimeSpan.FromSeconds(55), stop.Token);
            Task<bool> signalled = Task.WhenAny(started.WaitAsync(TimeSpan.FromSeconds(40)), WaitForFile(flag, TimeSpan.FromSeconds(40))).Unwrap();
            if (await Task.WhenAny(signalled, running) == running)
            {
                ScriptRun early = await running;
                Assert.Fail($"The call ended before any item started: {early.Terminating?.Exception?.Message}");
            }
            Assert.True(await signalled, "No item started.");
            var sinceStop = System.Diagnostics.Stopwatch.StartNew();
            stop.Cancel();
            ScriptRun run = await running;
            sinceStop.Stop();
            Assert.True(run.Stopped, "The pipeline should end as stopped.");
            Assert.Empty(run.Output);
            Assert.True(sinceStop.Elapsed < TimeSpan.FromSeconds(10), $"The call took {sinceStop.Elapsed} to end after the stop.");
        }

        /// <summary>
        /// ErrorIds.TaskExited: 'exit' in an item would end the worker's script, so the engine reports it instead of
        /// treating it as a normal end of the item.
        /// </summary>
        [Theory]
        [MemberData(nameof(Backends))]
        public void AnItemThatCallsExitIsReported(string backend, int nJobs)
        {
            ScriptRun run = _host.Run("1..3 | " + Call("if ($_ -eq 2) { exit }; $_", backend, nJobs, "-BatchSize 1"));
            Assert.True(run.Terminating != null, $"No terminating error; output was {string.Join(",", run.Output)}.");
            Assert.StartsWith(ErrorIds.TaskExited, run.Terminating.FullyQualifiedErrorId);
            Assert.Equal(2, Unwrap(run.Terminating.TargetObject));
        }

        private static object Unwrap(object value) => value is PSObject pso ? pso.BaseObject : value;
    }
}
