using System.Management.Automation;
using Xunit;
using JoblibPS.Caller;

namespace JoblibPS.Tests.Caller
{
    /// <summary>
    /// The choice between the fast form (the block is the process block of one pipeline per batch) and the
    /// per-item form (the block is called once per item, the item as its first argument).
    /// </summary>
    public class WorkerScriptTests
    {
        [Theory]
        [InlineData("param($x) $x * 2")]
        [InlineData("param([int] $x, $y) $x + $y")]
        [InlineData("[CmdletBinding()] param() $_")]
        [InlineData("$args[0] * 2")]
        [InlineData("$_ + $args.Count")]
        [InlineData("$ARGS[0]")]
        [InlineData("if ($true) { $args[0] }")]
        [InlineData("foreach ($i in 1..2) { $args }")]
        [InlineData("$input")]
        [InlineData("begin { $n = 0 } process { $n += $_ } end { $n }")]
        [InlineData("begin { $n = 0 }")]
        [InlineData("process { $_ * 2 }")]
        [InlineData("end { $_ }")]
        public void PicksThePerItemForm(string text)
        {
            WorkerScript script = WorkerScript.From(ScriptBlock.Create(text));
            Assert.True(script.PerItemCall, $"'{text}' should be called once per item.");
            Assert.Equal(text, script.Text);
        }

        [Theory]
        [InlineData("$_ * 2")]
        [InlineData("$PSItem")]
        [InlineData("Write-Output $_; Write-Warning 'w'")]
        [InlineData("& { $args[0] } $_")]
        [InlineData("$sb = { param($a) $a }; & $sb $_")]
        [InlineData("1..3 | ForEach-Object { $args }")]
        [InlineData("$f = { $input }; $_")]
        [InlineData("$argsCopy = $_; $argsCopy")]
        [InlineData("'$args'")]
        [InlineData("# $args\n$_")]
        public void PicksTheFastFormOtherwise(string text)
        {
            WorkerScript script = WorkerScript.From(ScriptBlock.Create(text));
            Assert.False(script.PerItemCall, $"'{text}' should run as the process block of one pipeline.");
            Assert.Equal(text, script.Text);
        }

        [Theory]
        [InlineData("[Environment]::Exit(3)", true)]
        [InlineData("[System.Environment]::Exit(0)", true)]
        [InlineData("[environment]::exit(1)", true)]
        [InlineData("if ($_ -gt 9) { & { [Environment]::FailFast('x') } }", true)]
        [InlineData("[Environment]::ProcessorCount", false)]
        [InlineData("exit 3", false)]
        [InlineData("'[Environment]::Exit(3)'", false)]
        [InlineData("$e = [Environment]; $e.Exit", false)]
        public void SeesACallThatEndsTheProcess(string text, bool expected)
        {
            Assert.Equal(expected, WorkerScript.From(ScriptBlock.Create(text)).EndsProcess);
        }
    }
}
