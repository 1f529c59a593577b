using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Runtime.InteropServices;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// The backend arguments of the process backends (loky, multiprocessing), read case-insensitively from the
    /// dictionary the registry's factory receives. Immutable once read; two option sets with the same values
    /// are <see cref="SameWorkers">interchangeable</see>, which is what lets later calls reuse loky's pool.
    /// </summary>
    internal sealed class ProcessBackendOptions
    {
        /// <summary>
        /// How long an idle loky worker stays: joblib gives loky's reusable executor 300 s, and the same trade-off
        /// holds here (a pwsh start costs about a second; an idle pwsh costs about 100 MB).
        /// </summary>
        public const double DefaultIdleTimeoutSeconds = 300;

        /// <summary>
        /// What workers get in their environment unless the Environment argument overrides it: a 256 MB gen0
        /// garbage-collector budget (it made an allocating loop 1.29 times faster in one pwsh: measured by hand on
        /// pwsh 7.6.9, 2 cores; bench/Process-Backends.ps1), and no telemetry: a worker is no user session, and a pwsh
        /// without it started in 0.82 s against 0.91 to 1.02 s here (pwsh -NoProfile -NonInteractive, by hand).
        /// </summary>
        public static readonly IReadOnlyDictionary<string, string> DefaultWorkerEnvironment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_GCgen0size"] = "0x10000000",
            ["POWERSHELL_TELEMETRY_OPTOUT"] = "1",
        };

        /// <summary>The environment variable that names the pwsh to start when the module is hosted outside pwsh (xunit).</summary>
        public const string PwshVariable = "JOBLIBPS_PWSH";

        private ProcessBackendOptions(string pwshPath, double idleTimeoutSeconds, int maxTasksPerWorker, IReadOnlyDictionary<string, string> environment)
        {
            PwshPath = pwshPath;
            IdleTimeoutSeconds = idleTimeoutSeconds;
            MaxTasksPerWorker = maxTasksPerWorker;
            Environment = environment;
        }

        /// <summary>The pwsh executable workers run.</summary>
        public string PwshPath { get; }

        /// <summary>Seconds an idle worker waits for work before it exits (loky only).</summary>
        public double IdleTimeoutSeconds { get; }

        /// <summary>Tasks (batches) a worker runs before it is replaced by a fresh one; 0 = never.</summary>
        public int MaxTasksPerWorker { get; }

        /// <summary>Extra environment variables of the workers (a null value removes the variable); applied last, so they override every default.</summary>
        public IReadOnlyDictionary<string, string> Environment { get; }

        /// <summary>True when workers started with <paramref name="other"/> are the same as workers started with these options (the idle timeout does not matter).</summary>
        public bool SameWorkers(ProcessBackendOptions other)
        {
            if (other == null) return false;
            return string.Equals(PwshPath, other.PwshPath, StringComparison.Ordinal)
                && MaxTasksPerWorker == other.MaxTasksPerWorker
                && Environment.Count == other.Environment.Count
                && Environment.All(e => other.Environment.TryGetValue(e.Key, out string v) && string.Equals(v, e.Value, StringComparison.Ordinal));
        }

        /// <summary>
        /// Reads the backend arguments of <paramref name="backendName"/>. Throws <see cref="ArgumentException"/> for an
        /// unknown key (listing the accepted ones), a value of the wrong type, or a pwsh that cannot be found.
        /// </summary>
        public static ProcessBackendOptions From(string backendName, IDictionary arguments, bool acceptsIdleTimeout)
        {
            var accepted = acceptsIdleTimeout
                ? new[] { "PwshPath", "IdleTimeoutSeconds", "MaxTasksPerWorker", "Environment" }
                : new[] { "PwshPath", "MaxTasksPerWorker", "Environment" };
            Dictionary<string, object> given = BackendArguments.Read(backendName, arguments, accepted);

            string pwsh = given.TryGetValue("PwshPath", out object path)
                ? ResolvePwsh(backendName, BackendArguments.Convert<string>(backendName, "PwshPath", path))
                : DefaultPwsh(backendName);

            double idle = DefaultIdleTimeoutSeconds;
            if (given.TryGetValue("IdleTimeoutSeconds", out object idleValue))
            {
                idle = BackendArguments.Convert<double>(backendName, "IdleTimeoutSeconds", idleValue);
                if (!(idle > 0) || double.IsInfinity(idle))
                {
                    throw new ArgumentException($"The backend argument 'IdleTimeoutSeconds' of backend '{backendName}' must be a positive number of seconds, not {idle}.");
                }
            }

            int maxTasks = 0;
            if (given.TryGetValue("MaxTasksPerWorker", out object maxValue))
            {
                maxTasks = BackendArguments.Convert<int>(backendName, "MaxTasksPerWorker", maxValue);
                if (maxTasks < 0)
                {
                    throw new ArgumentException($"The backend argument 'MaxTasksPerWorker' of backend '{backendName}' must be 0 (never recycle) or a positive number of tasks, not {maxTasks}.");
                }
            }

            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            if (given.TryGetValue("Environment", out object envValue))
            {
                if (!(envValue is IDictionary table))
                {
                    throw new ArgumentException($"The backend argument 'Environment' of backend '{backendName}' must be a hashtable of variable names and values, like @{{ DOTNET_gcServer = '1' }}.");
                }
                foreach (DictionaryEntry entry in table)
                {
                    string name = entry.Key?.ToString();
                    if (string.IsNullOrEmpty(name) || name.IndexOf('=') >= 0)
                    {
                        throw new ArgumentException($"The backend argument 'Environment' of backend '{backendName}' has an invalid variable name '{name}'.");
                    }
                    object value = entry.Value is PSObject p ? p.BaseObject : entry.Value;
                    environment[name] = value?.ToString();
                }
            }
            return new ProcessBackendOptions(pwsh, idle, maxTasks, environment);
        }

        /// <summary>
        /// $PSHOME/pwsh when the module runs in pwsh; else (hosted elsewhere, as in xunit, where $PSHOME has no
        /// pwsh) the path in JOBLIBPS_PWSH; else an error that says how to give the path.
        /// </summary>
        private static string DefaultPwsh(string backendName)
        {
            string home = Path.GetDirectoryName(typeof(PSObject).Assembly.Location);
            string candidate = string.IsNullOrEmpty(home) ? null : Path.Combine(home, ExecutableName);
            if (candidate != null && File.Exists(candidate)) return candidate;
            string fromVariable = System.Environment.GetEnvironmentVariable(PwshVariable);
            if (!string.IsNullOrEmpty(fromVariable)) return ResolvePwsh(backendName, fromVariable);
            throw new ArgumentException(
                $"The backend '{backendName}' starts pwsh worker processes, but PowerShell is hosted here without a pwsh executable in '{home}'. " +
                $"Give its path with -BackendArgument @{{ PwshPath = '/path/to/pwsh' }} (Use-JoblibConfig), or set the environment variable {PwshVariable}.");
        }

        private static string ResolvePwsh(string backendName, string path)
        {
            string full;
            try
            {
                full = Path.GetFullPath(path);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException)
            {
                throw new ArgumentException($"The backend argument 'PwshPath' of backend '{backendName}' is not a valid path: '{path}' ({ex.Message}).");
            }
            if (!File.Exists(full))
            {
                throw new ArgumentException($"The backend argument 'PwshPath' of backend '{backendName}' names '{full}', which does not exist. Give the path of a pwsh executable (PowerShell 7), for example (Join-Path $PSHOME pwsh).");
            }
            return full;
        }

        private static string ExecutableName => RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "pwsh.exe" : "pwsh";
    }
}
