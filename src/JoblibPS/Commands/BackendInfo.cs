using System;

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

        /// <summary>Capabilities, when they can be read without arguments (a parameterless constructor); else null.</summary>
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
                info.UsesThreads = probe.UsesThreads;
                info.SupportsSharedMem = probe.SupportsSharedMem;
                info.SupportsRetrieveCallback = probe.SupportsRetrieveCallback;
                info.SupportsTimeout = probe.SupportsTimeout;
                info.SupportsInnerMaxNumThreads = probe.SupportsInnerMaxNumThreads;
                info.SupportsReturnGenerator = probe.SupportsReturnGenerator;
                info.DefaultNJobs = probe.DefaultNJobs;
            }
            return info;
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
