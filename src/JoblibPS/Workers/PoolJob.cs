using System;
using System.Collections.Generic;
using System.Threading;

namespace JoblibPS.Workers
{
    /// <summary>One queued or running batch, with the backend instance whose call submitted it. Changed under <see cref="PoolState.Gate"/>.</summary>
    internal sealed class PoolJob
    {
        public PoolJob(BatchFuture future, object owner)
        {
            Future = future;
            Owner = owner;
        }

        public BatchFuture Future { get; }

        public object Owner { get; }

        /// <summary>When the batch was handed to a worker (UTC).</summary>
        public DateTime Started { get; set; } = DateTime.UtcNow;

        /// <summary>How many of its runs were lost.</summary>
        public int Attempts { get; set; }

        /// <summary>The places (see <see cref="Worker.Place"/>) it ran in and lost its worker, in order.</summary>
        public List<string> LostIn { get; } = new List<string>();

        /// <summary>The places the engine's earlier attempts of a retried item ran in (<see cref="BatchTask.Avoid"/>): avoided only while another place has an idle worker.</summary>
        public List<string> Prefers { get; } = new List<string>();

        /// <summary>Set by an abort: complete as stopped, never run again.</summary>
        public bool Aborted { get; set; }

        /// <summary>The timer that fails a batch lost too often, kept here so it is not collected before it fires.</summary>
        public Timer Verdict { get; set; }

        /// <summary>Completes the batch's future (once: later calls are ignored). Lock not held.</summary>
        public void Complete(BatchResult result) => Future.Complete(result);

        public void CompleteStopped() => Future.Complete(BatchResult.ForStopped(Future.Task, Started));
    }
}
