using System;
using System.Collections;
using JoblibPS.Execution;

namespace JoblibPS.Dispatch
{
    /// <summary>Everything one Invoke-JoblibParallel call asks for, validated by the cmdlet.</summary>
    internal sealed class RunRequest
    {
        public WorkerScript Script { get; set; }

        public object[] ArgumentList { get; set; } = Array.Empty<object>();

        public Hashtable UsingValues { get; set; } = new Hashtable();

        public string WorkingDirectory { get; set; }

        /// <summary>The values of <see cref="WorkerDriver.PreferenceNames"/>, in that order.</summary>
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

        /// <summary>What every worker gets before its first item of the call (functions, modules, variables, initialization), or null.</summary>
        public WorkerSetup Setup { get; set; }
    }
}
