using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using JoblibPS.Backends;
using JoblibPS.Errors;

namespace JoblibPS.Config
{
    /// <summary>What a call asked for explicitly (null = not given).</summary>
    internal sealed class ExplicitSettings
    {
        /// <summary>A backend name (string) or instance (ParallelBackendBase), or null.</summary>
        public object Backend { get; set; }

        public int? NJobs { get; set; }
    }

    /// <summary>The settings a call runs with, after precedence.</summary>
    internal sealed class ResolvedSettings
    {
        public ParallelBackendBase Backend { get; set; }

        /// <summary>True when the call created the backend and terminates it when it ends (a one-off call).</summary>
        public bool CallOwnsBackend { get; set; }

        /// <summary>True when the backend serves later calls (a config scope's), so an abort must leave it ready.</summary>
        public bool EnsureReadyOnAbort { get; set; }

        /// <summary>The requested number of jobs (before the backend's EffectiveNJobs); never 0.</summary>
        public int NJobs { get; set; }

        public IDictionary BackendArguments { get; set; }

        public int? InnerMaxNumThreads { get; set; }

        public string Prefer { get; set; }

        public string Require { get; set; }

        /// <summary>Why the backend or the number of jobs was chosen, for verbose messages; empty when nothing noteworthy.</summary>
        public List<string> Notes { get; } = new List<string>();

        /// <summary>The frame the backend came from, when a Use-JoblibConfig scope created it (and terminates it when the scope ends); else null.</summary>
        public ConfigFrame ScopeFrame { get; set; }
    }

    /// <summary>A config option the backend cannot honour.</summary>
    internal sealed class UnsupportedOptionException : InvalidOperationException
    {
        public UnsupportedOptionException(string message) : base(message) { }
    }

    /// <summary>-Backend was neither a name nor a backend object.</summary>
    internal sealed class InvalidBackendValueException : ArgumentException
    {
        public InvalidBackendValueException(object value)
            : base($"-Backend takes a backend name (see Get-JoblibBackend) or an object deriving from JoblibPS.ParallelBackendBase, not a {value.GetType().FullName}.")
        {
        }
    }

    /// <summary>
    /// The one precedence rule: an explicit parameter wins, then the innermost config frame that sets the value,
    /// then the default (the registry's default backend; the backend's DefaultNJobs).
    /// </summary>
    internal static class ConfigResolver
    {
        public static ResolvedSettings Resolve(ExplicitSettings given, IReadOnlyList<ConfigFrame> frames)
        {
            var result = new ResolvedSettings
            {
                NJobs = 0,
                Prefer = Innermost(frames, f => f.Prefer),
                Require = Innermost(frames, f => f.Require),
                InnerMaxNumThreads = InnermostValue(frames, f => f.InnerMaxNumThreads),
                BackendArguments = Innermost(frames, f => f.BackendArguments) ?? new Hashtable(),
            };
            int nestingLevel = CurrentNestingLevel(frames);
            ChooseBackend(result, given, frames, nestingLevel);

            if (RequiresSharedMemInstead(result.Require, result.Backend))
            {
                result.Notes.Add(SharedMemNote(result.Backend.ToString()));
                if (result.CallOwnsBackend) result.Backend.Terminate();
                result.Backend = BackendRegistry.Create("threading", new Hashtable());
                result.Backend.NestingLevel = nestingLevel;
                result.CallOwnsBackend = true;
                result.EnsureReadyOnAbort = false;
            }

            CheckSupported(result.Backend, result.InnerMaxNumThreads);
            int? nJobs = given.NJobs ?? InnermostValue(frames, f => f.NJobs);
            result.NJobs = nJobs ?? result.Backend.DefaultNJobs;
            if (nJobs == null && result.NJobs == 1) result.Notes.Add(OneJobByDefault(result.Backend));
            return result;
        }

        /// <summary>The call's backend, by the precedence rule: -Backend (an object or a name), the innermost scope's, -Prefer's, the default.</summary>
        private static void ChooseBackend(ResolvedSettings result, ExplicitSettings given, IReadOnlyList<ConfigFrame> frames, int nestingLevel)
        {
            object backend = given.Backend is PSObject pso ? pso.BaseObject : given.Backend;
            ConfigFrame backendFrame = InnermostFrame(frames, f => f.Backend != null);
            if (backend is ParallelBackendBase instance)
            {
                result.Backend = instance;
                result.CallOwnsBackend = true;
            }
            else if (backend is string backendName)
            {
                // Backend arguments of a scope belong to the backend that scope names.
                ConfigFrame argumentsFrame = InnermostFrame(frames, f => f.BackendArguments != null);
                bool sameBackend = argumentsFrame != null && (argumentsFrame.BackendName == null || string.Equals(argumentsFrame.BackendName, backendName, StringComparison.OrdinalIgnoreCase));
                result.BackendArguments = sameBackend ? argumentsFrame.BackendArguments : new Hashtable();
                result.Backend = BackendRegistry.Create(backendName, result.BackendArguments);
                result.Backend.NestingLevel = nestingLevel;
                result.CallOwnsBackend = true;
            }
            else if (backend != null)
            {
                throw new InvalidBackendValueException(backend);
            }
            else if (backendFrame != null)
            {
                result.Backend = backendFrame.Backend;
                result.CallOwnsBackend = !backendFrame.OwnsBackend;
                result.EnsureReadyOnAbort = backendFrame.OwnsBackend;
                if (backendFrame.OwnsBackend && backendFrame.CreatedBackend) result.ScopeFrame = backendFrame;
            }
            else
            {
                string name = PreferredBackendName(result.Prefer, BackendRegistry.DefaultName);
                result.Backend = BackendRegistry.Create(name, result.BackendArguments);
                result.Backend.NestingLevel = nestingLevel;
                result.CallOwnsBackend = true;
            }
        }

        /// <summary>
        /// The settings of a call resolved for a job (-AsJob), which outlives the call and so the scope it was started in:
        /// a backend that a Use-JoblibConfig scope created (and terminates when it ends) is replaced by a new one of
        /// the same name and arguments that the job owns; and the sequential backend, which runs work on the caller's
        /// pipeline thread, becomes the threading backend with one job (a job has no caller's thread to borrow: its
        /// one worker is a runspace of its own, which gets -ImportFunction, -ImportVariable and the rest as any
        /// threading worker does). Everything else (NJobs, arguments, Prefer, Require) stays as resolved at the call.
        /// </summary>
        public static ResolvedSettings ForJob(ResolvedSettings settings)
        {
            int nestingLevel = settings.Backend.NestingLevel;
            if (settings.ScopeFrame != null)
            {
                settings.Backend = BackendRegistry.Create(settings.ScopeFrame.BackendName, settings.ScopeFrame.BackendArguments ?? new Hashtable());
                settings.Backend.NestingLevel = nestingLevel;
                settings.CallOwnsBackend = true;
                settings.EnsureReadyOnAbort = false;
                settings.ScopeFrame = null;
            }
            if (settings.Backend is Backends.Sequential.SequentialBackend)
            {
                if (settings.CallOwnsBackend) settings.Backend.Terminate();
                settings.Backend = BackendRegistry.Create("threading", new Hashtable());
                settings.Backend.NestingLevel = nestingLevel;
                settings.CallOwnsBackend = true;
                settings.EnsureReadyOnAbort = false;
                settings.NJobs = 1;
                settings.Notes.Add("A job has no caller's thread to run the sequential backend's work on: it runs on one runspace of its own (the threading backend with 1 job).");
            }
            return settings;
        }

        /// <summary>The one rule for -NJobs 0, for Invoke-JoblibParallel and Use-JoblibConfig alike: null when the value is fine, else the error.</summary>
        public static ErrorRecord CheckNJobs(int nJobs)
        {
            return nJobs != 0 ? null : ErrorRecords.Argument(ErrorIds.InvalidNJobs, "-NJobs 0 has no meaning. Give a positive number of jobs, -1 for all CPUs, or -k for all CPUs but k-1.", 0);
        }

        /// <summary>The backend -Prefer asks for when no backend is named: loky for processes (when registered), else the default.</summary>
        public static string PreferredBackendName(string prefer, string fallback)
        {
            if (string.Equals(prefer, "processes", StringComparison.OrdinalIgnoreCase) && BackendRegistry.Find("loky") != null) return "loky";
            if (string.Equals(prefer, "threads", StringComparison.OrdinalIgnoreCase) && BackendRegistry.Find("threading") != null) return "threading";
            return fallback;
        }

        /// <summary>True when -Require sharedmem rules out <paramref name="backend"/>, which must then give way to threading.</summary>
        public static bool RequiresSharedMemInstead(string require, ParallelBackendBase backend)
        {
            return string.Equals(require, "sharedmem", StringComparison.OrdinalIgnoreCase) && backend != null && !backend.SupportsSharedMem;
        }

        /// <summary>The verbose note when -Require sharedmem replaced a backend.</summary>
        public static string SharedMemNote(string backendName)
        {
            return $"The backend '{backendName}' does not share memory with the caller, which -Require sharedmem needs: using 'threading' instead.";
        }

        /// <summary>
        /// The verbose note for a call that runs one job only because nothing asked for more: joblib's default of
        /// one job stays, and the note names what to give instead.
        /// </summary>
        internal static string OneJobByDefault(ParallelBackendBase backend)
        {
            return $"Running one job: neither -NJobs nor a Use-JoblibConfig scope asked for more, and the backend '{backend}' defaults to 1 (DefaultNJobs, as in joblib). Give -NJobs 4, or -NJobs -1 for one job per processor, to run in parallel.";
        }

        /// <summary>
        /// The number of jobs a call made here without -NJobs asks for (what Get-JoblibConfig shows): the innermost
        /// frame that sets one, else the DefaultNJobs of the backend in force (the innermost frame's, else the
        /// session's default backend). Null when that backend's DefaultNJobs cannot be read without creating it
        /// (a script-block factory, or a type without a parameterless constructor).
        /// </summary>
        public static int? NJobsInForce(IReadOnlyList<ConfigFrame> frames)
        {
            int? nJobs = InnermostValue(frames, f => f.NJobs);
            if (nJobs.HasValue) return nJobs;
            ConfigFrame backendFrame = InnermostFrame(frames, f => f.Backend != null);
            if (backendFrame != null) return backendFrame.Backend.DefaultNJobs;
            BackendRegistration registration = BackendRegistry.Find(BackendRegistry.DefaultName);
            return registration == null ? (int?)null : BackendInfo.From(registration).DefaultNJobs;
        }

        /// <summary>Throws <see cref="UnsupportedOptionException"/> when the backend cannot honour a config option.</summary>
        public static void CheckSupported(ParallelBackendBase backend, int? innerMaxNumThreads)
        {
            if (innerMaxNumThreads.HasValue && !backend.SupportsInnerMaxNumThreads)
            {
                throw new UnsupportedOptionException(
                    $"-InnerMaxNumThreads limits native threads inside worker processes, and the backend '{backend}' does not support it (SupportsInnerMaxNumThreads is false). Use a process backend such as loky, or leave -InnerMaxNumThreads out.");
            }
        }

        /// <summary>
        /// The checkpoint a call made here without -Checkpoint uses: the innermost Use-JoblibConfig scope's, but never
        /// one from outside a worker frame (a call nested in an item, on the sequential backend, does not take its
        /// outer call's checkpoint, which that call holds).
        /// </summary>
        public static string CheckpointInForce(IReadOnlyList<ConfigFrame> frames)
        {
            for (int i = frames.Count - 1; i >= 0; i--)
            {
                if (frames[i].IsWorker) return null;
                if (frames[i].Checkpoint != null) return frames[i].Checkpoint;
            }
            return null;
        }

        /// <summary>The nesting level of calls made here: the level of the innermost worker frame's backend, or 0.</summary>
        public static int CurrentNestingLevel(IReadOnlyList<ConfigFrame> frames)
        {
            ConfigFrame worker = InnermostFrame(frames, f => f.IsWorker);
            return worker?.Backend?.NestingLevel ?? 0;
        }

        private static ConfigFrame InnermostFrame(IReadOnlyList<ConfigFrame> frames, Func<ConfigFrame, bool> sets)
        {
            for (int i = frames.Count - 1; i >= 0; i--)
            {
                if (sets(frames[i])) return frames[i];
            }
            return null;
        }

        private static T Innermost<T>(IReadOnlyList<ConfigFrame> frames, Func<ConfigFrame, T> value) where T : class
        {
            for (int i = frames.Count - 1; i >= 0; i--)
            {
                T v = value(frames[i]);
                if (v != null) return v;
            }
            return null;
        }

        private static T? InnermostValue<T>(IReadOnlyList<ConfigFrame> frames, Func<ConfigFrame, T?> value) where T : struct
        {
            for (int i = frames.Count - 1; i >= 0; i--)
            {
                T? v = value(frames[i]);
                if (v.HasValue) return v;
            }
            return null;
        }
    }
}
