using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// The backend arguments of the remote backend, read case-insensitively from the dictionary the registry's
    /// factory receives, and validated before anything connects. Two ways to say where to run: <see cref="HostNames"/>
    /// (the backend opens SSH sessions itself, with the parameters of <c>New-PSSession -HostName</c>) or
    /// <see cref="Sessions"/> (sessions the user opened, over any transport, which the backend never closes).
    /// </summary>
    /// <remarks>
    /// Secrets: a password is only accepted inside a <see cref="PSCredential"/>; no message built here contains an
    /// argument's value except host names, ports and paths.
    /// </remarks>
    internal sealed class RemoteBackendOptions
    {
        /// <summary>The backend arguments the remote backend accepts.</summary>
        public static readonly IReadOnlyList<string> Accepted = new[]
        {
            "HostName", "UserName", "KeyFilePath", "Port", "Options", "JobsPerHost", "RemoteLocation", "Credential", "Session",
        };

        /// <summary>
        /// The ssh options the backend sets unless the Options argument sets them: no prompt can hang a background
        /// connection (BatchMode; host keys are still checked: an unknown host fails instead of asking), a TCP connect
        /// gives up after 10 s, a host that vanishes without closing the connection (network gone, machine off) is
        /// noticed after about 3 x 2 s, and ssh's informational chatter stays out of the console.
        /// </summary>
        public static readonly IReadOnlyDictionary<string, string> DefaultSshOptions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["BatchMode"] = "yes",
            ["ConnectTimeout"] = "10",
            ["ServerAliveInterval"] = "2",
            ["ServerAliveCountMax"] = "3",
            ["LogLevel"] = "ERROR",
        };

        private RemoteBackendOptions() { }

        /// <summary>The SSH hosts to open sessions to (empty when <see cref="Sessions"/> is used).</summary>
        public IReadOnlyList<string> HostNames { get; private set; } = Array.Empty<string>();

        /// <summary>The sessions the user opened (empty when <see cref="HostNames"/> is used). The backend never closes them.</summary>
        public IReadOnlyList<PSSession> Sessions { get; private set; } = Array.Empty<PSSession>();

        /// <summary>The SSH user; null for ssh's default (the ssh config, else the local user name).</summary>
        public string UserName { get; private set; }

        /// <summary>The private key file (full path); null for ssh's default keys or agent.</summary>
        public string KeyFilePath { get; private set; }

        /// <summary>The SSH port; 0 for ssh's default (the ssh config, else 22).</summary>
        public int Port { get; private set; }

        /// <summary>The ssh options (<c>-o Name=Value</c>): <see cref="DefaultSshOptions"/> with the user's Options on top.</summary>
        public Hashtable SshOptions { get; private set; } = new Hashtable(StringComparer.OrdinalIgnoreCase);

        /// <summary>Worker slots per host; null for the host's processor count.</summary>
        public int? JobsPerHost { get; private set; }

        /// <summary>The directory batches start in on every host; null for the remote user's home.</summary>
        public string RemoteLocation { get; private set; }

        /// <summary>The credential given, if any: its user name is the SSH user.</summary>
        public PSCredential Credential { get; private set; }

        /// <summary>True when the backend opens SSH sessions itself.</summary>
        public bool UsesSsh => HostNames.Count > 0;

        /// <summary>
        /// Reads the backend arguments. Throws <see cref="ArgumentException"/> for an unknown key (listing the accepted
        /// ones), a value of the wrong type, a password that is not inside a PSCredential, or neither or both of
        /// HostName and Session.
        /// </summary>
        public static RemoteBackendOptions From(IDictionary arguments)
        {
            Dictionary<string, object> given = BackendArguments.Read("remote", arguments, Accepted, key =>
                key != null && key.IndexOf("pass", StringComparison.OrdinalIgnoreCase) >= 0
                    ? " A password is only accepted inside a PSCredential, as Credential."
                    : null);

            var options = new RemoteBackendOptions();
            bool hasHosts = given.TryGetValue("HostName", out object hostValue);
            bool hasSessions = given.TryGetValue("Session", out object sessionValue);
            if (hasHosts == hasSessions)
            {
                throw Error(hasHosts
                    ? "The backend 'remote' takes either HostName (it opens SSH sessions itself) or Session (sessions you opened), not both."
                    : "The backend 'remote' needs to know where to run: give HostName (SSH hosts it opens sessions to) or Session (PSSessions you opened), " +
                      "for example Use-JoblibConfig remote -BackendArgument @{ HostName = 'web1', 'web2'; KeyFilePath = '~/.ssh/id_ed25519' } { ... }.");
            }

            if (given.TryGetValue("Credential", out object credential))
            {
                if (!(credential is PSCredential psCredential))
                {
                    // Never echo the value: it may be a password.
                    throw Error(
                        $"The backend argument 'Credential' of backend 'remote' must be a PSCredential (from Get-Credential, or [pscredential]::new('user', $secureString)), not a {credential.GetType().Name}. " +
                        "A password given as a plain string is refused, so that it does not sit in scripts, history or logs.");
                }
                options.Credential = psCredential;
            }

            if (hasHosts)
            {
                ReadSsh(given, hostValue, options);
            }
            else
            {
                foreach (string sshOnly in new[] { "UserName", "KeyFilePath", "Port", "Options", "JobsPerHost", "Credential" })
                {
                    if (given.ContainsKey(sshOnly))
                    {
                        throw Error($"The backend argument '{sshOnly}' of backend 'remote' applies to the SSH sessions it opens (HostName), not to sessions you give as Session: " +
                            "each of your sessions is one worker, connected as you opened it. Open more sessions per host for more workers.");
                    }
                }
                options.Sessions = SessionsFrom(sessionValue);
            }

            if (given.TryGetValue("RemoteLocation", out object location))
            {
                options.RemoteLocation = Convert<string>("RemoteLocation", location);
                if (string.IsNullOrWhiteSpace(options.RemoteLocation)) throw Error("The backend argument 'RemoteLocation' of backend 'remote' is empty; leave it out to start in the remote user's home.");
            }
            return options;
        }

        /// <summary>The arguments of the SSH sessions the backend opens itself (HostName given).</summary>
        private static void ReadSsh(Dictionary<string, object> given, object hostValue, RemoteBackendOptions options)
        {
            options.HostNames = Strings("HostName", hostValue).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            if (options.HostNames.Count == 0) throw Error("The backend argument 'HostName' of backend 'remote' names no host.");
            options.UserName = given.TryGetValue("UserName", out object user) ? Convert<string>("UserName", user) : null;
            if (options.Credential != null)
            {
                string credentialUser = options.Credential.UserName;
                if (options.UserName != null && !string.Equals(options.UserName, credentialUser, StringComparison.Ordinal))
                {
                    throw Error($"The backend arguments 'UserName' ('{options.UserName}') and 'Credential' (user '{credentialUser}') of backend 'remote' disagree; give one of them.");
                }
                options.UserName = credentialUser;
            }
            if (given.TryGetValue("KeyFilePath", out object key)) options.KeyFilePath = ResolveKeyFile(Convert<string>("KeyFilePath", key));
            if (given.TryGetValue("Port", out object port))
            {
                options.Port = Convert<int>("Port", port);
                if (options.Port < 1 || options.Port > 65535) throw Error($"The backend argument 'Port' of backend 'remote' must be a TCP port (1 to 65535), not {options.Port}.");
            }
            if (given.TryGetValue("JobsPerHost", out object jobs))
            {
                int perHost = Convert<int>("JobsPerHost", jobs);
                if (perHost < 1) throw Error($"The backend argument 'JobsPerHost' of backend 'remote' must be a positive number of workers per host, not {perHost}.");
                options.JobsPerHost = perHost;
            }
            options.SshOptions = SshOptionsFrom(given.TryGetValue("Options", out object sshOptions) ? sshOptions : null);
        }

        private static List<string> Strings(string name, object value)
        {
            var names = new List<string>();
            foreach (object element in value is IEnumerable list && !(value is string) ? list.Cast<object>() : new[] { value })
            {
                object item = Unwrap(element);
                if (!(item is string text)) throw Error($"The backend argument '{name}' of backend 'remote' must be host names (strings), not a {item?.GetType().Name ?? "null"}.");
                if (string.IsNullOrWhiteSpace(text)) throw Error($"The backend argument '{name}' of backend 'remote' has an empty host name.");
                names.Add(text.Trim());
            }
            return names;
        }

        private static List<PSSession> SessionsFrom(object value)
        {
            var sessions = new List<PSSession>();
            foreach (object element in value is IEnumerable list ? list.Cast<object>() : new[] { value })
            {
                if (!(Unwrap(element) is PSSession session))
                {
                    throw Error($"The backend argument 'Session' of backend 'remote' must be PSSessions (from New-PSSession), not a {Unwrap(element)?.GetType().Name ?? "null"}.");
                }
                if (!sessions.Contains(session)) sessions.Add(session);
            }
            if (sessions.Count == 0) throw Error("The backend argument 'Session' of backend 'remote' holds no session.");
            return sessions;
        }

        private static Hashtable SshOptionsFrom(object value)
        {
            var options = new Hashtable(StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<string, string> pair in DefaultSshOptions) options[pair.Key] = pair.Value;
            if (value == null) return options;
            if (!(value is IDictionary table))
            {
                throw Error("The backend argument 'Options' of backend 'remote' must be a hashtable of ssh options, as New-PSSession -Options takes, like @{ StrictHostKeyChecking = 'yes' }.");
            }
            foreach (DictionaryEntry entry in table)
            {
                string name = entry.Key?.ToString();
                if (string.IsNullOrWhiteSpace(name) || name.Any(c => char.IsWhiteSpace(c) || c == '='))
                {
                    throw Error($"The backend argument 'Options' of backend 'remote' has an invalid ssh option name '{name}'.");
                }
                options[name] = Unwrap(entry.Value)?.ToString();
            }
            return options;
        }

        /// <summary>Expands a leading ~ and checks the file exists; a relative path is refused (it would depend on the process's directory, not your location).</summary>
        private static string ResolveKeyFile(string path)
        {
            if (string.IsNullOrWhiteSpace(path)) throw Error("The backend argument 'KeyFilePath' of backend 'remote' is empty.");
            string full = path;
            if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
            {
                string home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                full = Path.Combine(home, path.Length > 2 ? path.Substring(2) : string.Empty);
            }
            else if (!Path.IsPathRooted(path))
            {
                throw Error($"The backend argument 'KeyFilePath' of backend 'remote' must be a full path or start with ~, not '{path}'. Give (Resolve-Path '{path}').Path.");
            }
            if (!File.Exists(full)) throw Error($"The backend argument 'KeyFilePath' of backend 'remote' names '{full}', which does not exist.");
            return full;
        }

        private static T Convert<T>(string name, object value) => BackendArguments.Convert<T>("remote", name, value);

        private static object Unwrap(object value) => BackendArguments.Unwrap(value);

        private static ArgumentException Error(string message) => new ArgumentException(message);
    }
}
