using System;
using System.Management.Automation;

namespace JoblibPS.Runspaces
{
    /// <summary>
    /// A round trip to a worker's runspace that must not hold its caller past a bound: a probe after a stopped batch,
    /// the fetch of a failed batch's pending records. A worker process's runspace sometimes does not answer for about
    /// 60 s after an invocation failed in its transport, and disposing an invocation that still runs waits for it to
    /// stop: so on timeout the invocation is asked to stop and disposed once stopped, on another thread.
    /// </summary>
    internal static class BoundedInvoke
    {
        /// <summary>
        /// Runs <paramref name="ps"/> (its runspace and commands set; this takes it over and disposes it) and returns
        /// its output, or null when it did not end within <paramref name="within"/>.
        /// </summary>
        public static PSDataCollection<PSObject> Run(PowerShell ps, TimeSpan within)
        {
            IAsyncResult run;
            try
            {
                run = ps.BeginInvoke();
            }
            catch
            {
                ps.Dispose();
                throw;
            }
            if (!run.AsyncWaitHandle.WaitOne(within))
            {
                try { ps.BeginStop(_ => { try { ps.Dispose(); } catch (Exception) { } }, null); }
                catch (Exception) { }
                return null;
            }
            try
            {
                return ps.EndInvoke(run);
            }
            finally
            {
                ps.Dispose();
            }
        }
    }
}
