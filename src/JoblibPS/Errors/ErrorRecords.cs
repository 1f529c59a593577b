using System;
using System.Management.Automation;
using System.Reflection;
using JoblibPS.Backends;
using JoblibPS.Driver;

namespace JoblibPS.Errors
{
    /// <summary>Builds the ErrorRecords JoblibPS reports, so ids, categories and messages live in one place.</summary>
    internal static class ErrorRecords
    {
        // No public way: ErrorRecord has no setter for ScriptStackTrace, and the record must keep the worker's trace.
        internal static readonly FieldInfo ScriptStackTraceField =
            typeof(ErrorRecord).GetField("_scriptStackTrace", BindingFlags.Instance | BindingFlags.NonPublic);

        /// <summary>
        /// The ErrorRecord an exception from a worker invocation carries, or one made for it. Its Exception is the
        /// exception itself, not the ParentContainsErrorRecordException stand-in that PowerShell puts in the record of
        /// an exception that carries its own (so a transport failure keeps its type and ErrorCode).
        /// </summary>
        public static ErrorRecord FromWorkerException(Exception exception)
        {
            if (exception is IContainsErrorRecord container && container.ErrorRecord != null)
            {
                ErrorRecord carried = container.ErrorRecord;
                return carried.Exception is ParentContainsErrorRecordException ? new ErrorRecord(carried, exception) : carried;
            }
            return new ErrorRecord(exception, "JoblibWorkerException", ErrorCategory.NotSpecified, null);
        }

        /// <summary>An error for bad input the user can fix, with a stable id.</summary>
        public static ErrorRecord Argument(string errorId, string message, object target, ErrorCategory category = ErrorCategory.InvalidArgument)
        {
            return new ErrorRecord(new ArgumentException(message), errorId, category, target);
        }

        /// <summary>The error for a backend that could not be created by name (unknown name, module missing, bad arguments, failing factory).</summary>
        public static ErrorRecord BackendCreation(Exception exception, object target)
        {
            if (OwnRecordOf(Describe.Innermost(exception)) is ErrorRecord own) return own;
            ErrorRecord record = BackendCreationRecord(exception, target);
            SetScriptStackTrace(record, ScriptStackTraceOf(exception.InnerException));
            return record;
        }

        private static ErrorRecord BackendCreationRecord(Exception exception, object target)
        {
            switch (exception)
            {
                case System.Collections.Generic.KeyNotFoundException _:
                    return new ErrorRecord(new ArgumentException(exception.Message), ErrorIds.UnknownBackend, ErrorCategory.ObjectNotFound, target);
                case Config.UnsupportedOptionException _:
                    return new ErrorRecord(exception, ErrorIds.UnsupportedOption, ErrorCategory.InvalidOperation, target);
                case Backends.BackendContractException _:
                    return new ErrorRecord(exception, ErrorIds.BackendContract, ErrorCategory.InvalidResult, target);
                case ModuleMissingException _:
                    return new ErrorRecord(exception, ErrorIds.BackendModuleMissing, ErrorCategory.ResourceUnavailable, target);
                case ArgumentException _:
                    return new ErrorRecord(exception, ErrorIds.InvalidBackendArgument, ErrorCategory.InvalidArgument, target);
                default:
                    return new ErrorRecord(exception, ErrorIds.InvalidBackendArgument, ErrorCategory.InvalidOperation, target);
            }
        }

        /// <summary>
        /// An error naming a backend and the rule it broke. When <paramref name="inner"/> failed in script code (a
        /// PowerShell class's method, a script method), the record's script stack trace is that code's, so it points
        /// at the backend's line rather than at the caller's.
        /// </summary>
        public static ErrorRecord BackendContract(ParallelBackendBase backend, string rule, Exception inner = null)
        {
            string message = $"The backend '{backend}' broke the backend contract: {rule}";
            if (inner != null) message += $" ({Describe.Failure(inner)})";
            var record = new ErrorRecord(new InvalidOperationException(message, inner), ErrorIds.BackendContract, ErrorCategory.InvalidResult, backend);
            SetScriptStackTrace(record, ScriptStackTraceOf(inner));
            return record;
        }

        /// <summary>
        /// The ErrorRecord a backend's member or factory failed with on purpose, or null when the exception is a
        /// failure of its code. On purpose: an exception that carries an ErrorRecord (IContainsErrorRecord) made by
        /// .NET code (the built-in backends' exceptions, a C# backend's RuntimeException), or an ErrorRecord a script
        /// threw with an id of its own (<c>throw [ErrorRecord]::new($exception, 'MyBackendQuota', ...)</c>). A failure
        /// of its code: any other exception, and every record PowerShell made for a script error: <c>throw 'text'</c>
        /// and <c>throw $exception</c> (whose id PowerShell makes from the message), a runtime error (1/0, a method
        /// on $null) or a cmdlet's error under -ErrorAction Stop (both carry the script position they failed at).
        /// </summary>
        public static ErrorRecord OwnRecordOf(Exception exception)
        {
            if (!(exception is IContainsErrorRecord container) || container.ErrorRecord == null) return null;
            ErrorRecord record = container.ErrorRecord;
            if (!(exception is RuntimeException runtime)) return record;
            if (runtime.WasThrownFromThrowStatement)
            {
                bool madeUp = record.Exception == null || record.Exception is ParentContainsErrorRecordException
                    || string.Equals(ErrorId(record), record.Exception.Message, StringComparison.Ordinal);
                return madeUp ? null : record;
            }
            return record.InvocationInfo == null ? record : null;
        }

        /// <summary>The error for a script-block factory of backend <paramref name="name"/> that threw <paramref name="inner"/> (its cause), with the factory's script stack trace.</summary>
        public static Exception FactoryFailed(string name, Exception inner)
        {
            return new InvalidOperationException($"The factory of backend '{name}' threw: {inner.Message}", inner);
        }

        /// <summary>
        /// The terminating error for an item whose script threw: the original exception (from another process, of
        /// its original type where this process can make one: <see cref="RemoteExceptions"/>), the item as
        /// TargetObject, the worker's script stack trace (the driver's frames cut off) followed by the caller's own
        /// frames (as ForEach-Object's trace goes on to the script that called it), and the id <see cref="ErrorIds.TaskFailed"/>.
        /// </summary>
        public static ErrorRecord TaskFailed(ErrorRecord workerError, object item)
        {
            if (IsWorkerFailure(workerError))
            {
                // The worker itself failed (crashed, could not start), not the user's script: keep that error's id.
                return new ErrorRecord(workerError.Exception, ErrorId(workerError), workerError.CategoryInfo.Category, item ?? workerError.TargetObject);
            }
            var record = new ErrorRecord(RemoteExceptions.Rebuild(workerError.Exception), ErrorIds.TaskFailed, workerError.CategoryInfo.Category, item);
            if (workerError.ErrorDetails != null) record.ErrorDetails = workerError.ErrorDetails;
            SetScriptStackTrace(record, WithCallerFrames(UserFrames(workerError.ScriptStackTrace), CallerFrames()));
            return record;
        }

        /// <summary><paramref name="workerFrames"/> followed by <paramref name="callerFrames"/>, one frame a line; either may be empty.</summary>
        internal static string WithCallerFrames(string workerFrames, string callerFrames)
        {
            if (string.IsNullOrEmpty(callerFrames)) return workerFrames;
            if (string.IsNullOrEmpty(workerFrames)) return callerFrames;
            return workerFrames + Environment.NewLine + callerFrames;
        }

        /// <summary>
        /// The script frames of the caller's pipeline thread, as PowerShell writes a ScriptStackTrace
        /// (<c>at Get-Report, /path/report.ps1: line 7</c>), or null off a pipeline thread (a job's engine thread has
        /// no default runspace) or when there are none.
        /// </summary>
        private static string CallerFrames()
        {
            try
            {
                System.Collections.Generic.IEnumerable<CallStackFrame> frames = System.Management.Automation.Runspaces.Runspace.DefaultRunspace?.Debugger?.GetCallStack();
                if (frames == null) return null;
                return string.Join(Environment.NewLine, System.Linq.Enumerable.Select(frames, frame => frame.ToString()));
            }
            catch (Exception)
            {
                return null;
            }
        }

        public static ErrorRecord TaskTimeout(object item, TimeSpan timeout)
        {
            var exception = new TimeoutException(
                $"An item ran longer than the timeout of {timeout.TotalSeconds:0.###} s and was stopped. Raise -TimeoutSeconds, or make the item faster.");
            return new ErrorRecord(exception, ErrorIds.TaskTimeout, ErrorCategory.OperationTimeout, item);
        }

        public static ErrorRecord TaskExited(object item)
        {
            var exception = new InvalidOperationException(
                "The script block called 'exit' while processing an item, which would end the worker, not just the item. Use 'return' to end an item early.");
            return new ErrorRecord(exception, ErrorIds.TaskExited, ErrorCategory.InvalidOperation, item);
        }

        /// <summary>True when the record says a worker could not be prepared for the call: that ends the call whatever -OnError says.</summary>
        public static bool IsInitializationFailure(ErrorRecord record)
        {
            return record != null && ErrorId(record) == ErrorIds.InitializationFailed;
        }

        /// <summary>
        /// The error for a script block handed to workers (see <see cref="Caller.ScriptBlockValues"/>): <paramref name="what"/>
        /// names it ("$using:sb", "Input item 3", "-ArgumentList value 0 element [1]").
        /// </summary>
        public static ErrorRecord ScriptBlockCannotTravel(string what, object target)
        {
            var exception = new ArgumentException(
                $"{what} is a script block. A script block cannot go to a worker: it belongs to the runspace that created it (a worker thread would run it " +
                "against your session, a worker process would get only its text). Pass its text instead ($text = $sb.ToString(), or \"$sb\") and create " +
                "the block in the worker: & ([scriptblock]::Create($using:text)).");
            return new ErrorRecord(exception, ErrorIds.ScriptBlockCannotTravel, ErrorCategory.InvalidArgument, target);
        }

        private static bool IsWorkerFailure(ErrorRecord record)
        {
            string id = ErrorId(record);
            return id == ErrorIds.WorkerCrashed || id == ErrorIds.WorkerStartFailed || id == ErrorIds.ValueCannotTravel || id == ErrorIds.RemoteHostsLost
                || id == ErrorIds.InitializationFailed;
        }

        private static string ErrorId(ErrorRecord record)
        {
            string id = record.FullyQualifiedErrorId ?? string.Empty;
            int comma = id.IndexOf(',');
            return comma < 0 ? id : id.Substring(0, comma);
        }

        /// <summary>The part of a worker's script stack trace that belongs to the user's code.</summary>
        internal static string UserFrames(string scriptStackTrace)
        {
            if (string.IsNullOrEmpty(scriptStackTrace)) return scriptStackTrace;
            int cut = scriptStackTrace.IndexOf("at " + WorkerDriver.RunFunctionName + ",", StringComparison.Ordinal);
            if (cut < 0) return scriptStackTrace;
            return scriptStackTrace.Substring(0, cut).TrimEnd('\r', '\n').Replace("<ScriptBlock><Process>", "<ScriptBlock>");
        }

        /// <summary>The script stack trace of the record <paramref name="exception"/> (or one under it) carries, or null.</summary>
        private static string ScriptStackTraceOf(Exception exception)
        {
            for (Exception e = exception; e != null; e = e.InnerException)
            {
                if (e is IContainsErrorRecord container && !string.IsNullOrEmpty(container.ErrorRecord?.ScriptStackTrace)) return container.ErrorRecord.ScriptStackTrace;
            }
            return null;
        }

        private static void SetScriptStackTrace(ErrorRecord record, string trace)
        {
            if (ScriptStackTraceField != null)
            {
                ScriptStackTraceField.SetValue(record, trace);
            }
            else if (!string.IsNullOrEmpty(trace))
            {
                record.ErrorDetails = new ErrorDetails(record.Exception.Message) { RecommendedAction = "Worker stack trace:" + Environment.NewLine + trace };
            }
        }
    }
}
