namespace JoblibPS.Engine
{
    /// <summary>
    /// A backend's callback for one task, queued by the callback's thread for the pipeline thread (see
    /// ParallelRun.ProcessCompletions). <see cref="Duplicate"/>: the backend called back more than once for it.
    /// </summary>
    internal sealed class Completion
    {
        public Completion(Span span, BatchTask task, object future, bool duplicate)
        {
            Span = span;
            Task = task;
            Future = future;
            Duplicate = duplicate;
        }

        public Span Span { get; }

        public BatchTask Task { get; }

        public object Future { get; }

        public bool Duplicate { get; }
    }
}
