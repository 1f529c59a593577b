using System;
using System.Management.Automation;
using System.Reflection;

namespace JoblibPS.Jobs
{
    /// <summary>
    /// The job Invoke-JoblibParallel -AsJob returns and adds to the session's job repository: one
    /// <see cref="JoblibChildJob"/> per input item, in input order, run by a <see cref="JobRun"/>. Get-Job,
    /// Wait-Job, Receive-Job, Stop-Job and Remove-Job work on it as on any job.
    /// </summary>
    /// <remarks>
    /// States: NotStarted until <see cref="StartJob"/>, Running while the run goes on, then Stopped (Stop-Job,
    /// Remove-Job -Force, Remove-Module JoblibPS), Failed (an item failed, or the call could not start: the reason is
    /// that item's error or the call's), or Completed. Members may be called on any thread; the run's own thread
    /// sets the states of the children and, last, of this job.
    /// </remarks>
    internal sealed class JoblibJob : JoblibJobBase
    {
        /// <summary>The job type name Get-Job shows (PSJobTypeName).</summary>
        public const string TypeName = "JoblibPSJob";

        private readonly string _location;
        private JobRun _run;

        public JoblibJob(string command, int items, string location) : base(command)
        {
            PSJobTypeName = TypeName;
            _location = location;
            for (int i = 0; i < items; i++) ChildJobs.Add(new JoblibChildJob(command, this));
        }

        /// <summary>Set once, before <see cref="StartJob"/>.</summary>
        internal JobRun Run
        {
            get => _run;
            set => _run = value;
        }

        public override string Location => _location;

        public override string StatusMessage => string.Empty;

        public override bool HasMoreData
        {
            get
            {
                if (Output.Count > 0 || Error.Count > 0 || Warning.Count > 0 || Verbose.Count > 0 || Debug.Count > 0 || Information.Count > 0 || Progress.Count > 0) return true;
                foreach (Job child in ChildJobs) if (child.HasMoreData) return true;
                return false;
            }
        }

        /// <summary>Starts the run (once).</summary>
        public void StartJob()
        {
            if (JobStateInfo.State != JobState.NotStarted) return;
            SetJobState(JobState.Running);
            _run.Start();
        }

        /// <summary>Stops the work and waits until nothing of it runs (about a second for built-in backends).</summary>
        public override void StopJob()
        {
            _run?.Stop();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _run?.Stop();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// One input item of a <see cref="JoblibJob"/>: its output and error, warning, verbose, debug and information
    /// records, and its state (NotStarted until its batch starts in a worker, Running, then Completed, Failed with the
    /// item's error as the reason, or Stopped). Stopping a child stops its whole job.
    /// </summary>
    internal sealed class JoblibChildJob : JoblibJobBase
    {
        /// <summary>The job type name of a child (PSJobTypeName).</summary>
        public const string TypeName = "JoblibPSChildJob";

        private readonly JoblibJob _parent;

        public JoblibChildJob(string command, JoblibJob parent) : base(command)
        {
            PSJobTypeName = TypeName;
            _parent = parent;
        }

        public override string Location => _parent.Location;

        public override string StatusMessage => string.Empty;

        public override bool HasMoreData =>
            Output.Count > 0 || Error.Count > 0 || Warning.Count > 0 || Verbose.Count > 0 || Debug.Count > 0 || Information.Count > 0 || Progress.Count > 0;

        /// <summary>True once the child reached Completed, Failed or Stopped.</summary>
        internal bool IsDone
        {
            get
            {
                JobState state = JobStateInfo.State;
                return state == JobState.Completed || state == JobState.Failed || state == JobState.Stopped;
            }
        }

        public override void StopJob() => _parent.StopJob();
    }

    /// <summary>
    /// What a JoblibPS job and its children share: states set with a reason. A plain <see cref="Job"/> (as
    /// ForEach-Object -Parallel -AsJob's is), not a Job2: Receive-Job -AutoRemoveJob and Remove-Job remove a Job2
    /// through a registered job source adapter only, and a plain job from the session's job repository.
    /// </summary>
    internal abstract class JoblibJobBase : Job
    {
        protected JoblibJobBase(string command) : base(command, null) { }

        /// <summary>
        /// Job.SetJobState(JobState, Exception), which sets JobStateInfo.Reason: internal to Job in PowerShell 5.1
        /// and 7 and absent from the PowerShellStandard 5.1 reference assembly this module compiles against, so it
        /// is found at run time (tests/Pester/AsJob.Tests.ps1 pins it: a failed item's child has its error as reason).
        /// Without it a state is set without its reason.
        /// </summary>
        private static readonly MethodInfo SetJobStateWithReason =
            typeof(Job).GetMethod("SetJobState", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public, null, new[] { typeof(JobState), typeof(Exception) }, null);

        internal void SetState(JobState state, Exception reason = null)
        {
            if (reason != null && SetJobStateWithReason != null)
            {
                try
                {
                    SetJobStateWithReason.Invoke(this, new object[] { state, reason });
                    return;
                }
                catch (TargetInvocationException ex) when (ex.InnerException != null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
                }
            }
            SetJobState(state);
        }
    }
}
