using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using JoblibPS.Errors;
using JoblibPS.Output;

namespace JoblibPS.Engine
{
    /// <summary>
    /// Where an item that ended its batch early goes (it failed, timed out, called exit, or its worker died): it runs
    /// again (-Retry), or is reported in its place and the call goes on (-OnError Continue), or it is the call's
    /// failure. The items before it are written from the batch's result; the items after it, and any before it whose
    /// output a dying worker took with it, run again as their own batches. Keeps the call's failure: the earliest in
    /// ordered output. Pipeline thread only.
    /// </summary>
    internal sealed class FailureRouter
    {
        private readonly RunRequest _request;
        private readonly FailurePolicy _policy;
        private readonly OutputOrder _output;
        private readonly RetryQueue _retries;
        private readonly BackendSession _session;
        private readonly IPipelineWriter _writer;
        private readonly Stopwatch _clock;
        private readonly Action<Span> _submitNow;

        /// <summary>
        /// The router of one call, over its parts: the output order it splits spans in, the retry queue it adds to,
        /// the session that names a backend's violations, the writer for retry notes and the engine's clock; and
        /// <paramref name="submitNow"/>, which submits a span at once (items a dying worker took the output of, which
        /// the failing call waits for).
        /// </summary>
        public FailureRouter(RunRequest request, FailurePolicy policy, OutputOrder output, RetryQueue retries, BackendSession session, IPipelineWriter writer, Stopwatch clock, Action<Span> submitNow)
        {
            _request = request;
            _policy = policy;
            _output = output;
            _retries = retries;
            _session = session;
            _writer = writer;
            _clock = clock;
            _submitNow = submitNow;
        }

        /// <summary>The failure that ends the call, or null.</summary>
        public CallFailure Recorded { get; private set; }

        /// <summary>Records a failure of the call; in ordered output an earlier one replaces a later one.</summary>
        public void Record(CallFailure failure)
        {
            if (Recorded == null || (_request.Ordered && failure.ItemIndex < Recorded.ItemIndex)) Recorded = failure;
        }

        /// <summary>Records a failure of the backend itself (a contract violation) at the span's first item.</summary>
        public void Record(Span span, ErrorRecord record) => Record(new CallFailure(span, record, span.First));

        /// <summary>
        /// A batch came back short of its end (not stopped by the call). While the call already fails, an item before
        /// the failing one still goes through the policy (in ordered output it is written before the error, so its
        /// retry still runs and an earlier final failure becomes the call's error); one after it only counts as a
        /// further failure.
        /// </summary>
        public void Route(Span span, BatchResult result)
        {
            if (Recorded == null || (_request.Ordered && span.First < Recorded.Span.First)) Handle(span, result);
            else if (result.Outcome != BatchOutcome.Stopped)
            {
                int failed = FailedIndex(span, result);
                Record(new CallFailure(span, ErrorOf(result, span.Items[failed]), span.First + failed));
            }
        }

        private void Handle(Span span, BatchResult result)
        {
            if (result.Outcome == BatchOutcome.Stopped)
            {
                Record(span, _session.StoppedUnasked(result.Task));
                return;
            }
            int failed = FailedIndex(span, result);
            ErrorRecord error = ErrorOf(result, span.Items[failed]);
            bool fatal = ErrorRecords.IsInitializationFailure(result.Error);
            bool retry = !fatal && _policy.ShouldRetry(span.Attempt);
            if (!retry && (fatal || _policy.OnError == OnErrorAction.Abort))
            {
                FailCallAt(span, result, failed, fatal ? error : _policy.Final(error, span.Attempt, result.Outcome == BatchOutcome.TimedOut), fatal);
                return;
            }
            int kept = Math.Min(result.CompleteItems, failed);
            var parts = new List<Span>();
            if (kept > 0) parts.Add(Kept(span, kept, result));
            // The worker lost these items' output (it died): they run again.
            if (failed > kept) parts.Add(RunAgainNow(span, kept, failed - kept));
            var failedSpan = new Span(span.First + failed, 1, new[] { span.Items[failed] }) { Attempt = span.Attempt };
            if (retry)
            {
                TimeSpan delay = _policy.RetryAfter(span.Attempt);
                failedSpan.Attempt = span.Attempt + 1;
                failedSpan.Avoid = result.Task.RanOn == null ? null : (span.Avoid ?? Array.Empty<string>()).Concat(new[] { result.Task.RanOn }).ToArray();
                failedSpan.DueTicks = _clock.ElapsedTicks + (long)(delay.TotalSeconds * Stopwatch.Frequency);
                _writer.WriteVerbose(RetryMessage(failedSpan.First, span.Items[failed], error.Exception?.Message, span.Attempt, delay));
                _retries.Add(failedSpan);
            }
            else
            {
                failedSpan.FinalRecords = result.StartedItems > failed ? result.RecordsOf(failed).ToList() : null;
                failedSpan.FinalError = _policy.Final(error, span.Attempt, result.Outcome == BatchOutcome.TimedOut);
            }
            parts.Add(failedSpan);
            if (failed + 1 < span.Count) parts.Add(RunAgainNow(span, failed + 1, span.Count - failed - 1));
            _output.Split(span, parts);
        }

        /// <summary>The item <paramref name="failed"/> of the span fails the call with <paramref name="final"/>.</summary>
        private void FailCallAt(Span span, BatchResult result, int failed, ErrorRecord final, bool fatal)
        {
            int kept = Math.Min(result.CompleteItems, failed);
            if (kept < failed && _request.Ordered && !fatal && (Recorded == null || Recorded.ItemIndex > span.First + failed))
            {
                // The worker died and took the output of items that had finished (at most its last 50 ms, see
                // WorkerDriver): they run again now, and the failing call waits for them (ParallelRun.FailCall), so
                // every item before the failing one is written once, in order.
                Span lostSpan = Slice(span, kept, failed - kept);
                var failing = new Span(span.First + failed, 1, new[] { span.Items[failed] }) { Attempt = span.Attempt };
                var covered = new List<Span>();
                if (kept > 0) covered.Add(Kept(span, kept, result));
                covered.Add(lostSpan);
                covered.Add(failing);
                if (failed + 1 < span.Count) covered.Add(Slice(span, failed + 1, span.Count - failed - 1));
                _output.Split(span, covered);
                Record(new CallFailure(failing, final, failing.First));
                _submitNow(lostSpan);
                return;
            }
            Record(new CallFailure(span, final, span.First + failed));
        }

        /// <summary>
        /// The verbose line for an item that is tried again. Items are numbered from 1 in messages, as the user counts
        /// them (<paramref name="itemIndex"/> is 0-based); the error's own text gets a full stop when it has none.
        /// </summary>
        internal static string RetryMessage(long itemIndex, object item, string error, int attempt, TimeSpan delay)
        {
            string reason = (error ?? string.Empty).TrimEnd();
            if (reason.Length > 0 && ".!?".IndexOf(reason[reason.Length - 1]) < 0) reason += ".";
            return $"Item {itemIndex + 1} of the call ({Describe.Item(item)}) failed on attempt {attempt}: {reason} Trying again{(delay > TimeSpan.Zero ? $" in {delay.TotalSeconds:0.###} s" : string.Empty)}.";
        }

        private static int FailedIndex(Span span, BatchResult result) => Math.Max(0, Math.Min(span.Count - 1, result.FailedItem));

        /// <summary>Items <paramref name="offset"/> on of a span, as a span that runs again now (first attempt: they did not fail).</summary>
        private Span RunAgainNow(Span span, int offset, int count)
        {
            Span part = Slice(span, offset, count);
            _retries.AddNow(part);
            return part;
        }

        /// <summary><paramref name="count"/> items of a span from <paramref name="offset"/> on, as a span of their own (first attempt).</summary>
        private static Span Slice(Span span, int offset, int count)
        {
            return new Span(span.First + offset, count, span.Items.Skip(offset).Take(count).ToArray());
        }

        /// <summary>The first <paramref name="count"/> items of a span whose output <paramref name="result"/> holds whole: written from it, not run again.</summary>
        private static Span Kept(Span span, int count, BatchResult result)
        {
            Span part = Slice(span, 0, count);
            part.Result = result;
            part.WriteCount = count;
            return part;
        }

        private ErrorRecord ErrorOf(BatchResult result, object item)
        {
            switch (result.Outcome)
            {
                case BatchOutcome.Failed:
                    return ErrorRecords.TaskFailed(result.Error, item);
                case BatchOutcome.TimedOut:
                    return ErrorRecords.TaskTimeout(item, _request.Timeout ?? TimeSpan.Zero);
                default:
                    return ErrorRecords.TaskExited(item);
            }
        }
    }

    /// <summary>The failure that ends a call: the span it is in, its record, and the input index of the failing item.</summary>
    internal sealed class CallFailure
    {
        public CallFailure(Span span, ErrorRecord record, long itemIndex)
        {
            Span = span;
            Record = record;
            ItemIndex = itemIndex;
        }

        public Span Span { get; }

        public ErrorRecord Record { get; }

        public long ItemIndex { get; }
    }
}
