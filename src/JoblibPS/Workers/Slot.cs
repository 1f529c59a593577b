namespace JoblibPS.Workers
{
    /// <summary>
    /// One place for a worker in a <see cref="WorkerPool"/>, with a thread of its own (<see cref="SlotRunner"/>).
    /// Every member is read and written under <see cref="PoolState.Gate"/>.
    /// </summary>
    internal sealed class Slot
    {
        public Slot(int number) { Number = number; }

        public int Number { get; }

        /// <summary>The slot's worker; null while it opens or after it was replaced.</summary>
        public Worker Worker { get; set; }

        /// <summary>The worker a fresh one takes the place of (see <see cref="WorkerKind.Open"/>).</summary>
        public Worker Replacing { get; set; }

        /// <summary>The batch the slot runs or is about to run, or null when idle.</summary>
        public PoolJob Assigned { get; set; }

        /// <summary>True while the slot opens its worker (or is about to: a replacement after a failed probe).</summary>
        public bool Opening { get; set; }

        /// <summary>True while the slot probes its worker after a batch that did not run to its end: it takes no work.</summary>
        public bool Settling { get; set; }

        /// <summary>True when the slot ends after its batch (the pool shrank).</summary>
        public bool Retiring { get; set; }

        /// <summary>True once the pool let go of the slot; its thread ends when it next looks, touching nothing.</summary>
        public bool Abandoned { get; set; }

        /// <summary>True while the slot's thread is still inside a batch the pool gave up on.</summary>
        public bool Stuck { get; set; }
    }
}
