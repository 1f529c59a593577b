using System;
using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using JoblibPS.Driver;
using JoblibPS.Errors;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// Opens SSH runspaces (what <c>New-PSSession -HostName</c> opens) and explains why one could not open.
    /// Any thread; each call blocks until its runspace is open or failed.
    /// </summary>
    /// <remarks>
    /// SSHConnectionInfo exists in pwsh 7 but not in PowerShellStandard 5.1, so it is reached by reflection. A
    /// runspace made this way is not a PSSession: it is not listed by the caller's Get-PSSession, and the backend
    /// alone owns it. A RunspacePool over SSH is not supported by PowerShell, hence one runspace per worker slot.
    /// </remarks>
    internal static class SshRunspaces
    {
        /// <summary>The SSH subsystem that serves PowerShell remoting (sshd_config: <c>Subsystem powershell /path/to/pwsh -sshs</c>).</summary>
        public const string Subsystem = "powershell";

        /// <summary>
        /// How long PowerShell may take to open one runspace, ssh and the remote pwsh start included: 60 s, because
        /// an open took up to 12 s on the loaded 2-core test machine and several open at once. ssh's own
        /// ConnectTimeout (<see cref="RemoteBackendOptions.DefaultSshOptions"/>) bounds the TCP part much sooner.
        /// </summary>
        public const int ConnectingTimeoutMilliseconds = 60000;

        /// <summary>How long a run of ssh for a check or a diagnosis may take before it is given up on.</summary>
        private const int DiagnosisTimeoutMilliseconds = 15000;

        private static readonly Type ConnectionInfoType =
            typeof(Runspace).Assembly.GetType("System.Management.Automation.Runspaces.SSHConnectionInfo");

        private static readonly ConstructorInfo ConnectionInfoConstructor = ConnectionInfoType?.GetConstructor(
            new[] { typeof(string), typeof(string), typeof(string), typeof(int), typeof(string), typeof(int), typeof(Hashtable) });

        /// <summary>Throws when this PowerShell has no SSH transport (Windows PowerShell 5.1), saying what to do instead.</summary>
        public static void EnsureSupported()
        {
            if (ConnectionInfoConstructor == null)
            {
                throw new PlatformNotSupportedException(
                    "The remote backend opens SSH sessions, which needs PowerShell 7 (pwsh): this PowerShell has no SSH transport. " +
                    "Run in pwsh 7, or open the sessions yourself (New-PSSession -ComputerName ...) and give them as -BackendArgument @{ Session = $sessions }.");
            }
        }

        /// <summary>
        /// Opens one runspace on <paramref name="hostName"/>; throws the reason when it cannot (the runspace is then
        /// disposed). <paramref name="transportWriter"/> is what <see cref="Close"/> needs besides the runspace (see
        /// <see cref="SshTransportGuard"/>).
        /// </summary>
        public static Runspace Open(RemoteBackendOptions options, string hostName, out IDisposable transportWriter)
        {
            transportWriter = null;
            EnsureSupported();
            RunspaceConnectionInfo connectionInfo;
            try
            {
                connectionInfo = (RunspaceConnectionInfo)ConnectionInfoConstructor.Invoke(new object[]
                {
                    options.UserName, hostName, options.KeyFilePath, options.Port, Subsystem, ConnectingTimeoutMilliseconds, options.SshOptions,
                });
            }
            catch (TargetInvocationException ex) when (ex.InnerException != null)
            {
                throw ex.InnerException;
            }
            Runspace runspace = RunspaceFactory.CreateRunspace(connectionInfo, null, TypeTable.LoadDefaultTypeFiles());
            runspace.Name = RemoteWorkerKind.RunspaceName;
            try
            {
                runspace.Open();
            }
            catch
            {
                runspace.Dispose();
                throw;
            }
            transportWriter = SshTransportGuard.Take(runspace);
            InstallDriver(runspace);
            return runspace;
        }

        /// <summary>
        /// Defines the batch driver as a function in a runspace the backend opened (one round trip), so a batch sends
        /// a command name instead of the driver's text to parse and compile (see <see cref="WorkerDriver.MarkHolder"/>).
        /// A runspace where that fails still works: its batches send the text.
        /// </summary>
        private static void InstallDriver(Runspace runspace)
        {
            try
            {
                using (var ps = PowerShell.Create())
                {
                    ps.Runspace = runspace;
                    ps.AddScript(WorkerDriver.FunctionDefinition).Invoke();
                    if (!ps.HadErrors) WorkerDriver.MarkHolder(runspace);
                }
            }
            catch (Exception)
            {
                // A constrained endpoint may refuse function definitions.
            }
        }

        /// <summary>Closes a runspace <see cref="Open"/> opened (blocking while a healthy one closes), then its guarded writer. Never throws.</summary>
        public static void Close(Runspace runspace, IDisposable transportWriter)
        {
            try { runspace?.Dispose(); }
            catch (Exception) { }
            SshTransportGuard.Release(transportWriter);
        }

        /// <summary>
        /// Checks, before PowerShell starts its SSH transport, that the host's SSH port accepts connections (where ssh
        /// itself would connect: <c>ssh -G</c> resolves aliases, ports and users from the ssh config; hosts reached
        /// through ProxyJump or ProxyCommand are not checked). Returns why not, or null. This matters beyond a better
        /// message: when ssh exits at once (a refused connection on a near host), PowerShell's SSH transport can fail
        /// to flush its pipe to the dead ssh on its error thread, an unhandled IOException that ends the whole pwsh
        /// process (SSHClientSessionTransportManager.CloseConnection, seen with pwsh 7.6.9).
        /// </summary>
        public static string Preflight(RemoteBackendOptions options, string hostName)
        {
            SshRun resolved = RunSsh(options, hostName, "-G", DiagnosisTimeoutMilliseconds);
            if (resolved.NotFound) return "the ssh client was not found on PATH (PowerShell's SSH remoting runs it)";
            if (resolved.ExitCode != 0) return resolved.Error ?? "ssh could not read its configuration for this host";
            string target = null, port = null, connectTimeout = null;
            bool proxied = false;
            foreach (string line in resolved.Output.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries))
            {
                int space = line.IndexOf(' ');
                if (space < 0) continue;
                string key = line.Substring(0, space), value = line.Substring(space + 1).Trim();
                switch (key)
                {
                    case "hostname": target = value; break;
                    case "port": port = value; break;
                    case "connecttimeout": connectTimeout = value; break;
                    case "proxyjump":
                    case "proxycommand":
                        proxied |= !string.Equals(value, "none", StringComparison.OrdinalIgnoreCase);
                        break;
                }
            }
            if (proxied || target == null || !int.TryParse(port, NumberStyles.Integer, CultureInfo.InvariantCulture, out int portNumber)) return null;
            int seconds = int.TryParse(connectTimeout, NumberStyles.Integer, CultureInfo.InvariantCulture, out int given) && given > 0 ? given : 10;
            using (var client = new TcpClient())
            {
                try
                {
                    Task connect = client.ConnectAsync(target, portNumber);
                    if (!connect.Wait(TimeSpan.FromSeconds(seconds))) return $"connecting to {target} port {portNumber} timed out after {seconds} s";
                    return null;
                }
                catch (AggregateException ex) when (ex.InnerException is SocketException socket)
                {
                    return $"cannot connect to {target} port {portNumber}: {socket.Message}";
                }
                catch (SocketException socket)
                {
                    return $"cannot connect to {target} port {portNumber}: {socket.Message}";
                }
            }
        }

        /// <summary>
        /// Why <paramref name="hostName"/> could not be opened, in ssh's words when ssh gives any ("Host key
        /// verification failed.", "Permission denied (publickey)."), else PowerShell's. PowerShell's own error is
        /// generic (the SSH transport ended) and ssh's message goes to the console, so ssh is run once more, in batch
        /// mode with the same options and the input closed at once, and its error output is read.
        /// </summary>
        public static string Explain(RemoteBackendOptions options, string hostName, Exception failure)
        {
            string fallback = Describe.Innermost(failure).Message;
            SshRun run = RunSsh(options, hostName, "-s", DiagnosisTimeoutMilliseconds);
            if (run.TimedOut) return fallback + " (ssh did not finish connecting within " + (DiagnosisTimeoutMilliseconds / 1000) + " s)";
            if (string.IsNullOrEmpty(run.Error))
            {
                return fallback + " (ssh itself connects: check that sshd has 'Subsystem powershell <path to pwsh> -sshs' and that pwsh starts there)";
            }
            return run.Error;
        }

        /// <summary>
        /// Runs ssh for <paramref name="hostName"/> with the backend's options, batch mode first (ssh keeps the first
        /// value of an option, so nothing prompts), and <paramref name="mode"/>: <c>-G</c> prints the resolved config,
        /// <c>-s</c> asks for the PowerShell subsystem (a pwsh that starts exits at once: its input is closed).
        /// </summary>
        private static SshRun RunSsh(RemoteBackendOptions options, string hostName, string mode, int timeoutMilliseconds)
        {
            var arguments = new StringBuilder("-T -o BatchMode=yes");
            foreach (DictionaryEntry option in options.SshOptions)
            {
                if (option.Value == null) continue;
                Append(arguments, "-o");
                Append(arguments, option.Key + "=" + option.Value);
            }
            if (options.Port > 0) { Append(arguments, "-p"); Append(arguments, options.Port.ToString(CultureInfo.InvariantCulture)); }
            if (options.KeyFilePath != null) { Append(arguments, "-i"); Append(arguments, options.KeyFilePath); }
            if (options.UserName != null) { Append(arguments, "-l"); Append(arguments, options.UserName); }
            Append(arguments, mode);
            Append(arguments, hostName);
            if (mode == "-s") Append(arguments, Subsystem);

            var start = new ProcessStartInfo("ssh", arguments.ToString())
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
            };
            try
            {
                using (System.Diagnostics.Process ssh = System.Diagnostics.Process.Start(start))
                {
                    ssh.StandardInput.Close();
                    Task<string> output = ssh.StandardOutput.ReadToEndAsync();
                    Task<string> error = ssh.StandardError.ReadToEndAsync();
                    if (!ssh.WaitForExit(timeoutMilliseconds))
                    {
                        try { ssh.Kill(); } catch (InvalidOperationException) { }
                        return new SshRun { TimedOut = true };
                    }
                    Task.WaitAll(new Task[] { output, error }, 2000);
                    string errorText = error.Status == TaskStatus.RanToCompletion ? error.Result : string.Empty;
                    string[] lines = errorText.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries)
                        .Select(l => l.Trim())
                        .Where(l => l.Length > 0 && l.Trim('@').Length > 0 && !l.StartsWith("Warning: Permanently added", StringComparison.Ordinal) && !l.StartsWith("Pseudo-terminal", StringComparison.Ordinal))
                        .Select(l => l.Trim('@', ' '))
                        .ToArray();
                    string text = lines.Length == 0 ? null : string.Join(" ", lines);
                    // The key file's path is masked like the argument itself (Get-JoblibConfig).
                    if (text != null && options.KeyFilePath != null) text = text.Replace(options.KeyFilePath, "<KeyFilePath>");
                    return new SshRun
                    {
                        ExitCode = ssh.ExitCode,
                        Output = output.Status == TaskStatus.RanToCompletion ? output.Result : string.Empty,
                        Error = text,
                    };
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return new SshRun { NotFound = true };
            }
        }

        private sealed class SshRun
        {
            public int ExitCode { get; set; }
            public string Output { get; set; } = string.Empty;
            public string Error { get; set; }
            public bool TimedOut { get; set; }
            public bool NotFound { get; set; }
        }

        private static void Append(StringBuilder arguments, string value)
        {
            arguments.Append(' ');
            if (value.Length > 0 && value.All(c => !char.IsWhiteSpace(c) && c != '"' && c != '\\'))
            {
                arguments.Append(value);
                return;
            }
            // The quoting rules .NET applies when it splits Arguments (on every platform).
            arguments.Append('"');
            int backslashes = 0;
            foreach (char c in value)
            {
                if (c == '\\') { backslashes++; continue; }
                if (c == '"') { arguments.Append('\\', backslashes * 2 + 1); arguments.Append('"'); }
                else { arguments.Append('\\', backslashes); arguments.Append(c); }
                backslashes = 0;
            }
            arguments.Append('\\', backslashes * 2);
            arguments.Append('"');
        }
    }
}
