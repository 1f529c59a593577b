using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace JoblibPS.Execution
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

        /// <summary>Called by the driver as an item starts.</summary>
        public void Next()
        {
            _starts.Add(_output.Count);
            if (_task.ItemTimeout.HasValue) _task.MarkProgress();
        }

        /// <summary>Called by the driver when every item ran.</summary>
        public void End()
        {
            Ended = true;
        }
    }
}
