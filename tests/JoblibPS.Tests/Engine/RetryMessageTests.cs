using System;
using Xunit;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Engine
{
    /// <summary>The verbose line of an item tried again (-Retry): numbered as the user counts items, from 1, as the other messages do.</summary>
    public class RetryMessageTests
    {
        [Fact]
        public void TheRetryLineNumbersItemsFromOneAndEndsTheErrorWithAFullStop()
        {
            // Item index 49 is the 50th item; "(flaky)" has no full stop of its own.
            Assert.Equal(
                "Item 50 of the call ('srv050.txt') failed on attempt 1: could not reach it (flaky). Trying again in 0.5 s.",
                FailureRouter.RetryMessage(49, "srv050.txt", "could not reach it (flaky)", 1, TimeSpan.FromSeconds(0.5)));
            Assert.Equal(
                "Item 1 of the call ('a') failed on attempt 2: Disk full. Trying again.",
                FailureRouter.RetryMessage(0, "a", "Disk full.", 2, TimeSpan.Zero));
        }
    }
}
