using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using JoblibPS.Driver;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// One pwsh worker process and the out-of-process runspace that talks to it over its standard streams (the
    /// transport of Start-Job). Start, Kill and Dispose may be called from any thread; the runspace runs one
    /// pipeline at a time, so only the pool slot that owns the worker invokes it.
    /// </summary>
    /// <remarks>
    /// PowerShellProcessInstance and RunspaceFactory.CreateOutOfProcessRunspace exist in pwsh 7 but not in
    /// PowerShellStandard 5.1, so they are reached by reflection. The instance builds a ProcessStartInfo for
    /// <c>pwsh -s -NoLogo -NoProfile</c> and exposes the Process before it starts (it starts when the runspace
    /// opens): the pwsh path and the environment are set on that ProcessStartInfo. Its Environment is a copy of
    /// the caller's environment made for this one process, so starting workers on several threads at once with
    /// different values is safe; setting variables on the caller's own process (and restoring them) would race
    /// with every other thread that starts a process meanwhile.
    /// A worker's pwsh exits by itself when its standard input closes, that is when the caller's process ends
    /// however it ends (checked by SIGKILLing the caller in tests/Pester/ProcessBackends.Tests.ps1).
    /// On Unix a worker starts in a session (and so a process group) of its own, through setsid(1) when it is
    /// there (<see cref="SessionLauncher"/>): a child of a pwsh in a terminal otherwise stays in the terminal's
    /// foreground process group, and the terminal's Ctrl+C (SIGINT) killed every worker at once (exit code 130)
    /// while JoblibPS was stopping them itself. Setsid execs pwsh in place (a child of fork is no group leader),
    /// so the process id is the worker's. A worker with no controlling terminal gets none of the terminal's
    /// signals (SIGINT, SIGQUIT, SIGTSTP, SIGHUP); it still ends when the caller does, as above.
    /// </remarks>
    internal sealed class PwshWorker : JoblibPS.Workers.Worker, IDisposable
    {
        private static readonly Type ProcessInstanceType =
            typeof(Runspace).Assembly.GetType("System.Management.Automation.Runspaces.PowerShellProcessInstance");

        private static readonly ConstructorInfo ProcessInstanceConstructor = ProcessInstanceType?.GetConstructor(
            new[] { typeof(Version), typeof(PSCredential), typeof(ScriptBlock), typeof(bool) });

        private static readonly PropertyInfo ProcessProperty = ProcessInstanceType?.GetProperty("Process");

        private static readonly MethodInfo CreateOutOfProcessRunspace = ProcessInstanceType == null
            ? null
            : typeof(RunspaceFactory).GetMethod("CreateOutOfProcessRunspace", new[] { typeof(TypeTable), ProcessInstanceType });

        /// <summary>
        /// setsid(1) on this machine, or null (Windows, where a worker gets no console and so no Ctrl+C; macOS, which
        /// has no setsid: there workers stay in the caller's process group).
        /// </summary>
        internal static readonly string SessionLauncher = FindSessionLauncher();

        private static readonly PropertyInfo ArgumentListProperty = typeof(System.Diagnostics.ProcessStartInfo).GetProperty("ArgumentList");

        private readonly IDisposable _processInstance;
        private readonly ManualResetEventSlim _exited = new ManualResetEventSlim(false);
        private int _killed;
        private int _disposed;

        private PwshWorker(IDisposable processInstance, System.Diagnostics.Process process, Runspace runspace, IDictionary<string, string> environment, WorkerProgress progress)
            : base(runspace, null)
        {
            Progress = progress;
            _processInstance = processInstance;
            Process = process;
            Environment = environment;
        }

        /// <summary>The worker's process; its Exited event is raised (EnableRaisingEvents) about 30 ms after it dies.</summary>
        public System.Diagnostics.Process Process { get; }

        /// <summary>The process id, or 0 before it started.</summary>
        public int ProcessId { get; private set; }

        /// <summary>How many items of its current batch the worker started (it survives the worker).</summary>
        public WorkerProgress Progress { get; }

        /// <summary>The variables set for this worker on top of the caller's environment.</summary>
        public IDictionary<string, string> Environment { get; }

        /// <summary>True once this side killed the worker on purpose (abort, recycle, idle, shutdown): its exit is no crash.</summary>
        public bool KilledOnPurpose => Volatile.Read(ref _killed) != 0;

        /// <summary>The exit code, or null while the process runs (or when it cannot be read).</summary>
        public int? ExitCode
        {
            get
            {
                try { return Process.HasExited ? Process.ExitCode : (int?)null; }
                catch (InvalidOperationException) { return null; }
            }
        }

        /// <summary>The module file a worker imports: the manifest next to the loaded dll when there is one, else the dll itself.</summary>
        public static string ModulePath
        {
            get
            {
                string dll = typeof(PwshWorker).Assembly.Location;
                string manifest = Path.Combine(Path.GetDirectoryName(dll) ?? ".", "JoblibPS.psd1");
                return File.Exists(manifest) ? manifest : dll;
            }
        }

        /// <summary>
        /// The folder to put first on a worker's PSModulePath so that JoblibPS loads there on first use: the parent
        /// of a 'JoblibPS' folder holding the manifest. Null when the module is not laid out that way (a bare dll),
        /// and the worker imports it at start instead.
        /// </summary>
        private static string AutoloadRoot
        {
            get
            {
                string manifest = ModulePath;
                if (!manifest.EndsWith(".psd1", StringComparison.OrdinalIgnoreCase)) return null;
                string folder = Path.GetDirectoryName(manifest);
                return string.Equals(Path.GetFileName(folder), "JoblibPS", StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(folder) : null;
            }
        }

        /// <summary>
        /// Creates the worker (not started): the runspace exists, the process not yet. <paramref name="onExit"/> is
        /// called from a thread-pool thread when the process ends, for whatever reason.
        /// </summary>
        public static PwshWorker Create(string pwshPath, IDictionary<string, string> environment, Action<PwshWorker> onExit)
        {
            if (ProcessInstanceConstructor == null || ProcessProperty == null || CreateOutOfProcessRunspace == null)
            {
                throw new PlatformNotSupportedException(
                    "The process backends need PowerShell 7 (pwsh): this PowerShell has no PowerShellProcessInstance or CreateOutOfProcessRunspace. Use the threading backend here, or run in pwsh 7.");
            }
            var instance = (IDisposable)ProcessInstanceConstructor.Invoke(new object[] { null, null, null, false });
            var process = (System.Diagnostics.Process)ProcessProperty.GetValue(instance);
            process.StartInfo.FileName = pwshPath;
            if (SessionLauncher != null && ArgumentListProperty?.GetValue(process.StartInfo) is IList<string> arguments)
            {
                // setsid pwsh -s -NoLogo -NoProfile: the arguments PowerShellProcessInstance put there stay as they are.
                arguments.Insert(0, pwshPath);
                process.StartInfo.FileName = SessionLauncher;
            }
            foreach (KeyValuePair<string, string> variable in environment)
            {
                if (variable.Value == null) process.StartInfo.Environment.Remove(variable.Key);
                else process.StartInfo.Environment[variable.Key] = variable.Value;
            }
            string autoloadRoot = AutoloadRoot;
            if (autoloadRoot != null)
            {
                process.StartInfo.Environment.TryGetValue("PSModulePath", out string modulePath);
                process.StartInfo.Environment["PSModulePath"] = string.IsNullOrEmpty(modulePath) ? autoloadRoot : autoloadRoot + Path.PathSeparator + modulePath;
            }
            process.EnableRaisingEvents = true;
            WorkerProgress progress = WorkerProgress.Create();
            process.StartInfo.Environment[WorkerProgress.FileVariable] = progress.Path;
            Runspace runspace;
            try
            {
                runspace = (Runspace)CreateOutOfProcessRunspace.Invoke(null, new object[] { null, instance });
            }
            catch (TargetInvocationException ex) when (ex.InnerException != null)
            {
                instance.Dispose();
                progress.Dispose();
                throw ex.InnerException;
            }
            var worker = new PwshWorker(instance, process, runspace, environment, progress);
            process.Exited += (sender, e) =>
            {
                worker._exited.Set();
                onExit(worker);
            };
            return worker;
        }

        /// <summary>
        /// Starts the process, opens the runspace and gets JoblibPS there, in one round trip. Blocks about a second.
        /// JoblibPS's assembly is loaded at once (15 ms: the driver uses its item counter and nested frames); its
        /// cmdlets load on first use through PSModulePath (a nested call), which saves the 250 ms of importing the
        /// manifest in every worker; a bare dll is imported at start.
        /// </summary>
        /// <exception cref="WorkerExitedException">The process ended before the worker was ready (noticed within about 30 ms of its death).</exception>
        public void Start()
        {
            Runspace.Name = "JoblibPS process worker";
            // A process that dies while its runspace opens (a signal, the out-of-memory killer) leaves Open waiting
            // for the transport to notice, 30 s and more: the slot would hold the pool's place meanwhile and the next
            // call would wait for it with no worker alive. So the open and the first round trip race the process's exit.
            using (var opened = new ManualResetEventSlim(false))
            {
                EventHandler<RunspaceStateEventArgs> onState = (sender, e) =>
                {
                    if (e.RunspaceStateInfo.State != RunspaceState.Opening && e.RunspaceStateInfo.State != RunspaceState.BeforeOpen) opened.Set();
                };
                Runspace.StateChanged += onState;
                try
                {
                    Runspace.OpenAsync();
                    WaitHandle.WaitAny(new[] { opened.WaitHandle, _exited.WaitHandle });
                }
                finally
                {
                    Runspace.StateChanged -= onState;
                }
            }
            ThrowIfExited();
            RunspaceStateInfo state = Runspace.RunspaceStateInfo;
            if (state.State != RunspaceState.Opened)
            {
                throw state.Reason ?? new InvalidOperationException($"The worker's runspace went {state.State} while it opened.");
            }
            try { ProcessId = Process.Id; } catch (InvalidOperationException) { }
            var ps = PowerShell.Create();
            ps.Runspace = Runspace;
            ps.AddScript("param($assembly, $module) $null = [System.Reflection.Assembly]::LoadFrom($assembly); if ($module) { Import-Module -Name $module -Global -ErrorAction Stop }")
                .AddArgument(typeof(PwshWorker).Assembly.Location)
                .AddArgument(AutoloadRoot == null ? ModulePath : null);
            // The driver as a function, so batches do not send, parse and compile it each time; and a first run
            // of it compiles it and its paths (half a second here): pay that now, not inside the first batch,
            // where it would count against -TimeoutSeconds. One item, per-item chunks: the paths a batch takes.
            ps.AddStatement().AddScript(WorkerDriver.FunctionDefinition);
            ps.AddStatement()
                .AddCommand(WorkerDriver.FunctionName, useLocalScope: true)
                .AddParameter("__JoblibScript", "$null = $_")
                .AddParameter("__JoblibItems", new object[] { 0 })
                .AddParameter("__JoblibArguments", new object[0])
                .AddParameter("__JoblibMarker", "warm-up")
                .AddParameter("__JoblibPreferences", new object[] { "Continue", "Continue", "SilentlyContinue", "SilentlyContinue", "Continue", false, "High", "SilentlyContinue" })
                .AddParameter("__JoblibCollect", 2);
            IAsyncResult warmUp = ps.BeginInvoke();
            if (WaitHandle.WaitAny(new[] { warmUp.AsyncWaitHandle, _exited.WaitHandle }) != 0 && !warmUp.IsCompleted)
            {
                // The invocation on a dead process returns only when its transport notices: disposing it would wait as long.
                ThrowIfExited();
            }
            try { ps.EndInvoke(warmUp); }
            finally { ps.Dispose(); }
            WorkerDriver.MarkHolder(Runspace);
        }

        /// <summary>Throws <see cref="WorkerExitedException"/> when the process ended (any thread).</summary>
        private void ThrowIfExited()
        {
            if (!_exited.IsSet) return;
            try { Process.WaitForExit(1000); } catch (Exception) { }
            throw new WorkerExitedException(ProcessId != 0 ? ProcessId : SafeId(), ExitCode);
        }

        internal int SafeId()
        {
            try { return Process.Id; }
            catch (InvalidOperationException) { return 0; }
        }

        private static string FindSessionLauncher()
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return null;
            foreach (string path in new[] { "/usr/bin/setsid", "/bin/setsid" })
            {
                if (File.Exists(path)) return path;
            }
            return null;
        }

        /// <summary>Kills the process (any thread; returns at once). Its exit is then known to be no crash.</summary>
        public void Kill()
        {
            Interlocked.Exchange(ref _killed, 1);
            try
            {
                if (!Process.HasExited) Process.Kill();
            }
            catch (InvalidOperationException) { }
            catch (System.ComponentModel.Win32Exception) { }
        }

        /// <summary>Ends an idle worker: see <see cref="Dispose(bool)"/>.</summary>
        public void Dispose()
        {
            Dispose(busy: false);
        }

        /// <summary>
        /// Ends the worker. An idle one (<paramref name="busy"/> false) that lives has its runspace closed first
        /// (about 20 ms), then its process killed. A busy one is killed first: closing its runspace would wait for
        /// a pipeline that may never stop (a native call). Closing the runspace of a process that died blocks
        /// for about 60 s (measured with pwsh 7.6.9: the runspace reports Broken only then): that is left to a background thread, so the runspace leaves Get-Runspace
        /// eventually and nobody waits for it.
        /// </summary>
        public void Dispose(bool busy)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            Interlocked.Exchange(ref _killed, 1);
            bool alive;
            try { alive = !Process.HasExited; }
            catch (InvalidOperationException) { alive = false; }
            if (busy && alive)
            {
                Kill();
                alive = false;
            }
            if (alive)
            {
                CloseRunspace();
                Kill();
            }
            else
            {
                new Thread(CloseRunspace) { IsBackground = true, Name = "JoblibPS closing a dead worker's runspace" }.Start();
            }
            try { _processInstance.Dispose(); } catch (Exception) { }
            Progress.Dispose();
        }

        private void CloseRunspace()
        {
            try { Runspace.Dispose(); }
            catch (Exception) { }
        }
    }
}
