using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using Xunit;
using JoblibPS.Caller;

namespace JoblibPS.Tests.Caller
{
    /// <summary>
    /// Where a block and the caller's functions stand in the caller's script, so a worker can parse them there and a
    /// failure's ScriptStackTrace names the caller's file and lines (what a user reads: tests/Pester/FailedItemErrors.Tests.ps1).
    /// </summary>
    public class PlaceTests
    {
        private static ScriptBlock BlockIn(string script, string file)
        {
            ScriptBlockAst ast = Parser.ParseInput(script, file, out _, out ParseError[] errors);
            Assert.Empty(errors);
            var literal = (ScriptBlockExpressionAst)ast.Find(a => a is ScriptBlockExpressionAst, true);
            return literal.ScriptBlock.GetScriptBlock();
        }

        [Fact]
        public void ABlockLiteralStartsJustAfterItsBrace()
        {
            ScriptBlock block = BlockIn("$x = 1\n$y = 2\n1 | Invoke-JoblibParallel {\n    Get-Report $_\n}\n", "/scripts/report.ps1");
            WorkerScript script = WorkerScript.From(block);
            Assert.Equal(new object[] { "/scripts/report.ps1", 3, 28 }, script.Place);
            // Padded to that place, the text's second line is the script's line 4.
            string placed = WorkerSetup.Placed(script.Text, 3, 28);
            Assert.Equal("    Get-Report $_", placed.Split('\n')[3]);
        }

        [Fact]
        public void ABlockTypedOnTheFirstLineOfAPromptHasNoPlace()
        {
            WorkerScript script = WorkerScript.From(ScriptBlock.Create("$_ * 2"));
            Assert.Null(script.Place);
        }

        [Fact]
        public void PlacedTextKeepsLineAndColumn()
        {
            string placed = WorkerSetup.Placed("function Get-X { 1 }", 4, 5);
            Assert.Equal("\n\n\n    function Get-X { 1 }", placed);
            ScriptBlockAst ast = Parser.ParseInput(placed, "/s.ps1", out _, out _);
            var definition = (FunctionDefinitionAst)ast.Find(a => a is FunctionDefinitionAst, false);
            Assert.Equal(4, definition.Extent.StartLineNumber);
            Assert.Equal(5, definition.Extent.StartColumnNumber);
            Assert.Equal("/s.ps1", definition.Extent.File);
            Assert.Equal("x", WorkerSetup.Placed("x", 1, 1));
        }
    }
}
