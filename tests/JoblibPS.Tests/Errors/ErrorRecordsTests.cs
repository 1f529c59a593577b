using System;
using Xunit;
using JoblibPS.Errors;

namespace JoblibPS.Tests.Errors
{
    /// <summary>The user's part of a worker's script stack trace: everything above the driver's function __JoblibRun.</summary>
    public class ErrorRecordsTests
    {
        private static readonly string NL = Environment.NewLine;

        [Fact]
        public void CutsAtTheDriversFunction()
        {
            string trace =
                "at Get-Thing, <No file>: line 3" + NL +
                "at <ScriptBlock><Process>, <No file>: line 1" + NL +
                "at __JoblibRun, <No file>: line 8" + NL +
                "at <ScriptBlock>, <No file>: line 14";
            string user = ErrorRecords.UserFrames(trace);
            Assert.Equal("at Get-Thing, <No file>: line 3" + NL + "at <ScriptBlock>, <No file>: line 1", user);
            Assert.DoesNotContain("__JoblibRun", user);
        }

        [Fact]
        public void ATraceWithoutTheDriverIsKept()
        {
            const string trace = "at <ScriptBlock>, <No file>: line 1";
            Assert.Equal(trace, ErrorRecords.UserFrames(trace));
        }

        [Fact]
        public void AFunctionWhoseNameStartsLikeTheDriversIsNotCut()
        {
            string trace = "at __JoblibRunner, <No file>: line 2" + NL + "at __JoblibRun, <No file>: line 8";
            Assert.Equal("at __JoblibRunner, <No file>: line 2", ErrorRecords.UserFrames(trace));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        public void NothingStaysNothing(string trace)
        {
            Assert.Equal(trace, ErrorRecords.UserFrames(trace));
        }
    }
}
