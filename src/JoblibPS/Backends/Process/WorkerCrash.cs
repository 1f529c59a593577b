using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.InteropServices;
using JoblibPS.Errors;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// A worker process ended while it ran a batch (killed, out of memory, a stack overflow, <c>[Environment]::Exit</c>):
    /// joblib's TerminatedWorkerError. Its error id is <see cref="ErrorIds.WorkerCrashed"/>; the item is the target.
    /// </summary>
    internal sealed class WorkerCrashedException : Exception, IContainsErrorRecord
    {
        internal WorkerCrashedException(string message, int? exitCode, int processId, object item)
            : base(message)
        {
            ExitCode = exitCode;
            ProcessId = processId;
            ErrorRecord = new ErrorRecord(this, ErrorIds.WorkerCrashed, ErrorCategory.OperationStopped, item);
        }

        /// <summary>The worker's exit code (on Unix, 128 + the signal number for a process killed by a signal); null when unknown.</summary>
        public int? ExitCode { get; }

        /// <summary>The worker's process id.</summary>
        public int ProcessId { get; }

        /// <summary>The record the engine reports.</summary>
        public ErrorRecord ErrorRecord { get; }
    }

    /// <summary>A worker process could not start (a wrong PwshPath, a pwsh that fails at start-up, JoblibPS failing to import there, a signal that ended it).</summary>
    internal sealed class WorkerStartException : Exception, IContainsErrorRecord
    {
        internal WorkerStartException(string backendName, string pwshPath, Exception inner)
            : base(Describe(backendName, pwshPath, inner), Errors.Describe.Innermost(inner))
        {
            ErrorRecord = new ErrorRecord(this, ErrorIds.WorkerStartFailed, ErrorCategory.ResourceUnavailable, pwshPath);
        }

        /// <summary>The record the engine reports.</summary>
        public ErrorRecord ErrorRecord { get; }

        private static string Describe(string backendName, string pwshPath, Exception inner)
        {
            if (inner is WorkerExitedException exited)
            {
                // The pwsh started: the path is right, and no import failed. Something ended it from outside (or it ran out of memory).
                return $"A worker process of backend '{backendName}' (pid {exited.ProcessId}) ended while it started: {WorkerCrash.DescribeExit(exited.ExitCode)}. " +
                    (WorkerCrash.IsSignal(exited.ExitCode)
                        ? "Something outside JoblibPS sent it that signal (kill, a service manager, the out-of-memory killer, a Ctrl+C sent to its process group). Run the call again: later calls start fresh workers."
                        : "Run the call again; if this repeats, start that pwsh by hand ('" + pwshPath + "' -NoProfile) to see why it exits.");
            }
            return $"A worker process of backend '{backendName}' could not start ('{pwshPath}'): {Errors.Describe.Innermost(inner).Message} Check the backend argument PwshPath and that JoblibPS imports in that pwsh.";
        }
    }

    /// <summary>A worker's process ended before the worker was ready (see PwshWorker.Start); the pool reports it as a <see cref="WorkerStartException"/>.</summary>
    internal sealed class WorkerExitedException : Exception
    {
        public WorkerExitedException(int processId, int? exitCode)
            : base($"The worker process (pid {processId}) ended while it started: {WorkerCrash.DescribeExit(exitCode)}.")
        {
            ProcessId = processId;
            ExitCode = exitCode;
        }

        public int ProcessId { get; }

        public int? ExitCode { get; }
    }

    /// <summary>Builds the result of a batch whose worker died.</summary>
    internal static class WorkerCrash
    {
        /// <summary>
        /// <paramref name="received"/>: the chunks the worker sent before it died; the items whose records all arrived
        /// are kept (written before the error, or with -OnError Continue), and the engine runs again those that
        /// finished but whose records died with the worker.
        /// </summary>
        public static BatchResult Result(string backendName, BatchTask task, PwshWorker worker, DateTime started, int runningItem = -1, IEnumerable<PSObject> received = null)
        {
            int? exitCode = worker.ExitCode;
            int index = runningItem >= 0 && runningItem < task.Count ? runningItem : 0;
            object item = task.Count > 0 ? task.Items[index] : null;
            string what;
            if (task.Count == 1 || runningItem >= 0)
            {
                what = $"item {task.FirstItemIndex + index + 1} of the call ({Describe.Item(item)})";
            }
            else
            {
                what = $"a batch of {task.Count} items (items {task.FirstItemIndex + 1} to {task.FirstItemIndex + task.Count} of the call, the first {Describe.Item(item)})";
            }
            string message =
                $"A worker process of backend '{backendName}' (pid {worker.ProcessId}) ended while it ran {what}: {DescribeExit(exitCode)}. " +
                "The process was killed, ran out of memory, overflowed its stack, or called [Environment]::Exit. The call was stopped; later calls get a fresh worker.";
            var crash = new WorkerCrashedException(message, exitCode, worker.ProcessId, item);
            return BatchResult.ForWorkerCrash(task, index, crash.ErrorRecord, DateTime.UtcNow - started, runningItem >= 0 ? received : null);
        }

        /// <summary>
        /// "exit code 3"; for a process killed by a signal on Unix (exit code 128 + N), "killed by signal SIGINT
        /// (exit code 130)"; "exit code unknown" when there is none.
        /// </summary>
        internal static string DescribeExit(int? exitCode)
        {
            if (!exitCode.HasValue) return "exit code unknown";
            int code = exitCode.Value;
            string text = "exit code " + code.ToString(CultureInfo.InvariantCulture);
            if (!IsSignal(exitCode)) return text;
            int signal = code - 128;
            string name = SignalName(signal);
            return name == null
                ? $"killed by signal {signal} ({text})"
                : $"killed by signal {name} ({text}{SignalMeaning(signal)})";
        }

        /// <summary>True for an exit code that says a signal killed the process (Unix: 128 + the signal number).</summary>
        internal static bool IsSignal(int? exitCode)
        {
            return exitCode.HasValue && !RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && exitCode.Value > 128 && exitCode.Value < 128 + 65;
        }

        private static string SignalMeaning(int signal)
        {
            return signal == 6 ? ": an abort, such as a stack overflow or a fatal runtime error" : string.Empty;
        }

        private static string SignalName(int signal)
        {
            switch (signal)
            {
                case 1: return "SIGHUP";
                case 2: return "SIGINT";
                case 3: return "SIGQUIT";
                case 6: return "SIGABRT";
                case 9: return "SIGKILL";
                case 11: return "SIGSEGV";
                case 15: return "SIGTERM";
                default: return null;
            }
        }
    }
}
