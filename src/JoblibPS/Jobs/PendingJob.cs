using System;
using System.Collections.Generic;
using System.Management.Automation;
using JoblibPS.Config;
using JoblibPS.Engine;

namespace JoblibPS.Jobs
{
    /// <summary>
    /// An Invoke-JoblibParallel -AsJob call while its input comes in: the items are kept, since the job starts once
    /// all input is in (as ForEach-Object -Parallel -AsJob does); <see cref="Start"/> then makes the
    /// <see cref="JoblibJob"/> and its <see cref="JobRun"/>, adds the job to the session's job repository and starts it.
    /// Pipeline thread only.
    /// </summary>
    /// <remarks>
    /// Ownership: until <see cref="Start"/>, this object owns the backend the settings created for the call
    /// (<see cref="ResolvedSettings.CallOwnsBackend"/>) and <see cref="Dispose"/> terminates it (an error or Ctrl+C
    /// while input came in); from <see cref="Start"/> on, the job's run owns it.
    /// </remarks>
    internal sealed class PendingJob : IDisposable
    {
        private readonly RunRequest _request;
        private readonly List<object> _items = new List<object>();
        private ResolvedSettings _settings;

        /// <param name="request">The validated call (<see cref="RunRequest.InJob"/> set).</param>
        /// <param name="settings">The call's settings, made for a job (<see cref="ConfigResolver.ForJob"/>).</param>
        public PendingJob(RunRequest request, ResolvedSettings settings)
        {
            _request = request;
            _settings = settings;
        }

        /// <summary>Keeps one input item, in input order.</summary>
        public void Add(object item) => _items.Add(item);

        /// <summary>Makes the job for the items kept (one child job per item), adds it to <paramref name="repository"/> and starts it. Once.</summary>
        /// <param name="command">The job's command text (the block).</param>
        /// <param name="repository">The session's job repository, where Get-Job finds the job.</param>
        public JoblibJob Start(string command, JobRepository repository)
        {
            if (_settings == null) throw new InvalidOperationException("The job was started already.");
            var job = new JoblibJob(command, _items.Count, _settings.Backend.ToString());
            // The run attaches itself to the job (JoblibJob.Run) and owns the backend from here on.
            new JobRun(job, _request, _settings, _items);
            _settings = null;
            repository.Add(job);
            job.StartJob();
            return job;
        }

        /// <summary>Terminates the backend made for a job that never started. Idempotent.</summary>
        public void Dispose()
        {
            if (_settings != null && _settings.CallOwnsBackend)
            {
                try { _settings.Backend.Terminate(); } catch (Exception) { }
            }
            _settings = null;
        }
    }
}
