using System;

namespace JoblibPS
{
    /// <summary>joblib's rules for n_jobs, in one place.</summary>
    public static class NJobs
    {
        /// <summary>The processor count the rules count with.</summary>
        public static int CpuCount => Environment.ProcessorCount;

        /// <summary>
        /// joblib's effective_n_jobs for backends that run on the machine's CPUs: a positive value as is, -1 for
        /// every CPU, -k for all but k-1 (at least 1). 0 is rejected by the engine before this is reached.
        /// </summary>
        public static int Resolve(int nJobs)
        {
            if (nJobs == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(nJobs), "NJobs 0 has no meaning: give a positive number of jobs, or -1 for all CPUs.");
            }
            return nJobs < 0 ? Math.Max(CpuCount + 1 + nJobs, 1) : nJobs;
        }
    }
}
