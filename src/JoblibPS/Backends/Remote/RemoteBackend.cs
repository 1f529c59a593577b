using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Management.Automation;
using JoblibPS.Workers;
using JoblibPS.Engine;
using JoblibPS.Errors;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// Runs batches on other machines over PowerShell remoting (joblib's dask backend, for PowerShell): on SSH
    /// sessions the backend opens itself (HostName, UserName, KeyFilePath, Port, Options, JobsPerHost), or on
    /// sessions the user opened over any transport (Session). Items, -ArgumentList and <c>$using:</c> values travel
    /// serialized, one message per batch; results come back deserialized and tagged with PSComputerName.
    /// </summary>
    /// <remarks>
    /// Lifetime: connections open when the first call configures the backend (every host and slot in parallel;
    /// the constructor connects to nothing, as the contract asks), serve every later call of the config scope, and
    /// close in <see cref="Terminate"/>, at the end of the scope (or of a one-off call). A host that cannot be reached
    /// is left out with a warning; none reachable fails the call with <see cref="ErrorIds.RemoteNoHostReachable"/>.
    /// After every host was lost, the next call connects again. Lost hosts and notices are in
    /// <see cref="RemoteWorkerKind"/>; re-runs and scheduling in the shared <see cref="WorkerPool"/>. NJobs -1 (the
    /// default) means every slot of every host.
    /// </remarks>
    public class RemoteBackend : ParallelBackendBase
    {
        private readonly PoolShell _shell = new PoolShell();
        private RemoteWorkerKind _kind;

        /// <summary>Creates a backend with no hosts, only to read its capabilities (Get-JoblibBackend); a call on it fails and says how to name hosts.</summary>
        public RemoteBackend() : this((RemoteBackendOptions)null, 0) { }

        /// <summary>Creates the backend from backend arguments (see <see cref="RemoteBackendOptions"/>); connects to nothing yet.</summary>
        public RemoteBackend(IDictionary backendArguments) : this(RemoteBackendOptions.From(backendArguments), 0) { }

        internal RemoteBackend(RemoteBackendOptions options, int nestingLevel) : base(nestingLevel)
        {
            Options = options;
            if (options != null && options.UsesSsh) SshRunspaces.EnsureSupported();
            SupportsRetrieveCallback = true;
            SupportsTimeout = true;
            SupportsReturnGenerator = true;
            SupportsInnerMaxNumThreads = false;
            SupportsSharedMem = false;
            UsesThreads = false;
            DefaultNJobs = -1;
        }

        /// <summary>The backend arguments this instance was created with; null for an instance made without them.</summary>
        internal RemoteBackendOptions Options { get; }

        /// <summary>
        /// joblib's rule over the usable slots: n (at most every slot), -1 every slot, -k every slot but k-1. Before
        /// the workers are open the number of slots is unknown, and <paramref name="nJobs"/> is taken as asked.
        /// </summary>
        public override int EffectiveNJobs(int nJobs)
        {
            int slots = _shell.Pool?.Workers.Count ?? 0;
            if (slots == 0) return Math.Max(1, nJobs);
            if (nJobs > 0) return Math.Min(nJobs, slots);
            return Math.Max(1, slots + 1 + nJobs);
        }

        /// <summary>Opens the workers on the first call (blocking until every host is open or failed), then sets the call's number of jobs.</summary>
        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            Parallel = parallel;
            if (Options == null)
            {
                throw new TerminatingErrorException(new ErrorRecord(
                    new ArgumentException("This remote backend was made without hosts. Name them with -BackendArgument: Use-JoblibConfig remote -BackendArgument @{ HostName = 'web1', 'web2' } { ... }, or @{ Session = $sessions }."),
                    ErrorIds.InvalidBackendArgument, ErrorCategory.InvalidArgument, null));
            }
            if (_shell.Pool != null && _shell.Pool.Workers.Count == 0)
            {
                // Every host was lost in an earlier call: connect again.
                Terminate();
            }
            if (_shell.Pool == null)
            {
                // A backend fails a call cleanly with an exception that carries its ErrorRecord (see ParallelBackendBase).
                ErrorRecord startError = OpenPool();
                if (startError != null) throw new TerminatingErrorException(startError);
            }
            int effective = EffectiveNJobs(nJobs);
            _shell.Pool.SetLimit(effective);
            return effective;
        }

        /// <summary>Queues the batch for the next free remote worker.</summary>
        public override object Submit(BatchTask task, Action<object> callback) => _shell.Submit(this, task, callback);

        /// <summary>Drops queued batches and stops the running remote pipelines; the connections stay open for the next call when <paramref name="ensureReady"/>.</summary>
        public override void AbortEverything(bool ensureReady)
        {
            _shell.Abort(this);
            if (!ensureReady) Terminate();
        }

        internal override string TakeAbortWarning() => _shell.TakeAbortWarning();

        /// <summary>Closes the connections the backend opened; sessions the user gave stay open.</summary>
        public override void Terminate()
        {
            _kind = null;
            _shell.Take()?.Dispose();
        }

        private ErrorRecord OpenPool()
        {
            var clock = Stopwatch.StartNew();
            WorkerPool pool;
            RemoteWorkerKind kind;
            Dictionary<string, string> unreachable;
            List<string> notes;
            try
            {
                pool = RemoteWorkerKind.OpenPool(Options, Parallel?.Stopping ?? CancellationToken.None, out kind, out unreachable, out notes);
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                return new ErrorRecord(Describe.Innermost(ex), ErrorIds.RemoteNoHostReachable, ErrorCategory.ConnectionError, null);
            }
            if (pool == null)
            {
                return new RemoteHostUnreachableException(unreachable).ErrorRecord;
            }
            _shell.Pool = pool;
            _kind = kind;
            foreach (KeyValuePair<string, string> host in unreachable)
            {
                kind.AddNotice(RemoteRecords.Warning($"Host '{host.Key}' could not be reached and is left out of this config scope: {host.Value}"));
            }
            foreach (string note in notes) kind.AddNotice(RemoteRecords.Warning(note));
            if (Options.Credential != null && Options.Credential.Password != null && Options.Credential.Password.Length > 0)
            {
                kind.AddNotice(RemoteRecords.Warning(
                    "The password of Credential was not used: PowerShell's SSH transport signs in with keys (KeyFilePath, or ssh-agent), not passwords. Only its user name was used."));
            }
            string hosts = string.Join(", ", kind.LiveHosts.Select(h => $"{h.Key} ({h.Value})"));
            kind.AddNotice(RemoteRecords.Verbose(
                $"{(Options.UsesSsh ? "Opened" : "Checked")} {pool.Workers.Count} remote workers in {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s: {hosts}."));
            return null;
        }
    }
}
