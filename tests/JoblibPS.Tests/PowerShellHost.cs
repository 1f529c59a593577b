using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using JoblibPS.Runspaces;

namespace JoblibPS.Tests
{
    /// <summary>
    /// One open runspace with JoblibPS imported from the built dll, for running scripts the way a user would.
    /// </summary>
    /// <remarks>
    /// Ownership: the host owns its runspace and every PowerShell it creates; <see cref="Dispose"/> closes them.
    /// Create one per test (in the test class's constructor) and dispose it in the class's Dispose.
    /// Every run has a hang guard: a script still running after the guard is stopped and the run throws
    /// <see cref="TimeoutException"/>, so a hung engine fails one test instead of the whole test run.
    /// Dispose also checks that the module's warm runspace cache holds no rented runspace (a call that ended
    /// must have given back every runspace it used).
    /// </remarks>
    public sealed class PowerShellHost : IDisposable
    {
        /// <summary>
        /// How long a script may run when the test gives no guard of its own: a hang guard, not a speed check. 90 s lets
        /// a run that starts fresh worker processes for each of several calls (multiprocessing) finish on a loaded
        /// machine; a hang still ends the run.
        /// </summary>
        public static readonly TimeSpan DefaultGuard = TimeSpan.FromSeconds(90);

        private const string TerminatingVariable = "__JoblibTestsTerminatingError";

        private readonly Runspace _runspace;
        private bool _disposed;

        public PowerShellHost()
        {
            InitialSessionState iss = InitialSessionState.CreateDefault2();
            iss.ImportPSModule(typeof(ParallelBackendBase).Assembly.Location);
            _runspace = RunspaceFactory.CreateRunspace(iss);
            _runspace.Open();
        }

        /// <summary>The host's runspace (open until Dispose).</summary>
        public Runspace Runspace => _runspace;

        /// <summary>Sets a variable in the runspace's global scope (for example a backend instance for -Backend).</summary>
        public void SetVariable(string name, object value)
        {
            _runspace.SessionStateProxy.SetVariable(name, value);
        }

        /// <summary>
        /// Runs <paramref name="script"/> and returns its streams. A terminating error (a cmdlet's included) ends the
        /// script and is returned in <see cref="ScriptRun.Terminating"/>, not thrown.
        /// </summary>
        public ScriptRun Run(string script, TimeSpan? guard = null)
        {
            return RunAsync(script, guard).GetAwaiter().GetResult();
        }

        /// <summary>Runs <paramref name="script"/> on a PowerShell of this runspace, stopping it after <paramref name="guard"/>.</summary>
        /// <param name="script">The script; it runs inside a try block (see <see cref="Run"/>).</param>
        /// <param name="guard">The hang guard (default <see cref="DefaultGuard"/>).</param>
        /// <param name="stop">Cancelling it stops the pipeline, as Ctrl+C does.</param>
        public async Task<ScriptRun> RunAsync(string script, TimeSpan? guard = null, CancellationToken stop = default)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(PowerShellHost));
            TimeSpan limit = guard ?? DefaultGuard;
            using (PowerShell ps = PowerShell.Create(_runspace))
            using (var output = new PSDataCollection<PSObject>())
            using (var cancelGuard = new CancellationTokenSource())
            {
                // A cmdlet's terminating error only ends its statement (it is written to the error stream and
                // the script goes on); inside try it is caught, which tells it apart from a non-terminating error.
                ps.AddScript("try {\n" + script + "\n} catch { $global:" + TerminatingVariable + " = $_ }");
                var clock = Stopwatch.StartNew();
                IAsyncResult started = ps.BeginInvoke<PSObject, PSObject>(null, output);
                using CancellationTokenRegistration onStop = stop.Register(() => ps.BeginStop(null, null));
                Task invocation = Task.Factory.FromAsync(started, ps.EndInvoke);
                Task expired = Task.Delay(limit, cancelGuard.Token);
                if (await Task.WhenAny(invocation, expired).ConfigureAwait(false) != invocation)
                {
                    // Stop the hung pipeline (bounded), so the runspace can be closed by Dispose.
                    Task stopping = Task.Factory.FromAsync(ps.BeginStop(null, null), ps.EndStop);
                    await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
                    throw new TimeoutException($"The script did not finish within {limit.TotalSeconds:0.#} s and was stopped:{Environment.NewLine}{script}");
                }
                cancelGuard.Cancel();
                ErrorRecord terminating = null;
                try
                {
                    await invocation.ConfigureAwait(false);
                }
                catch (RuntimeException ex)
                {
                    terminating = ex.ErrorRecord;
                }
                if (_runspace.SessionStateProxy.GetVariable(TerminatingVariable) is ErrorRecord caught)
                {
                    terminating = caught;
                }
                _runspace.SessionStateProxy.PSVariable.Remove(TerminatingVariable);
                clock.Stop();
                return new ScriptRun(
                    output.Select(o => o?.BaseObject).ToList(),
                    ps.Streams.Error.ToList(),
                    ps.Streams.Warning.Select(w => w.Message).ToList(),
                    ps.Streams.Verbose.Select(v => v.Message).ToList(),
                    ps.Streams.Information.ToList(),
                    terminating,
                    ps.InvocationStateInfo.State == PSInvocationState.Stopped,
                    clock.Elapsed);
            }
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _runspace.Dispose();
            Assert.True(_runspace.RunspaceStateInfo.State == RunspaceState.Closed, $"The host runspace is {_runspace.RunspaceStateInfo.State} after Dispose.");
            int rented = LocalRunspaceCache.RentedCount;
            Assert.True(rented == 0, $"{rented} runspace(s) of the warm cache are still rented after the test: a call did not give back its runspaces.");
        }
    }

    /// <summary>What one script run produced. Output values are unwrapped from PSObject.</summary>
    public sealed class ScriptRun
    {
        public ScriptRun(IReadOnlyList<object> output, IReadOnlyList<ErrorRecord> errors, IReadOnlyList<string> warnings, IReadOnlyList<string> verbose, IReadOnlyList<InformationRecord> information, ErrorRecord terminating, bool stopped, TimeSpan elapsed)
        {
            Stopped = stopped;
            Output = output;
            Errors = errors;
            Warnings = warnings;
            Verbose = verbose;
            Information = information;
            Terminating = terminating;
            Elapsed = elapsed;
        }

        public IReadOnlyList<object> Output { get; }

        /// <summary>Non-terminating errors written to the error stream.</summary>
        public IReadOnlyList<ErrorRecord> Errors { get; }

        public IReadOnlyList<string> Warnings { get; }

        public IReadOnlyList<string> Verbose { get; }

        public IReadOnlyList<InformationRecord> Information { get; }

        /// <summary>The terminating error the script ended with, or null.</summary>
        public ErrorRecord Terminating { get; }

        /// <summary>True when the pipeline was stopped (Ctrl+C); <see cref="Terminating"/> then holds the PipelineStoppedException's record.</summary>
        public bool Stopped { get; }

        public TimeSpan Elapsed { get; }

        /// <summary>Throws with the error's text when the script ended with a terminating error or wrote errors.</summary>
        public ScriptRun AssertNoErrors()
        {
            if (Terminating != null)
            {
                throw new Xunit.Sdk.XunitException($"The script failed: {Terminating.FullyQualifiedErrorId}: {Terminating.Exception?.Message}");
            }
            if (Errors.Count > 0)
            {
                throw new Xunit.Sdk.XunitException("The script wrote errors: " + string.Join("; ", Errors.Select(e => e.FullyQualifiedErrorId + ": " + e.Exception?.Message)));
            }
            return this;
        }

        /// <summary>The output as integers (PowerShell arithmetic gives Int32 for these tests).</summary>
        public IReadOnlyList<int> Ints => Output.Select(o => Convert.ToInt32(o, System.Globalization.CultureInfo.InvariantCulture)).ToList();
    }

    /// <summary>
    /// Tests that run PowerShell share the module's process-wide warm runspace cache; they run one at a time
    /// (so the rented-runspace check in <see cref="PowerShellHost.Dispose"/> is exact), and the cache is closed
    /// when the last of them ends, so no runspace outlives the test run.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class PowerShellCollection : ICollectionFixture<WarmCacheCleanup>
    {
        public const string Name = "PowerShell host";
    }

    /// <summary>Closes every runspace of the module's warm cache when the PowerShell collection ends.</summary>
    public sealed class WarmCacheCleanup : IDisposable
    {
        public void Dispose()
        {
            LocalRunspaceCache.CloseAll();
            Assert.Equal(0, LocalRunspaceCache.LiveCount);
        }
    }
}
