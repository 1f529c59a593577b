using System;
using Xunit;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Engine
{
    /// <summary>joblib's pre_dispatch language: integers, 'all', and + - * / // ( ) on integers and n_jobs.</summary>
    public class PreDispatchExpressionTests
    {
        [Theory]
        [InlineData("1", 4, 1)]
        [InlineData("7", 4, 7)]
        [InlineData(" 12 ", 4, 12)]
        [InlineData("n_jobs", 3, 3)]
        [InlineData("2*n_jobs", 3, 6)]
        [InlineData("2 * n_jobs", 8, 16)]
        [InlineData("3*n_jobs+1", 2, 7)]
        [InlineData("(n_jobs+1)//2", 4, 2)]
        [InlineData("(n_jobs+1)//2", 5, 3)]
        [InlineData("7//2", 1, 3)]
        [InlineData("n_jobs*(2+1)-1", 2, 5)]
        public void EvaluatesArithmeticOnNJobs(string expression, int nJobs, int expected)
        {
            Assert.Equal(expected, PreDispatchExpression.Evaluate(expression, nJobs));
        }

        [Theory]
        [InlineData("all")]
        [InlineData("ALL")]
        [InlineData(" all ")]
        public void AllMeansNoLimit(string expression)
        {
            Assert.Equal(PreDispatchExpression.All, PreDispatchExpression.Evaluate(expression, 2));
        }

        [Theory]
        [InlineData("0", 2)]
        [InlineData("n_jobs-5", 2)]
        [InlineData("n_jobs-2", 2)]
        [InlineData("-3", 2)]
        [InlineData("1//2", 2)]
        public void RefusesAResultBelowOne(string expression, int nJobs)
        {
            var ex = Assert.Throws<FormatException>(() => PreDispatchExpression.Evaluate(expression, nJobs));
            Assert.Contains("must come to at least 1", ex.Message);
        }

        [Theory]
        [InlineData("0")]
        [InlineData("-1")]
        [InlineData("2-3")]
        public void ValidateRefusesAConstantBelowOne(string expression)
        {
            Assert.Throws<FormatException>(() => PreDispatchExpression.Validate(expression));
        }

        [Fact]
        public void ValidateLeavesAnNJobsExpressionToTheCall()
        {
            // 'n_jobs-2' is fine at -NJobs 8 and refused at -NJobs 2: only the call knows n_jobs.
            PreDispatchExpression.Validate("n_jobs-2");
            Assert.Equal(6, PreDispatchExpression.Evaluate("n_jobs-2", 8));
        }

        [Fact]
        public void RoundsDownAFraction()
        {
            Assert.Equal(1, PreDispatchExpression.Evaluate("3/2", 2));
        }

        [Theory]
        [InlineData("rm")]
        [InlineData("rm -rf /")]
        [InlineData("2**")]
        [InlineData("2**n_jobs")]
        [InlineData("")]
        [InlineData("   ")]
        [InlineData("1/0")]
        [InlineData("1//0")]
        [InlineData("(n_jobs+1")]
        [InlineData("n_jobs+1)")]
        [InlineData("((2)")]
        [InlineData("2*")]
        [InlineData("$(Get-Date)")]
        [InlineData("n_jobs; 1")]
        public void RejectsAnythingElseWithFormatException(string expression)
        {
            var ex = Assert.Throws<FormatException>(() => PreDispatchExpression.Evaluate(expression, 2));
            Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        }

        [Fact]
        public void ErrorMessageQuotesTheExpressionAndSaysWhatIsAllowed()
        {
            var ex = Assert.Throws<FormatException>(() => PreDispatchExpression.Evaluate("2**", 2));
            Assert.Contains("'2**'", ex.Message);
            Assert.Contains("n_jobs", ex.Message);
        }

        [Fact]
        public void NullIsRejected()
        {
            Assert.Throws<FormatException>(() => PreDispatchExpression.Evaluate(null, 2));
        }

        [Fact]
        public void ValidateChecksSyntaxOnly()
        {
            PreDispatchExpression.Validate("2*n_jobs");
            PreDispatchExpression.Validate("all");
            Assert.Throws<FormatException>(() => PreDispatchExpression.Validate("rm"));
        }
    }
}
