using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using JoblibPS.Backends.Sequential;
using JoblibPS.Backends.Threading;

namespace JoblibPS.Backends
{
    /// <summary>One registered backend: its name and how to create an instance from backend arguments.</summary>
    internal sealed class BackendRegistration
    {
        internal BackendRegistration(string name, BackendSource source, Type backendType, Func<IDictionary, ParallelBackendBase> factory, string moduleName = null)
        {
            Name = name;
            Source = source;
            BackendType = backendType;
            Factory = factory;
            ModuleName = moduleName;
        }

        /// <summary>For an external backend, the module whose import registers it.</summary>
        public string ModuleName { get; }

        /// <summary>The name users give to -Backend.</summary>
        public string Name { get; }

        /// <summary>Built-in, registered or external.</summary>
        public BackendSource Source { get; }

        /// <summary>The backend's type, when known before an instance exists.</summary>
        public Type BackendType { get; }

        internal Func<IDictionary, ParallelBackendBase> Factory { get; }
    }

    /// <summary>
    /// The backends known by name. Registrations live in the process (not per runspace): a nested call inside a
    /// worker runspace can name any backend its caller registered. The built-ins are registered the same way as
    /// user backends. Thread-safe.
    /// </summary>
    internal static class BackendRegistry
    {
        /// <summary>The name of the default backend when nothing else is set.</summary>
        public const string DefaultBuiltInName = "threading";

        private static readonly object Gate = new object();
        private static readonly Dictionary<string, BackendRegistration> Registrations = new Dictionary<string, BackendRegistration>(StringComparer.OrdinalIgnoreCase);
        private static readonly ConditionalWeakTable<ParallelBackendBase, string> Names = new ConditionalWeakTable<ParallelBackendBase, string>();
        private static string _defaultName = DefaultBuiltInName;

        static BackendRegistry()
        {
            RegisterBuiltIn("sequential", typeof(SequentialBackend), arguments => { Backends.BackendArguments.RejectUnknown("sequential", arguments, new string[0]); return new SequentialBackend(); });
            RegisterBuiltIn("threading", typeof(ThreadingBackend), arguments => { Backends.BackendArguments.RejectUnknown("threading", arguments, new string[0]); return new ThreadingBackend(); });
            RegisterBuiltIn("loky", typeof(Backends.Process.LokyBackend), arguments => new Backends.Process.LokyBackend(arguments));
            RegisterBuiltIn("multiprocessing", typeof(Backends.Process.MultiprocessingBackend), arguments => new Backends.Process.MultiprocessingBackend(arguments));
            RegisterBuiltIn("remote", typeof(Backends.Remote.RemoteBackend), arguments => new Backends.Remote.RemoteBackend(arguments));
        }

        /// <summary>The name of the backend used when neither -Backend nor a config scope names one.</summary>
        public static string DefaultName
        {
            get { lock (Gate) return _defaultName; }
        }

        /// <summary>The registered names, sorted.</summary>
        public static IReadOnlyList<string> RegisteredNames
        {
            get
            {
                lock (Gate) return Registrations.Keys.OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            }
        }

        /// <summary>Every registration, sorted by name.</summary>
        public static IReadOnlyList<BackendRegistration> All
        {
            get
            {
                lock (Gate) return Registrations.Values.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ToList();
            }
        }

        /// <summary>Looks a registration up by name (case-insensitive); null when none.</summary>
        public static BackendRegistration Find(string name)
        {
            lock (Gate)
            {
                return name != null && Registrations.TryGetValue(name, out BackendRegistration registration) ? registration : null;
            }
        }

        /// <summary>Creates a backend by name; throws <see cref="KeyNotFoundException"/> listing the registered names when unknown.</summary>
        public static ParallelBackendBase Create(string name, IDictionary backendArguments)
        {
            BackendRegistration registration = Find(name) ?? throw new KeyNotFoundException(UnknownMessage(name));
            if (registration.Source == BackendSource.External)
            {
                registration = ExternalBackends.Load(registration);
            }
            ParallelBackendBase backend = registration.Factory(backendArguments ?? new Hashtable());
            if (backend == null)
            {
                throw new InvalidOperationException($"The factory of backend '{registration.Name}' returned nothing; it must return a ParallelBackendBase.");
            }
            Remember(backend, registration.Name);
            return backend;
        }

        /// <summary>The message for an unknown backend name: what was asked and what is registered.</summary>
        public static string UnknownMessage(string name)
        {
            return $"There is no backend named '{name}'. Registered backends: {string.Join(", ", RegisteredNames)}. Register your own with Register-JoblibBackend.";
        }

        /// <summary>The name a backend instance was created under, or null.</summary>
        public static string NameOf(ParallelBackendBase backend)
        {
            if (backend == null) return null;
            if (Names.TryGetValue(backend, out string name)) return name;
            lock (Gate)
            {
                // An instance made directly (a nested backend, or -Backend ([ThreadingBackend]::new())): its type's name.
                return Registrations.Values.FirstOrDefault(r => r.BackendType == backend.GetType())?.Name;
            }
        }

        internal static void Remember(ParallelBackendBase backend, string name)
        {
            Names.Remove(backend);
            Names.Add(backend, name);
        }

        internal static void Register(BackendRegistration registration)
        {
            lock (Gate) Registrations[registration.Name] = registration;
        }

        internal static bool Unregister(string name)
        {
            lock (Gate)
            {
                if (!Registrations.TryGetValue(name, out BackendRegistration registration) || registration.Source == BackendSource.BuiltIn)
                {
                    return false;
                }
                Registrations.Remove(name);
                if (string.Equals(_defaultName, name, StringComparison.OrdinalIgnoreCase)) _defaultName = DefaultBuiltInName;
                return true;
            }
        }

        internal static void SetDefault(string name)
        {
            lock (Gate) _defaultName = name;
        }

        private static void RegisterBuiltIn(string name, Type type, Func<IDictionary, ParallelBackendBase> factory)
        {
            Registrations[name] = new BackendRegistration(name, BackendSource.BuiltIn, type, factory);
        }
    }
}
