using System;
using System.Collections;
using JoblibPS.Caller;
using JoblibPS.Errors;

namespace JoblibPS.Engine
{
    /// <summary>
    /// Everything one Invoke-JoblibParallel call asks for. The Set methods hold the rules for the values a user types
    /// (-BatchSize, -PreDispatch, -TimeoutSeconds, -Retry, -RetryDelaySeconds): a value that breaks one is a
    /// terminating error with its stable id, thrown as <see cref="TerminatingErrorException"/>.
    /// </summary>
    internal sealed class RunRequest
    {
        public WorkerScript Script { get; set; }

        public object[] ArgumentList { get; set; } = Array.Empty<object>();

        public Hashtable UsingValues { get; set; } = new Hashtable();

        public string WorkingDirectory { get; set; }

        /// <summary>The values of <see cref="Driver.WorkerDriver.PreferenceNames"/>, in that order.</summary>
        public object[] Preferences { get; set; }

        public bool Ordered { get; set; } = true;

        /// <summary>True for Invoke-JoblibParallel -AsJob (see <see cref="ParallelCall.InJob"/>).</summary>
        public bool InJob { get; set; }

        /// <summary>True when the caller shows progress: the blocks' Write-Progress records are then forwarded (see <see cref="ProgressRelay"/>); else workers do not even make them.</summary>
        public bool ForwardProgress { get; set; }

        public TimeSpan? Timeout { get; set; }

        /// <summary>A fixed batch size, or null for auto.</summary>
        public int? FixedBatchSize { get; set; }

        public string BatchSizeText { get; set; } = "auto";

        public string PreDispatch { get; set; } = "2*n_jobs";

        /// <summary>What a failed item does to the call (-OnError).</summary>
        public OnErrorAction OnError { get; set; } = OnErrorAction.Abort;

        /// <summary>How many times a failed item is tried again (-Retry).</summary>
        public int Retry { get; set; }

        /// <summary>The wait before the first retry (-RetryDelaySeconds), doubling per further attempt.</summary>
        public TimeSpan RetryDelay { get; set; }

        /// <summary>The call's checkpoint (-Checkpoint), planned (every item's key known), or null; the run closes it when it ends.</summary>
        public Checkpoint.CallCheckpoint Checkpoint { get; set; }

        /// <summary>What every worker gets before its first item of the call (functions, modules, variables, initialization), or null.</summary>
        public WorkerSetup Setup { get; set; }

        /// <summary>
        /// The task of one batch of this call: the items of <paramref name="span"/> with what every batch of the call
        /// carries, the places an earlier attempt ran in (a retry's), and the backend nested calls use.
        /// </summary>
        public BatchTask TaskFor(Span span, int batchIndex, object callToken, NestedBackend nested)
        {
            return new BatchTask(Script, span.Items, span.First, batchIndex, ArgumentList, UsingValues, WorkingDirectory, Preferences, Timeout)
            {
                CallToken = callToken,
                Setup = Setup,
                Avoid = span.Avoid,
                NestedBackend = nested?.Backend,
                NestedNJobs = nested?.NJobs,
            };
        }

        /// <summary>-BatchSize: 'auto' or a positive integer (JoblibInvalidBatchSize otherwise).</summary>
        public void SetBatchSize(string text)
        {
            BatchSizeText = text;
            FixedBatchSize = null;
            if (text.Equals("auto", StringComparison.OrdinalIgnoreCase)) return;
            if (!int.TryParse(text, out int size) || size < 1)
            {
                throw Invalid(ErrorIds.InvalidBatchSize, $"-BatchSize '{text}' is not valid. Give 'auto' or a positive integer.", text);
            }
            FixedBatchSize = size;
        }

        /// <summary>-PreDispatch: joblib's expression (JoblibInvalidPreDispatch otherwise; see <see cref="PreDispatchExpression"/>).</summary>
        public void SetPreDispatch(string text)
        {
            try
            {
                PreDispatchExpression.Validate(text);
            }
            catch (FormatException ex)
            {
                throw Invalid(ErrorIds.InvalidPreDispatch, ex.Message, text);
            }
            PreDispatch = text;
        }

        /// <summary>-TimeoutSeconds (JoblibInvalidTimeout outside the range <see cref="ItemTimeout"/> takes).</summary>
        public void SetTimeout(double seconds)
        {
            Timeout = ItemTimeout.FromSeconds(seconds, out string error);
            if (error != null) throw Invalid(ErrorIds.InvalidTimeout, error, seconds);
        }

        /// <summary>-Retry and -RetryDelaySeconds (JoblibInvalidRetry for a negative count or a delay that is not a usable number of seconds).</summary>
        public void SetRetry(int retry, double delaySeconds)
        {
            if (retry < 0) throw Invalid(ErrorIds.InvalidRetry, $"-Retry {retry} is not valid. Give 0 (no retries) or a positive number of retries.", retry);
            // Each further retry waits twice as long: the longest delay must still fit in a TimeSpan after 10 doublings.
            if (!(delaySeconds >= 0) || double.IsInfinity(delaySeconds) || delaySeconds > TimeSpan.MaxValue.TotalSeconds / 1024)
            {
                throw Invalid(ErrorIds.InvalidRetry, $"-RetryDelaySeconds {delaySeconds} is not valid. Give 0 (retry at once) or a positive number of seconds.", delaySeconds);
            }
            Retry = retry;
            RetryDelay = TimeSpan.FromSeconds(delaySeconds);
        }

        private static TerminatingErrorException Invalid(string errorId, string message, object target)
        {
            return new TerminatingErrorException(ErrorRecords.Argument(errorId, message, target));
        }
    }
}
