using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using JoblibPS.Caller;
using JoblibPS.Runspaces;

namespace JoblibPS.Tests.Contract
{
    /// <summary>
    /// BatchTask as a backend that knows nothing about PowerShell uses it: <c>task.Invoke()</c> (or the task as a
    /// <c>Func&lt;object&gt;</c>) on a thread-pool thread, with a runspace borrowed from the module's warm cache.
    /// </summary>
    [Collection(PowerShellCollection.Name)]
    public sealed class BatchTaskTests : IDisposable
    {
        private static readonly object[] Preferences = { "Continue", "Continue", "SilentlyContinue", "SilentlyContinue", "SilentlyContinue", false, "High" };

        private static BatchTask NewTask(string script, params object[] items)
        {
            return new BatchTask(WorkerScript.From(ScriptBlock.Create(script)), items, 0, 0, null, null, null, Preferences, null);
        }

        private static object[] RecordsOf(BatchResult result, int item) => result.RecordsOf(item).Select(r => r.BaseObject).ToArray();

        public void Dispose()
        {
            int rented = LocalRunspaceCache.RentedCount;
            Assert.True(rented == 0, $"{rented} runspace(s) are still rented after the task ended.");
        }

        [Fact]
        public async Task InvokeOnAThreadPoolThreadReturnsACompletedResult()
        {
            BatchTask task = NewTask("$_ * 2", 1, 2, 3);
            int callerThread = Environment.CurrentManagedThreadId;
            int workerThread = 0;
            object raw = await Task.Run(() =>
            {
                workerThread = Environment.CurrentManagedThreadId;
                Assert.True(Thread.CurrentThread.IsThreadPoolThread);
                return task.Invoke();
            });

            var result = Assert.IsType<BatchResult>(raw);
            Assert.Same(task, result.Task);
            Assert.Equal(BatchOutcome.Completed, result.Outcome);
            Assert.Equal(-1, result.FailedItem);
            Assert.Null(result.Error);
            Assert.Equal(3, result.StartedItems);
            Assert.Equal(3, result.CompleteItems);
            Assert.Equal(new object[] { 2 }, RecordsOf(result, 0));
            Assert.Equal(new object[] { 4 }, RecordsOf(result, 1));
            Assert.Equal(new object[] { 6 }, RecordsOf(result, 2));
            Assert.True(result.Duration >= TimeSpan.Zero);
        }

        [Fact]
        public async Task RecordsKeepEachItemsOutputAndStreamsInTheOrderWritten()
        {
            BatchTask task = NewTask("Write-Warning \"w$_\"; $_; $_ * 10", 1, 2);
            var result = (BatchResult)await Task.Run(() => task.Invoke());

            Assert.Equal(BatchOutcome.Completed, result.Outcome);
            object[] first = RecordsOf(result, 0);
            Assert.Equal(3, first.Length);
            Assert.Equal("w1", Assert.IsType<WarningRecord>(first[0]).Message);
            Assert.Equal(1, first[1]);
            Assert.Equal(10, first[2]);
            object[] second = RecordsOf(result, 1);
            Assert.Equal("w2", Assert.IsType<WarningRecord>(second[0]).Message);
            Assert.Equal(new object[] { 2, 20 }, second.Skip(1).ToArray());
        }

        [Fact]
        public async Task ThePerItemFormBindsTheItemToParam()
        {
            BatchTask task = NewTask("param($n) $n + 100", 1, 2);
            var result = (BatchResult)await Task.Run(() => task.Invoke());
            Assert.Equal(BatchOutcome.Completed, result.Outcome);
            Assert.Equal(new object[] { 101 }, RecordsOf(result, 0));
            Assert.Equal(new object[] { 102 }, RecordsOf(result, 1));
        }

        [Fact]
        public async Task AThrowingItemFailsTheBatchWithoutAnException()
        {
            BatchTask task = NewTask("if ($_ -eq 2) { throw 'boom' } $_", 1, 2, 3);
            var result = (BatchResult)await Task.Run(() => task.Invoke());

            Assert.Equal(BatchOutcome.Failed, result.Outcome);
            Assert.Equal(1, result.FailedItem);
            Assert.Equal(1, result.CompleteItems);
            Assert.Equal(new object[] { 1 }, RecordsOf(result, 0));
            Assert.NotNull(result.Error);
            Assert.Equal("boom", result.Error.Exception.Message);
        }

        [Fact]
        public async Task AnItemThatCallsExitEndsTheBatchAsExited()
        {
            BatchTask task = NewTask("if ($_ -eq 2) { exit }; $_", 1, 2, 3);
            var result = (BatchResult)await Task.Run(() => task.Invoke());
            Assert.Equal(BatchOutcome.Exited, result.Outcome);
            Assert.Equal(1, result.FailedItem);
            Assert.Equal(1, result.CompleteItems);
        }

        [Fact]
        public async Task TheLastItemOfABatchCallingExitIsExitedToo()
        {
            BatchTask task = NewTask("if ($_ -eq 2) { exit }; $_", 1, 2);
            var result = (BatchResult)await Task.Run(() => task.Invoke());
            Assert.Equal(BatchOutcome.Exited, result.Outcome);
            Assert.Equal(1, result.FailedItem);
            Assert.Equal(1, result.CompleteItems);
        }

        /// <summary>
        /// A nested sequential call runs its own driver in the worker's runspace; the outer batch's later items must
        /// still be told apart (the inner driver's variables must not shadow the outer driver's).
        /// </summary>
        [Fact]
        public async Task ANestedSequentialCallDoesNotDisturbTheRestOfTheBatch()
        {
            BatchTask task = NewTask("(1..2 | Invoke-JoblibParallel { $_ * 10 } -Backend sequential -BatchSize 1) -join '+'", 1, 2, 3);
            var result = (BatchResult)await Task.Run(() => task.Invoke());
            Assert.True(result.Outcome == BatchOutcome.Completed, $"Outcome {result.Outcome} at item {result.FailedItem}: {result.Error?.Exception?.Message}");
            Assert.Equal(new object[] { "10+20" }, RecordsOf(result, 0));
            Assert.Equal(new object[] { "10+20" }, RecordsOf(result, 1));
            Assert.Equal(new object[] { "10+20" }, RecordsOf(result, 2));
        }

        [Fact]
        public async Task ConvertsToFuncOfObject()
        {
            BatchTask task = NewTask("$_ + 1", 41);
            Func<object> run = task;
            Assert.NotNull(run);
            object raw = await Task.Run(run);
            var result = Assert.IsType<BatchResult>(raw);
            Assert.Equal(BatchOutcome.Completed, result.Outcome);
            Assert.Equal(new object[] { 42 }, RecordsOf(result, 0));
        }

        [Fact]
        public void ANullTaskConvertsToNull()
        {
            Func<object> run = (BatchTask)null;
            Assert.Null(run);
        }
    }
}
