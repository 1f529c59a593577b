using System;
using Xunit;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Engine
{
    /// <summary>-TimeoutSeconds: from a millisecond to int.MaxValue milliseconds.</summary>
    public class ItemTimeoutTests
    {
        [Theory]
        [InlineData(0.001, 10000)]
        [InlineData(1.5, 15000000)]
        [InlineData(2147483.647, 21474836470000)]
        public void TakesTheRange(double seconds, long ticks)
        {
            Assert.Equal(TimeSpan.FromTicks(ticks), ItemTimeout.FromSeconds(seconds, out string error));
            Assert.Null(error);
        }

        [Theory]
        [InlineData(0)]
        [InlineData(-1)]
        [InlineData(1e-9)]
        [InlineData(0.0009)]
        [InlineData(2147483.648)]
        [InlineData(1e300)]
        [InlineData(double.PositiveInfinity)]
        [InlineData(double.NaN)]
        public void RefusesTheRest(double seconds)
        {
            Assert.Null(ItemTimeout.FromSeconds(seconds, out string error));
            Assert.Contains("from 0.001 to 2147483.647", error);
        }
    }
}
