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
        public string[] Preferences { get; set; }

        public bool Ordered { get; set; } = true;

        public TimeSpan? Timeout { get; set; }

        /// <summary>A fixed batch size, or null for auto.</summary>
        public int? FixedBatchSize { get; set; }

        public string BatchSizeText { get; set; } = "auto";

        public string PreDispatch { get; set; } = "2*n_jobs";
    }
}
