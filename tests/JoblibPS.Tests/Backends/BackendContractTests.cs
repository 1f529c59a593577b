using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace JoblibPS.Tests.Backends
{
    /// <summary>
    /// The backend contract at the .NET level: a backend class passed to Invoke-JoblibParallel as an instance
    /// (<c>-Backend $instance</c>), and what the engine calls on it, in which order, and how it reports a backend
    /// that breaks the contract.
    /// </summary>
    [Collection(PowerShellCollection.Name)]
    public sealed class BackendContractTests : IDisposable
    {
        private readonly PowerShellHost _host = new PowerShellHost();

        public void Dispose() => _host.Dispose();

        private ScriptRun RunWith(ParallelBackendBase backend, string script, TimeSpan? guard = null)
        {
            _host.SetVariable("backend", backend);
            return _host.Run(script, guard);
        }

        /// <summary>Configure, StartCall, then only Submit and result reads (each read after its Submit), StopCall, Terminate.</summary>
        private static void AssertCallOrder(IReadOnlyList<string> calls, string read)
        {
            string all = string.Join(", ", calls);
            Assert.True(calls.Count >= 5, all);
            Assert.Equal("Configure", calls[0]);
            Assert.Equal("StartCall", calls[1]);
            Assert.Equal(new[] { "StopCall", "Terminate" }, calls.Skip(calls.Count - 2));
            int submitted = 0, read_ = 0;
            foreach (string call in calls.Skip(2).Take(calls.Count - 4))
            {
                if (call == "Submit") submitted++;
                else if (call == read) read_++;
                else Assert.Fail($"Unexpected '{call}' between StartCall and StopCall: {all}");
                Assert.True(read_ <= submitted, $"A result was read before its task was submitted: {all}");
            }
            Assert.True(submitted >= 1, all);
            Assert.Equal(submitted, read_);
        }

        [Fact]
        public void ResultsAreCorrectAndOrdered()
        {
            var backend = new RecordingTaskBackend();
            ScriptRun run = RunWith(backend, "1..50 | Invoke-JoblibParallel { $_ * 2 } -Backend $backend -NJobs 2").AssertNoErrors();
            Assert.Equal(Enumerable.Range(1, 50).Select(i => i * 2), run.Ints);
            Assert.Equal(2, backend.ConfiguredNJobs);
        }

        [Fact]
        public void TheEngineCallsTheContractInOrderOnOneThread()
        {
            var backend = new RecordingTaskBackend();
            RunWith(backend, "1..50 | Invoke-JoblibParallel { $_ } -Backend $backend -NJobs 2").AssertNoErrors();

            AssertCallOrder(backend.Calls, "RetrieveResultCallback");
            Assert.Equal(0, backend.CountOf("RetrieveResult"));
            Assert.True(backend.Threads.Count == 1, "Every contract call must come on the pipeline thread; they came on threads " + string.Join(", ", backend.Threads));
        }

        [Fact]
        public void AFailingItemAbortsAOneOffCallWithoutEnsureReady()
        {
            var backend = new RecordingTaskBackend();
            ScriptRun run = RunWith(backend, "1..20 | Invoke-JoblibParallel { if ($_ -eq 5) { throw 'five' } $_ } -Backend $backend -NJobs 2");

            Assert.NotNull(run.Terminating);
            Assert.StartsWith(ErrorIds.TaskFailed, run.Terminating.FullyQualifiedErrorId);
            Assert.Equal(5, Unwrap(run.Terminating.TargetObject));

            IReadOnlyList<string> calls = backend.Calls;
            string all = string.Join(", ", calls);
            Assert.Equal(1, backend.CountOf("AbortEverything(False)"));
            Assert.Equal(0, backend.CountOf("AbortEverything(True)"));
            int abort = calls.ToList().IndexOf("AbortEverything(False)");
            Assert.True(abort > calls.ToList().IndexOf("StartCall"), all);
            Assert.True(abort < calls.ToList().IndexOf("StopCall"), all);
            Assert.Equal("Terminate", calls[calls.Count - 1]);
            Assert.Equal(1, backend.CountOf("Terminate"));
        }

        [Fact]
        public void WithoutRetrieveCallbackTheEngineCallsRetrieveResult()
        {
            var backend = new RecordingTaskBackend { SupportsRetrieveCallback = false };
            ScriptRun run = RunWith(backend, "1..30 | Invoke-JoblibParallel { $_ + 1 } -Backend $backend -NJobs 2").AssertNoErrors();

            Assert.Equal(Enumerable.Range(2, 30), run.Ints);
            AssertCallOrder(backend.Calls, "RetrieveResult");
            Assert.Equal(0, backend.CountOf("RetrieveResultCallback"));
        }

        [Fact]
        public void ACallbackBeforeSubmitReturnsIsAllowed()
        {
            var backend = new SynchronousBackend();
            ScriptRun run = RunWith(backend, "1..20 | Invoke-JoblibParallel { $_ * 3 } -Backend $backend -NJobs 2").AssertNoErrors();
            Assert.Equal(Enumerable.Range(1, 20).Select(i => i * 3), run.Ints);
            AssertCallOrder(backend.Calls, "RetrieveResultCallback");
        }

        [Fact]
        public void ConfigureGetsTheCallsSettings()
        {
            var backend = new RecordingTaskBackend();
            RunWith(backend, "1..5 | Invoke-JoblibParallel { $_ } -Backend $backend -NJobs 3 -Unordered -TimeoutSeconds 30 -BatchSize 2 -PreDispatch 'all'").AssertNoErrors();
            ParallelCall call = backend.ParallelAtStart;
            Assert.NotNull(call);
            Assert.Equal(3, call.NJobs);
            Assert.False(call.Ordered);
            Assert.Equal(TimeSpan.FromSeconds(30), call.Timeout);
            Assert.Equal("2", call.BatchSize);
            Assert.Equal("all", call.PreDispatch);
            Assert.NotNull(call.BackendArguments);
        }

        /// <summary>ParallelBackendBase.Parallel: "set by Configure, null between calls".</summary>
        [Fact]
        public void ParallelIsNullBetweenCalls()
        {
            var backend = new RecordingTaskBackend();
            Assert.Null(backend.Parallel);
            RunWith(backend, "1..5 | Invoke-JoblibParallel { $_ } -Backend $backend -NJobs 2").AssertNoErrors();
            Assert.NotNull(backend.ParallelAtStart);
            Assert.Null(backend.Parallel);
        }

        [Fact]
        public async Task StoppingTheCallAbortsTheBackendAndEndsIt()
        {
            using var started = new SemaphoreSlim(0);
            using var stop = new CancellationTokenSource();
            var backend = new RecordingTaskBackend();
            _host.SetVariable("backend", backend);
            _host.SetVariable("started", started);
            Task<ScriptRun> running = _host.RunAsync(
                "1..8 | Invoke-JoblibParallel { $s = $using:started; $null = $s.Release(); Start-Sleep -Seconds 60 } -Backend $backend -NJobs 2 -BatchSize 1",
                TimeSpan.FromSeconds(20), stop.Token);
            Task<bool> signalled = started.WaitAsync(TimeSpan.FromSeconds(15));
            if (await Task.WhenAny(signalled, running) == running)
            {
                Assert.Fail($"The call ended before any item started: {(await running).Terminating?.Exception?.Message}");
            }
            stop.Cancel();
            ScriptRun run = await running;

            Assert.True(run.Stopped);
            IReadOnlyList<string> calls = backend.Calls;
            Assert.Equal(1, backend.CountOf("AbortEverything(False)"));
            Assert.Equal(new[] { "StopCall", "Terminate" }, calls.Skip(calls.Count - 2));
        }

        /// <summary>Each backend that breaks a rule, and the words of the rule the error must name.</summary>
        public static IEnumerable<object[]> Violations => new List<object[]>
        {
            new object[] { nameof(NullSubmitBackend), "Submit returned null" },
            new object[] { nameof(ThrowingRetrieveBackend), "RetrieveResultCallback threw" },
            new object[] { nameof(DoubleCallbackBackend), "more than once" },
            new object[] { nameof(ThrowingConfigureBackend), "Configure threw" },
            new object[] { nameof(ThrowingSubmitBackend), "Submit threw" },
            new object[] { nameof(ZeroJobsBackend), "must return at least 1" },
            new object[] { nameof(WrongResultBackend), "as the result of batch" },
        };

        private static RecordingTaskBackend Create(string name)
        {
            switch (name)
            {
                case nameof(NullSubmitBackend): return new NullSubmitBackend();
                case nameof(ThrowingRetrieveBackend): return new ThrowingRetrieveBackend();
                case nameof(DoubleCallbackBackend): return new DoubleCallbackBackend();
                case nameof(ThrowingConfigureBackend): return new ThrowingConfigureBackend();
                case nameof(ThrowingSubmitBackend): return new ThrowingSubmitBackend();
                case nameof(ZeroJobsBackend): return new ZeroJobsBackend();
                case nameof(WrongResultBackend): return new WrongResultBackend();
                default: throw new ArgumentOutOfRangeException(nameof(name), name, null);
            }
        }

        [Theory]
        [MemberData(nameof(Violations))]
        public void ABackendThatBreaksTheContractGetsATerminatingErrorNamingTheRule(string backendType, string rule)
        {
            RecordingTaskBackend backend = Create(backendType);
            ScriptRun run = RunWith(backend, "1..20 | Invoke-JoblibParallel { $_ } -Backend $backend -NJobs 2");

            ErrorRecord error = run.Terminating;
            Assert.True(error != null, $"{backendType}: no terminating error; output was {string.Join(",", run.Output)}; calls: {string.Join(", ", backend.Calls)}");
            Assert.StartsWith(ErrorIds.BackendContract, error.FullyQualifiedErrorId);
            Assert.Contains(rule, error.Exception.Message);
            Assert.Contains(backendType, error.Exception.Message);
            // The call that owned the backend still ends it.
            Assert.Equal("Terminate", backend.Calls[backend.Calls.Count - 1]);
        }

        [Fact]
        public async Task ABackendThatNeverCallsBackIsStoppedByTheTimeout()
        {
            // The guard stops a hung call after 15 s (plus at most 5 s to stop it), so the test ends within 20 s.
            var guard = TimeSpan.FromSeconds(15);
            var clock = Stopwatch.StartNew();
            var backend = new SilentBackend();
            _host.SetVariable("backend", backend);
            ScriptRun run = await _host.RunAsync("1..3 | Invoke-JoblibParallel { $_ } -Backend $backend -NJobs 2 -TimeoutSeconds 1", guard);
            clock.Stop();

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
            Assert.NotNull(run.Terminating);
            Assert.StartsWith(ErrorIds.TaskTimeout, run.Terminating.FullyQualifiedErrorId);
            Assert.Equal(1, Unwrap(run.Terminating.TargetObject));
            Assert.Contains("AbortEverything(False)", backend.Calls);
            Assert.Equal("Terminate", backend.Calls[backend.Calls.Count - 1]);
        }

        private static object Unwrap(object value) => value is PSObject pso ? pso.BaseObject : value;
    }
}
