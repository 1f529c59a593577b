using System;
using System.Collections.Generic;

namespace JoblibPS.Backends.Process
{
    /// <summary>Environment variables for worker processes.</summary>
    internal static class WorkerEnvironment
    {
        /// <summary>The variables that native thread pools read (joblib's list).</summary>
        public static readonly string[] ThreadLimitVariables =
        {
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS",
        };

        /// <summary>
        /// joblib's rule: the explicit limit if given; else a variable the caller's environment sets keeps its value
        /// (and is left out here); else max(CPU count / nJobs, 1).
        /// </summary>
        public static IDictionary<string, string> ThreadLimits(int nJobs, int? innerMaxNumThreads)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            int value = innerMaxNumThreads ?? Math.Max(NJobs.CpuCount / Math.Max(nJobs, 1), 1);
            foreach (string name in ThreadLimitVariables)
            {
                if (innerMaxNumThreads.HasValue || string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
                {
                    result[name] = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            return result;
        }
    }
}
