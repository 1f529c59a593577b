using System;
using System.Collections;
using System.Management.Automation;
using Xunit;
using JoblibPS.Errors;

namespace JoblibPS.Tests.Errors
{
    /// <summary>
    /// Which exceptions from a backend's code are records it failed with on purpose (ErrorRecords.OwnRecordOf), and
    /// how $Error keeps one record per failure (DollarError). The script cases, made by a real throw in a
    /// PowerShell class, are in tests/Pester/Register-JoblibBackend.Tests.ps1.
    /// </summary>
    public class BackendErrorsTests
    {
        private sealed class CarriesRecord : Exception, IContainsErrorRecord
        {
            public CarriesRecord() : base("no host") { ErrorRecord = new ErrorRecord(this, "MyBackendNoHost", ErrorCategory.ConnectionError, null); }

            public ErrorRecord ErrorRecord { get; }
        }

        [Fact]
        public void ARecordMadeByDotNetCodeIsTheBackendsOwn()
        {
            var carrier = new CarriesRecord();
            Assert.Same(carrier.ErrorRecord, ErrorRecords.OwnRecordOf(carrier));
            var runtime = new RuntimeException("quota");
            Assert.Same(runtime.ErrorRecord, ErrorRecords.OwnRecordOf(runtime));
        }

        [Fact]
        public void AnExceptionWithoutARecordIsNot()
        {
            Assert.Null(ErrorRecords.OwnRecordOf(new InvalidOperationException("boom")));
            Assert.Null(ErrorRecords.OwnRecordOf(null));
        }

        [Fact]
        public void AThrowWhoseIdPowerShellMadeFromTheMessageIsNot()
        {
            // What `throw 'configure boom'` makes: the id is the message.
            var record = new ErrorRecord(new RuntimeException("configure boom"), "configure boom", ErrorCategory.OperationStopped, null);
            var exception = new ThrownRecord("configure boom", record) { WasThrownFromThrowStatement = true };
            Assert.Null(ErrorRecords.OwnRecordOf(exception));
        }

        [Fact]
        public void AThrownRecordWithAnIdOfItsOwnIs()
        {
            var record = new ErrorRecord(new Exception("no quota left"), "MyBackendQuota", ErrorCategory.QuotaExceeded, null);
            var exception = new ThrownRecord("no quota left", record) { WasThrownFromThrowStatement = true };
            Assert.Same(record, ErrorRecords.OwnRecordOf(exception));
        }

        // A RuntimeException with a record of its choosing, as PowerShell's throw statement makes one.
        private sealed class ThrownRecord : RuntimeException
        {
            private readonly ErrorRecord _record;

            public ThrownRecord(string message, ErrorRecord record) : base(message, record.Exception) { _record = record; }

            public override ErrorRecord ErrorRecord => _record;
        }

        [Fact]
        public void RemovesTheEntriesOfACauseAndLeavesTheRest()
        {
            var cause = new RuntimeException("factory boom");
            var wrapper = new MethodInvocationException("Exception calling \"Open\"", cause);
            var unrelated = new ErrorRecord(new Exception("earlier"), "Earlier", ErrorCategory.NotSpecified, null);
            var errors = new ArrayList
            {
                new ErrorRecord(wrapper, "TerminatingErrorException", ErrorCategory.NotSpecified, null),
                PSObject.AsPSObject(cause.ErrorRecord),
                unrelated,
            };
            int removed = DollarError.RemoveEntriesOf(errors, new InvalidOperationException("The factory of backend 'x' threw: factory boom", cause));
            Assert.Equal(2, removed);
            Assert.Single(errors);
            Assert.Same(unrelated, errors[0]);
        }

        [Fact]
        public void FindsTheCmdletsRecordUnderAStopPreference()
        {
            var cmdletError = new ErrorRecord(new ItemNotFoundException("Cannot find path"), "PathNotFound", ErrorCategory.ObjectNotFound, null);
            var stop = new StopsOn(cmdletError);
            var errors = new ArrayList { new ErrorRecord(cmdletError, cmdletError.Exception) };
            Assert.Equal(1, DollarError.RemoveEntriesOf(errors, stop));
        }

        // As ActionPreferenceStopException: carries the cmdlet's record, without its exception as the inner one.
        private sealed class StopsOn : Exception, IContainsErrorRecord
        {
            public StopsOn(ErrorRecord record) : base("The running command stopped") { ErrorRecord = record; }

            public ErrorRecord ErrorRecord { get; }
        }

        [Fact]
        public void LooksOnlyAtTheNewestEntries()
        {
            var cause = new InvalidOperationException("old");
            var errors = new ArrayList();
            for (int i = 0; i < 20; i++) errors.Add(new ErrorRecord(new Exception("newer " + i), "Newer", ErrorCategory.NotSpecified, null));
            errors.Add(new ErrorRecord(cause, "Old", ErrorCategory.NotSpecified, null));
            Assert.Equal(0, DollarError.RemoveEntriesOf(errors, cause));
            Assert.Equal(21, errors.Count);
        }
    }
}
