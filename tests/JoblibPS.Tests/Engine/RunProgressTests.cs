using System;
using Xunit;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Engine
{
    /// <summary>
    /// What the progress bar of a call says. PowerShell's default (Minimal) view draws a bar with PercentComplete -1
    /// fully highlighted, which reads as 100 %: while the total is unknown the bar must be empty and say so.
    /// </summary>
    public class RunProgressTests
    {
        private static readonly TimeSpan TwoSeconds = TimeSpan.FromSeconds(2);

        [Fact]
        public void StreamedInputGivesAnEmptyBarThatSaysTheTotalIsNotKnown()
        {
            var record = RunProgress.Record(done: 216, seen: 230, inputEnded: false, elapsed: TwoSeconds);
            Assert.Equal(0, record.PercentComplete);
            Assert.Equal(-1, record.SecondsRemaining);
            Assert.Equal("Done 216 of ? items (input still arriving) | 108 items/s | elapsed 2.0s", record.StatusDescription);
        }

        [Fact]
        public void KnownTotalGivesThePercentageAndTheTimeLeft()
        {
            var record = RunProgress.Record(done: 100, seen: 400, inputEnded: true, elapsed: TwoSeconds);
            Assert.Equal(25, record.PercentComplete);
            Assert.Equal(6, record.SecondsRemaining);
            Assert.Equal("Done 100 of 400 items | 50 items/s", record.StatusDescription);
        }

        [Theory]
        [InlineData(false, "Done 0 of ? items (input still arriving) | no result yet: workers may still be starting | elapsed 2.0s")]
        [InlineData(true, "Done 0 of 40 items | no result yet: workers may still be starting")]
        public void NothingDoneYetSaysWorkersMayStillBeStarting(bool inputEnded, string expected)
        {
            var record = RunProgress.Record(done: 0, seen: 40, inputEnded: inputEnded, elapsed: TwoSeconds);
            Assert.Equal(0, record.PercentComplete);
            Assert.Equal(expected, record.StatusDescription);
        }
    }
}
