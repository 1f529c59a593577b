using System;
using System.Threading;

namespace JoblibPS
{
    /// <summary>
    /// A future for one submitted <see cref="BatchTask"/>, for backends that run tasks themselves. The backend
    /// calls <see cref="Complete"/> once, from any thread; that stores the result and calls the engine's callback.
    /// </summary>
    public sealed class BatchFuture
    {
        private readonly ManualResetEventSlim _done = new ManualResetEventSlim(false);
        private readonly Action<object> _callback;
        private object _result;
        private int _completed;

        /// <summary>Creates the future of <paramref name="task"/>; <paramref name="callback"/> is the one Submit received.</summary>
        public BatchFuture(BatchTask task, Action<object> callback)
        {
            Task = task ?? throw new ArgumentNullException(nameof(task));
            _callback = callback;
        }

        /// <summary>The task.</summary>
        public BatchTask Task { get; }

        /// <summary>True once <see cref="Complete"/> was called.</summary>
        public bool IsCompleted => _done.IsSet;

        /// <summary>Stores the task's result and calls the callback. Only the first call counts.</summary>
        public void Complete(object result)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0) return;
            _result = result;
            _done.Set();
            _callback?.Invoke(this);
        }

        /// <summary>Returns the result, waiting up to <paramref name="timeout"/>; throws <see cref="TimeoutException"/> after that.</summary>
        public object GetResult(TimeSpan timeout)
        {
            if (!_done.Wait(timeout))
            {
                throw new TimeoutException("The batch did not complete within the timeout.");
            }
            return _result;
        }
    }
}
