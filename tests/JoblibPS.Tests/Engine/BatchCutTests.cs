using JoblibPS.Engine;
using Xunit;

namespace JoblibPS.Tests.Engine
{
    /// <summary>The rule for how many waiting items the next batch takes (Engine/BatchCut.cs), on its own.</summary>
    public sealed class BatchCutTests
    {
        [Fact]
        public void AFullBatchGoesAsSoonAsItIsFull()
        {
            Assert.Equal(8, BatchCut.Take(pending: 20, size: 8, endOfInput: false, running: 4, nJobs: 2, holdOver: false));
        }

        [Fact]
        public void APartialBatchWaitsWhileItemsArriveFastAndNoWorkerIsIdle()
        {
            Assert.Equal(0, BatchCut.Take(pending: 3, size: 8, endOfInput: false, running: 0, nJobs: 2, holdOver: false));
            Assert.Equal(0, BatchCut.Take(pending: 3, size: 8, endOfInput: false, running: 2, nJobs: 2, holdOver: true));
        }

        [Fact]
        public void APartialBatchGoesWhenAWorkerWouldSitIdleAndItWaitedLongEnough()
        {
            Assert.Equal(3, BatchCut.Take(pending: 3, size: 8, endOfInput: false, running: 1, nJobs: 2, holdOver: true));
        }

        [Theory]
        [InlineData(40, 64, 0, 4, 5)]     // a share of what is left: half of it spread over the workers
        [InlineData(5, 64, 0, 4, 1)]      // never more than the share, never less than one
        [InlineData(2, 64, 4, 4, 1)]      // every worker busy and the batch would take all: half of it
        [InlineData(1, 64, 4, 4, 1)]
        public void TheTailShrinksAsTheInputRunsOut(int pending, int size, int running, int nJobs, int expected)
        {
            Assert.Equal(expected, BatchCut.Take(pending, size, endOfInput: true, running, nJobs, holdOver: false));
        }
    }
}
