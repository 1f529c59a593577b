using System;
using Xunit;

namespace JoblibPS.Tests.Engine
{
    /// <summary>joblib's effective_n_jobs: positive as is, -1 = every CPU, -k = all CPUs but k-1 (at least 1), 0 rejected.</summary>
    public class NJobsTests
    {
        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        [InlineData(64)]
        public void PositiveValuesAreTakenAsIs(int nJobs)
        {
            Assert.Equal(nJobs, NJobs.Resolve(nJobs));
        }

        [Fact]
        public void MinusOneIsTheCpuCount()
        {
            Assert.Equal(Environment.ProcessorCount, NJobs.CpuCount);
            Assert.Equal(NJobs.CpuCount, NJobs.Resolve(-1));
        }

        [Theory]
        [InlineData(-2)]
        [InlineData(-3)]
        [InlineData(-1000)]
        public void MinusKIsCpuCountPlusOneMinusKAtLeastOne(int nJobs)
        {
            Assert.Equal(Math.Max(NJobs.CpuCount + 1 + nJobs, 1), NJobs.Resolve(nJobs));
        }

        [Fact]
        public void MinusMoreThanTheCpuCountIsOne()
        {
            Assert.Equal(1, NJobs.Resolve(-NJobs.CpuCount));
            Assert.Equal(1, NJobs.Resolve(-NJobs.CpuCount - 5));
        }

        [Fact]
        public void ZeroThrows()
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => NJobs.Resolve(0));
            Assert.Contains("0", ex.Message);
        }
    }
}
