using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace JoblibPS.Driver
{
    /// <summary>
    /// Where each item's records begin in the output of a batch run in a runspace of this process: the driver calls
    /// <see cref="Next"/> as an item starts and <see cref="End"/> when the batch ran to its end.
    /// </summary>
    /// <remarks>
    /// In-process only: the driver's pipeline writes to <c>output</c> synchronously on the thread that calls these
    /// methods, so the count read at the start of an item is exactly where its records begin. This replaces the
    /// marker record the driver writes before each item in another process (see <see cref="WorkerDriver"/>): a
    /// method call costs a fraction of a record written to the output collection, and the batch's records then hold
    /// only what the user's block wrote (measured with bench/Invoke-Benchmark.ps1, W1).
    /// PowerShell calls its public methods from the driver script (a type need not be public for that).
    /// </remarks>
    internal sealed class ItemLog
    {
        private readonly PSDataCollection<PSObject> _output;
        private readonly BatchTask _task;
        private readonly List<int> _starts;

        internal ItemLog(PSDataCollection<PSObject> output, BatchTask task)
        {
            _output = output;
            _task = task;
            _starts = new List<int>(task.Count);
        }

        /// <summary>The index in the output at which each started item's records begin.</summary>
        internal List<int> Starts => _starts;

        /// <summary>True once the driver reached the end of the batch (an item that called <c>exit</c> never gets there).</summary>
        internal bool Ended { get; private set; }

        /// <summary>
        /// Called by the driver as an item starts. Returns the call-depth overflow the previous item wrote, or null:
        /// the driver then throws it, so the batch fails at that item (see <see cref="Overflow"/>).
        /// </summary>
        public ErrorRecord Next()
        {
            ErrorRecord overflow = Overflow();
            if (overflow != null) return overflow;
            _starts.Add(_output.Count);
            if (_task.ItemTimeout.HasValue) _task.MarkProgress();
            return null;
        }

        /// <summary>Called by the driver when every item ran; returns the last item's call-depth overflow, or null (see <see cref="Next"/>).</summary>
        public ErrorRecord End()
        {
            ErrorRecord overflow = Overflow();
            if (overflow == null) Ended = true;
            return overflow;
        }

        /// <summary>
        /// The call-depth overflow among the current item's records, or null. PowerShell makes it terminating (a
        /// plain loop ends there), except under the driver's stream merge (<c>*&gt;&amp;1</c>), where it is written
        /// as a record from the deepest frame (and in a worker process once more from each of the frames that
        /// overflow again writing it) while the item and the batch go on: it fails the item instead, once, with
        /// that item as the target.
        /// </summary>
        private ErrorRecord Overflow()
        {
            int from = _starts.Count == 0 ? _output.Count : _starts[_starts.Count - 1];
            for (int i = from; i < _output.Count; i++)
            {
                if (_output[i]?.BaseObject is ErrorRecord record && IsOverflow(record)) return record;
            }
            return null;
        }

        /// <summary>True for PowerShell's call-depth overflow.</summary>
        internal static bool IsOverflow(ErrorRecord record) => record.FullyQualifiedErrorId == "CallDepthOverflow";
    }
}
