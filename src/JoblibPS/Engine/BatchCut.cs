using System;

namespace JoblibPS.Engine
{
    /// <summary>
    /// How many of the items waiting on the pipeline thread the next batch takes: the one rule for cutting input into
    /// batches, apart from the batch size itself (fixed, or the backend's auto size). Pure: tested on its own.
    /// </summary>
    internal static class BatchCut
    {
        /// <summary>
        /// The number of items the next batch takes from <paramref name="pending"/> waiting ones, or 0 to wait for more.
        /// </summary>
        /// <param name="pending">Items waiting (at least 1).</param>
        /// <param name="size">The batch size.</param>
        /// <param name="endOfInput">True once the input ended: what is left is the tail.</param>
        /// <param name="running">Batches submitted and not yet complete.</param>
        /// <param name="nJobs">The call's number of workers.</param>
        /// <param name="holdOver">
        /// True when a partial batch should not be held back any longer: the upstream command is slow (the last item
        /// took longer than the hold limit to arrive) or the oldest waiting item waited that long.
        /// </param>
        public static int Take(int pending, int size, bool endOfInput, int running, int nJobs, bool holdOver)
        {
            if (pending >= size) return size;
            if (endOfInput)
            {
                // Tail: split what is left into smaller batches so that no worker is left with a long tail. joblib
                // divides the batch size by 10 * n_jobs, which for a few hundred items on many workers means batches
                // of one, each a round trip where a batch costs milliseconds (a worker process, an SSH host): so a
                // batch also takes its share of what is left, half of it spread over the workers, and the batches
                // shrink as the input runs out.
                int share = (int)Math.Min(size, Math.Ceiling(pending / (2.0 * nJobs)));
                int take = Math.Max(1, Math.Min(pending, Math.Max(size / (10 * nJobs), share)));
                if (running >= nJobs && take == pending && take > 1) take = Math.Max(1, take / 2);
                return take;
            }
            // Work-conserving: a worker would sit idle, so a partial batch goes now when it should not be held back any
            // longer. A fast upstream fills batches instead of paying a batch's overhead per item.
            if (running < nJobs && holdOver) return pending;
            return 0;
        }
    }
}
