using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Security;
using System.Text.RegularExpressions;
using JoblibPS.Config;
using JoblibPS.Backends;

namespace JoblibPS.Commands
{
    /// <summary>Returns the config in force where it runs: inside Use-JoblibConfig scopes, the innermost values; else the defaults.</summary>
    [Cmdlet(VerbsCommon.Get, "JoblibConfig")]
    [OutputType(typeof(JoblibConfigInfo))]
    public sealed class GetJoblibConfigCommand : PSCmdlet
    {
        private static readonly Regex SecretName = new Regex("key|password|passwd|secret|token|credential", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        /// <summary>Writes the effective config.</summary>
        protected override void EndProcessing()
        {
            IReadOnlyList<ConfigFrame> frames = ConfigScopes.Of(Runspace.DefaultRunspace);
            ConfigFrame backendFrame = frames.LastOrDefault(f => f.Backend != null);
            string prefer = frames.LastOrDefault(f => f.Prefer != null)?.Prefer;
            string backend = backendFrame != null
                ? backendFrame.BackendName ?? backendFrame.Backend.ToString()
                : BackendRegistry.DefaultName;
            int? nJobs = ConfigResolver.NJobsInForce(frames);
            IDictionary arguments = frames.LastOrDefault(f => f.BackendArguments != null)?.BackendArguments;
            WriteObject(new JoblibConfigInfo(
                backend,
                nJobs,
                prefer,
                frames.LastOrDefault(f => f.Require != null)?.Require,
                frames.LastOrDefault(f => f.InnerMaxNumThreads.HasValue)?.InnerMaxNumThreads,
                Mask(arguments)));
        }

        /// <summary>A copy of the backend arguments with secrets replaced by asterisks.</summary>
        internal static Hashtable Mask(IDictionary arguments)
        {
            var masked = new Hashtable(StringComparer.OrdinalIgnoreCase);
            if (arguments == null) return masked;
            foreach (DictionaryEntry entry in arguments)
            {
                object value = entry.Value is PSObject pso ? pso.BaseObject : entry.Value;
                bool secret = SecretName.IsMatch(entry.Key?.ToString() ?? string.Empty) || value is SecureString || value is PSCredential;
                masked[entry.Key] = secret ? "********" : entry.Value;
            }
            return masked;
        }
    }

    /// <summary>The effective JoblibPS config at one point of a script.</summary>
    public sealed class JoblibConfigInfo
    {
        internal JoblibConfigInfo(string backend, int? nJobs, string prefer, string require, int? innerMaxNumThreads, Hashtable backendArgument)
        {
            Backend = backend;
            NJobs = nJobs;
            Prefer = prefer;
            Require = require;
            InnerMaxNumThreads = innerMaxNumThreads;
            BackendArgument = backendArgument;
        }

        /// <summary>The backend's name.</summary>
        public string Backend { get; }

        /// <summary>The number of jobs calls use unless they give -NJobs (the backend's DefaultNJobs outside a scope that sets one); null when it cannot be known before the backend is created.</summary>
        public int? NJobs { get; }

        /// <summary>'threads', 'processes' or null.</summary>
        public string Prefer { get; }

        /// <summary>'sharedmem' or null.</summary>
        public string Require { get; }

        /// <summary>The limit for native threads in workers, or null.</summary>
        public int? InnerMaxNumThreads { get; }

        /// <summary>The backend arguments, secrets masked.</summary>
        public Hashtable BackendArgument { get; }
    }
}
