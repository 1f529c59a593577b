using System;
using System.Runtime.CompilerServices;
using JoblibPS.Backends;

namespace JoblibPS
{
    /// <summary>What Get-JoblibBackend shows of one registered backend.</summary>
    public sealed class BackendInfo
    {
        /// <summary>The name to give -Backend.</summary>
        public string Name { get; private set; }

        /// <summary>Built-in, registered or external.</summary>
        public BackendSource Source { get; private set; }

        /// <summary>The backend type's full name; for a script-block factory, 'ScriptBlock factory'; for an external backend, its module.</summary>
        public string Type { get; private set; }

        /// <summary>True for the session's default backend.</summary>
        public bool IsDefault { get; private set; }

        /// <summary>
        /// The backends that Register-JoblibBackend made from a script-block factory to check it, kept per registration
        /// so their capabilities can be shown; a registration that is replaced takes its entry with it.
        /// </summary>
        private static readonly ConditionalWeakTable<BackendRegistration, BackendInfo> ProbedCapabilities = new ConditionalWeakTable<BackendRegistration, BackendInfo>();

        /// <summary>Capabilities, when they can be read without arguments (a parameterless constructor, or a script-block factory that needs none); else null.</summary>
        public bool? UsesThreads { get; private set; }

        /// <summary>See <see cref="ParallelBackendBase.SupportsSharedMem"/>.</summary>
        public bool? SupportsSharedMem { get; private set; }

        /// <summary>See <see cref="ParallelBackendBase.SupportsRetrieveCallback"/>.</summary>
        public bool? SupportsRetrieveCallback { get; private set; }

        /// <summary>See <see cref="ParallelBackendBase.SupportsTimeout"/>.</summary>
        public bool? SupportsTimeout { get; private set; }

        /// <summary>See <see cref="ParallelBackendBase.SupportsInnerMaxNumThreads"/>.</summary>
        public bool? SupportsInnerMaxNumThreads { get; private set; }

        /// <summary>See <see cref="ParallelBackendBase.SupportsReturnGenerator"/>.</summary>
        public bool? SupportsReturnGenerator { get; private set; }

        /// <summary>See <see cref="ParallelBackendBase.DefaultNJobs"/>.</summary>
        public int? DefaultNJobs { get; private set; }

        internal static BackendInfo From(BackendRegistration registration)
        {
            var info = new BackendInfo
            {
                Name = registration.Name,
                Source = registration.Source,
                IsDefault = string.Equals(BackendRegistry.DefaultName, registration.Name, StringComparison.OrdinalIgnoreCase),
                Type = registration.BackendType?.FullName ?? (registration.Source == BackendSource.External ? "module " + registration.ModuleName : "ScriptBlock factory"),
            };
            ParallelBackendBase probe = Probe(registration.BackendType);
            if (probe != null)
            {
                info.CopyCapabilities(probe);
            }
            else if (ProbedCapabilities.TryGetValue(registration, out BackendInfo probed))
            {
                info.UsesThreads = probed.UsesThreads;
                info.SupportsSharedMem = probed.SupportsSharedMem;
                info.SupportsRetrieveCallback = probed.SupportsRetrieveCallback;
                info.SupportsTimeout = probed.SupportsTimeout;
                info.SupportsInnerMaxNumThreads = probed.SupportsInnerMaxNumThreads;
                info.SupportsReturnGenerator = probed.SupportsReturnGenerator;
                info.DefaultNJobs = probed.DefaultNJobs;
            }
            return info;
        }

        /// <summary>
        /// Keeps the capabilities of the backend a script-block factory returned when Register-JoblibBackend ran it
        /// (a script-method backend gives them as properties of its object, read once then); nothing for null.
        /// Only the flags are kept, not the backend.
        /// </summary>
        internal static void RememberCapabilities(BackendRegistration registration, ParallelBackendBase probe)
        {
            if (registration == null || probe == null) return;
            var capabilities = new BackendInfo();
            capabilities.CopyCapabilities(probe);
            ProbedCapabilities.Remove(registration);
            ProbedCapabilities.Add(registration, capabilities);
        }

        private void CopyCapabilities(ParallelBackendBase probe)
        {
            UsesThreads = probe.UsesThreads;
            SupportsSharedMem = probe.SupportsSharedMem;
            SupportsRetrieveCallback = probe.SupportsRetrieveCallback;
            SupportsTimeout = probe.SupportsTimeout;
            SupportsInnerMaxNumThreads = probe.SupportsInnerMaxNumThreads;
            SupportsReturnGenerator = probe.SupportsReturnGenerator;
            DefaultNJobs = probe.DefaultNJobs;
        }

        /// <summary>An instance made only to read capability flags; constructors allocate nothing by contract (resources come with Configure).</summary>
        private static ParallelBackendBase Probe(Type type)
        {
            if (type == null || type.GetConstructor(System.Type.EmptyTypes) == null) return null;
            try
            {
                return (ParallelBackendBase)Activator.CreateInstance(type);
            }
            catch (Exception)
            {
                return null;
            }
        }
    }
}
