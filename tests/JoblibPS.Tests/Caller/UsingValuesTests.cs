using System;
using System.Collections;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Text;
using Xunit;
using JoblibPS.Caller;

namespace JoblibPS.Tests.Caller
{
    /// <summary>
    /// <c>$using:</c> goes through PowerShell's own remoting protocol: the values travel in a Hashtable passed as the
    /// parameter <c>--%</c>, keyed by base64 of the UTF-16 text of the using expression, lower-cased when the
    /// expression is a plain variable. This is PowerShell internal behaviour; the protocol tests pin it so a
    /// PowerShell upgrade that changes it fails here first.
    /// </summary>
    public class UsingValuesTests
    {
        private static string PowerShellKey(string text) => Convert.ToBase64String(Encoding.Unicode.GetBytes(text));

        private static UsingExpressionAst UsingAst(string script)
        {
            ScriptBlockAst ast = Parser.ParseInput(script, out _, out ParseError[] errors);
            Assert.Empty(errors);
            return (UsingExpressionAst)ast.Find(a => a is UsingExpressionAst, searchNestedScriptBlocks: true);
        }

        [Theory]
        [InlineData("$using:x", "$using:x")]
        [InlineData("$using:Total", "$using:total")]
        [InlineData("$Using:X", "$using:x")]
        [InlineData("$using:h['k']", "$using:h['k']")]
        [InlineData("$using:H['K']", "$using:H['K']")]
        [InlineData("$using:o.P", "$using:o.P")]
        [InlineData("$using:a[0].Name", "$using:a[0].Name")]
        public void KeyIsBase64OfTheUtf16TextLowerCasedForPlainVariables(string expression, string keyedText)
        {
            Assert.Equal(PowerShellKey(keyedText), UsingValues.Key(UsingAst(expression)));
        }

        [Fact]
        public void FindSkipsUsingExpressionsOfInnerParallelCalls()
        {
            var block = ScriptBlock.Create("$using:a; 1..2 | Invoke-JoblibParallel { $using:b }; 1 | ForEach-Object -Parallel { $using:c }; & { $using:d }");
            string[] found = UsingValues.Find(block).Select(u => u.ToString()).ToArray();
            Assert.Equal(new[] { "$using:a", "$using:d" }, found);
        }

        /// <summary>
        /// Pins PowerShell's protocol with keys made by hand: a script run in a fresh runspace with the map as
        /// <c>--%</c> reads each value back.
        /// </summary>
        [Fact]
        public void PowerShellResolvesUsingExpressionsFromTheMap()
        {
            var shared = new object();
            var map = new Hashtable
            {
                [PowerShellKey("$using:x")] = 42,
                [PowerShellKey("$using:h['k']")] = "value of k",
                [PowerShellKey("$using:o.P")] = "value of P",
                [PowerShellKey("$using:same")] = shared,
            };
            using (Runspace runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2()))
            {
                runspace.Open();
                using (PowerShell ps = PowerShell.Create(runspace))
                {
                    ps.AddScript("$using:X; $using:h['k']; $using:o.P; [object]::ReferenceEquals($using:same, $using:same); $using:same")
                      .AddParameter("--%", map);
                    var output = ps.Invoke();
                    Assert.False(ps.HadErrors, string.Join("; ", ps.Streams.Error.Select(e => e.ToString())));
                    Assert.Equal(5, output.Count);
                    Assert.Equal(42, output[0].BaseObject);
                    Assert.Equal("value of k", output[1].BaseObject);
                    Assert.Equal("value of P", output[2].BaseObject);
                    Assert.Equal(true, output[3].BaseObject);
                    // In-process the value is the caller's object, not a copy.
                    Assert.Same(shared, output[4].BaseObject);
                }
            }
        }

        /// <summary>The same round trip with the keys UsingValues makes.</summary>
        [Fact]
        public void KeysFromUsingValuesResolveInPowerShell()
        {
            const string script = "$using:x; $using:h['k']; $using:o.P";
            ScriptBlockAst ast = Parser.ParseInput(script, out _, out _);
            var usings = ast.FindAll(a => a is UsingExpressionAst, true).Cast<UsingExpressionAst>().ToList();
            var map = new Hashtable
            {
                [UsingValues.Key(usings[0])] = 1,
                [UsingValues.Key(usings[1])] = 2,
                [UsingValues.Key(usings[2])] = 3,
            };
            using (Runspace runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2()))
            {
                runspace.Open();
                using (PowerShell ps = PowerShell.Create(runspace))
                {
                    var output = ps.AddScript(script).AddParameter("--%", map).Invoke();
                    Assert.False(ps.HadErrors, string.Join("; ", ps.Streams.Error.Select(e => e.ToString())));
                    Assert.Equal(new object[] { 1, 2, 3 }, output.Select(o => o.BaseObject).ToArray());
                }
            }
        }
    }

    /// <summary><c>$using:</c> forms through the cmdlet, evaluated in the caller and read in the worker.</summary>
    [Collection(PowerShellCollection.Name)]
    public sealed class UsingValuesThroughTheCmdletTests : IDisposable
    {
        private readonly PowerShellHost _host = new PowerShellHost();

        public void Dispose() => _host.Dispose();

        [Theory]
        [InlineData("sequential", 1)]
        [InlineData("threading", 2)]
        public void UsingFormsReachTheWorker(string backend, int nJobs)
        {
            ScriptRun run = _host.Run(
                "$x = 10; $h = @{ k = 20 }; $o = [pscustomobject]@{ P = 30 }; " +
                $"1..4 | Invoke-JoblibParallel {{ $_ + $using:x + $using:h['k'] + $using:o.P }} -Backend {backend} -NJobs {nJobs}");
            run.AssertNoErrors();
            Assert.Equal(new[] { 61, 62, 63, 64 }, run.Ints);
        }

        [Fact]
        public void AnUndefinedUsingVariableIsATerminatingErrorWithItsId()
        {
            ScriptRun run = _host.Run("1..2 | Invoke-JoblibParallel { $using:notDefinedAnywhere } -Backend threading -NJobs 2");
            Assert.NotNull(run.Terminating);
            Assert.StartsWith(ErrorIds.UsingVariableUndefined, run.Terminating.FullyQualifiedErrorId);
            Assert.Contains("notDefinedAnywhere", run.Terminating.Exception.Message);
        }
    }
}
