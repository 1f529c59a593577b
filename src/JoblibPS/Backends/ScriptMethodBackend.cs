using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Runspaces;

namespace JoblibPS.Backends
{
    /// <summary>
    /// A backend written without a class (joblib's duck typing): any object whose members are the contract's methods,
    /// usually script methods added with <c>Add-Member -MemberType ScriptMethod</c> (<c>$this</c> is the object), and
    /// optionally note or script properties named like the capability flags and DefaultNJobs. This adapter derives
    /// from <see cref="ParallelBackendBase"/> and calls the object's methods, falling back to the base class's
    /// defaults for those it lacks. EffectiveNJobs and Submit are required.
    /// </summary>
    /// <remarks>
    /// Threads: the engine calls this adapter on its pipeline thread, which may belong to another runspace than
    /// the one that defined the script methods (a nested call in a worker). A script method must run in the
    /// runspace that defined it, so every call goes through <see cref="RunspaceDispatcher"/> to
    /// <see cref="Owner"/>. The Submit callback is a .NET delegate and may be called from any thread.
    /// The capability flags are read once, when the object is wrapped.
    /// </remarks>
    internal sealed class ScriptMethodBackend : ParallelBackendBase
    {
        /// <summary>The members a script-method backend must have; everything else has a default.</summary>
        public static readonly IReadOnlyList<string> RequiredMembers = new[] { nameof(EffectiveNJobs), nameof(Submit) };

        private static readonly string[] Flags =
        {
            nameof(SupportsRetrieveCallback), nameof(SupportsTimeout), nameof(SupportsInnerMaxNumThreads),
            nameof(SupportsReturnGenerator), nameof(SupportsSharedMem), nameof(UsesThreads),
        };

        private readonly string _name;

        private ScriptMethodBackend(string name, PSObject target, Runspace owner)
        {
            _name = name;
            Target = target;
            Owner = owner;
        }

        /// <summary>The user's object; its methods are called with <c>$this</c> bound to it.</summary>
        public PSObject Target { get; }

        /// <summary>The runspace that ran the factory, where the object's script methods run.</summary>
        public Runspace Owner { get; }

        /// <summary>
        /// True when <paramref name="value"/> could be a script-method backend: one object that is not null, not a
        /// string and not a primitive value. Those fail as "not a backend" rather than as a missing member.
        /// </summary>
        public static bool IsCandidate(object value)
        {
            object baseObject = value is PSObject pso ? pso.BaseObject : value;
            return baseObject != null && !(baseObject is string) && !baseObject.GetType().IsPrimitive && !(baseObject is IList);
        }

        /// <summary>
        /// Wraps <paramref name="value"/>, made by the factory of the backend <paramref name="name"/> in
        /// <paramref name="owner"/>. Throws <see cref="BackendContractException"/> naming the first required member
        /// it lacks.
        /// </summary>
        public static ScriptMethodBackend Wrap(string name, object value, Runspace owner)
        {
            PSObject target = PSObject.AsPSObject(value);
            foreach (string member in RequiredMembers)
            {
                if (target.Methods[member] == null)
                {
                    throw new BackendContractException(
                        $"The backend '{name}' was returned by its factory as an object without a {member} method, which every backend needs ({string.Join(" and ", RequiredMembers)}). " +
                        $"Add it as a script method: $backend | Add-Member -MemberType ScriptMethod -Name {member} -Value {{ param(...) ... }} (see Get-Help about_JoblibPS_Backends), or derive a class from JoblibPS.ParallelBackendBase.");
                }
            }
            var backend = new ScriptMethodBackend(name, target, owner);
            RunspaceDispatcher.Invoke(owner, () =>
            {
                foreach (string flag in Flags)
                {
                    PSPropertyInfo property = target.Properties[flag];
                    if (property != null) typeof(ParallelBackendBase).GetProperty(flag).SetValue(backend, LanguagePrimitives.IsTrue(property.Value));
                }
                PSPropertyInfo nJobs = target.Properties[nameof(DefaultNJobs)];
                if (nJobs != null) backend.DefaultNJobs = LanguagePrimitives.ConvertTo<int>(nJobs.Value);
                return null;
            });
            return backend;
        }

        /// <summary>The object's <paramref name="method"/> with these arguments, in <see cref="Owner"/>; <paramref name="fallback"/> when it has no such method.</summary>
        private object Call(string method, Func<object> fallback, params object[] arguments)
        {
            PSMethodInfo info = Target.Methods[method];
            if (info == null) return fallback();
            PSPropertyInfo level = Target.Properties[nameof(NestingLevel)];
            int nestingLevel = NestingLevel;
            var box = (Box)RunspaceDispatcher.Invoke(Owner, () =>
            {
                // The engine sets NestingLevel on this adapter; a script that reads $this.NestingLevel sees it.
                if (level != null && level.IsSettable) level.Value = nestingLevel;
                return new Box { Value = info.Invoke(arguments) };
            });
            return box.Value;
        }

        // Carries a method's return value whole through RunspaceDispatcher (which unwraps a PSObject and, from
        // another runspace, would enumerate an array).
        private sealed class Box
        {
            public object Value;
        }

        private static T As<T>(object value)
        {
            return LanguagePrimitives.ConvertTo<T>(value);
        }

        /// <summary>Results and futures come back as they were made, not in the PSObject wrapper PowerShell adds.</summary>
        private static object Plain(object value)
        {
            return value is PSObject pso && !(pso.BaseObject is PSCustomObject) ? pso.BaseObject : value;
        }

        public override int EffectiveNJobs(int nJobs) => As<int>(Call(nameof(EffectiveNJobs), null, nJobs));

        public override int Configure(int nJobs, ParallelCall parallel, IDictionary backendArgs)
        {
            Parallel = parallel;
            return As<int>(Call(nameof(Configure), () => base.Configure(nJobs, parallel, backendArgs), nJobs, parallel, backendArgs));
        }

        public override void StartCall() => Call(nameof(StartCall), () => { base.StartCall(); return null; });

        public override void StopCall() => Call(nameof(StopCall), () => { base.StopCall(); return null; });

        public override object Submit(BatchTask task, Action<object> callback) => Plain(Call(nameof(Submit), null, task, callback));

        public override object RetrieveResultCallback(object future) =>
            Plain(Call(nameof(RetrieveResultCallback), () => base.RetrieveResultCallback(future), future));

        public override object RetrieveResult(object future, TimeSpan timeout) =>
            Plain(Call(nameof(RetrieveResult), () => base.RetrieveResult(future, timeout), future, timeout));

        public override void AbortEverything(bool ensureReady) =>
            Call(nameof(AbortEverything), () => { base.AbortEverything(ensureReady); return null; }, ensureReady);

        public override void Terminate() => Call(nameof(Terminate), () => { base.Terminate(); return null; });

        public override NestedBackend GetNestedBackend()
        {
            object nested = Plain(Call(nameof(GetNestedBackend), () => base.GetNestedBackend()));
            return nested == null ? null : As<NestedBackend>(nested);
        }

        public override int ComputeBatchSize() => As<int>(Call(nameof(ComputeBatchSize), () => base.ComputeBatchSize()));

        public override void BatchCompleted(int batchSize, TimeSpan duration) =>
            Call(nameof(BatchCompleted), () => { base.BatchCompleted(batchSize, duration); return null; }, batchSize, duration);

        public override string ToString() => BackendRegistry.NameOf(this) ?? _name;
    }

    /// <summary>A backend object that cannot serve as a backend (a script-method backend without a required member).</summary>
    internal sealed class BackendContractException : InvalidOperationException
    {
        public BackendContractException(string message) : base(message) { }
    }
}
