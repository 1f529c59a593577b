using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Threading;
using JoblibPS.Caller;
using JoblibPS.Driver;

namespace JoblibPS.Runspaces
{
    /// <summary>
    /// The module's warm in-process runspaces, shared by every in-process backend and by <see cref="BatchTask.Invoke"/>.
    /// </summary>
    /// <remarks>
    /// Opening a runspace costs tens of milliseconds, more than a whole small call; so runspaces go back here
    /// when a call ends and serve the next one. A returned runspace is reset (variables, location, functions, about
    /// a millisecond through the provider API) by the thread that returns it, before it is rented again; one that
    /// broke is closed instead. Not later on a thread-pool thread: pwsh closes every runspace as it exits, and closing
    /// one while a reset's SessionStateProxy call runs in it ends the process with Environment.FailFast (seen when a
    /// script ended right after a call).
    /// Idle runspaces close after <see cref="IdleTimeout"/>, and <see cref="CloseAll"/> (Remove-Module) closes
    /// every one. Thread-safe.
    /// Each runspace runs on the thread that invokes it (<see cref="PSThreadOptions.UseCurrentThread"/>), so the
    /// backend decides the threads. Each holds the driver as the function <see cref="WorkerDriver.FunctionName"/>,
    /// parsed and compiled once per runspace instead of once per batch.
    /// </remarks>
    internal static class LocalRunspaceCache
    {
        private static readonly object Gate = new object();
        private static readonly Stack<IdleRunspace> Idle = new Stack<IdleRunspace>();
        private static readonly HashSet<Runspace> Live = new HashSet<Runspace>();
        private static Timer _reaper;
        private static readonly HashSet<Runspace> Resetting = new HashSet<Runspace>();
        private static readonly TimeSpan ResetWait = TimeSpan.FromSeconds(2);
        private static InitialSessionState _sessionState;

        /// <summary>How long an idle runspace stays warm: joblib's idle worker timeout for loky (300 s).</summary>
        public static TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(300);

        /// <summary>The runspaces open now, rented or idle.</summary>
        public static int LiveCount
        {
            get { lock (Gate) return Live.Count; }
        }

        /// <summary>The runspaces in use now: open, and neither idle nor being reset after their return.</summary>
        public static int RentedCount
        {
            get { lock (Gate) return Live.Count(r => !Resetting.Contains(r) && !Idle.Any(i => i.Runspace == r)); }
        }

        /// <summary>The idle runspaces kept warm now.</summary>
        public static int IdleCount
        {
            get { lock (Gate) return Idle.Count; }
        }

        /// <summary>Returns an open, idle runspace for the caller's exclusive use until <see cref="Return"/>.</summary>
        public static Runspace Rent()
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                IdleRunspace idle = null;
                lock (Gate)
                {
                    if (Idle.Count > 0)
                    {
                        idle = Idle.Pop();
                    }
                    else if (Resetting.Count > 0 && waited.Elapsed < ResetWait)
                    {
                        // A returned runspace is being reset (about a millisecond): waiting for it costs far less
                        // than opening one. A reset that takes longer than ResetWait is not waited for.
                        Monitor.Wait(Gate, ResetWait);
                        continue;
                    }
                }
                if (idle == null) break;
                if (idle.Runspace.RunspaceStateInfo.State != RunspaceState.Opened)
                {
                    Discard(idle.Runspace);
                    continue;
                }
                return idle.Runspace;
            }
            return Open();
        }

        /// <summary>Waits until no returned runspace is being reset (at most <paramref name="timeout"/>); true when none is.</summary>
        internal static bool WaitForResets(TimeSpan timeout)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            lock (Gate)
            {
                while (Resetting.Count > 0)
                {
                    TimeSpan left = timeout - clock.Elapsed;
                    if (left <= TimeSpan.Zero) return false;
                    Monitor.Wait(Gate, left);
                }
                return true;
            }
        }

        /// <summary>
        /// Brings a used runspace back to its state when opened: PowerShell's ResetRunspaceState (variables,
        /// location), then the global functions and aliases a call defined, which ResetRunspaceState keeps (and the
        /// driver's function, should a call have removed it). Imported modules stay loaded, as in a warm worker
        /// process. The runspace must not be in use.
        /// </summary>
        public static void Reset(Runspace runspace)
        {
            WorkerSetup.Forget(runspace);
            runspace.ResetRunspaceState();
            // Through the provider API rather than a script: a pipeline of Get-ChildItem | Where-Object | Remove-Item
            // cost about 5 ms per runspace, this about 0.3 ms.
            ProviderIntrinsics provider = runspace.SessionStateProxy.InvokeProvider;
            RemoveAllBut(provider, "function:", Baseline.Functions);
            RemoveAllBut(provider, "alias:", Baseline.Aliases);
            if (!provider.Item.Exists("function:" + WorkerDriver.FunctionName))
            {
                provider.Item.New("function:", WorkerDriver.FunctionName, null, ScriptBlock.Create(WorkerDriver.Text));
            }
        }

        private static void RemoveAllBut(ProviderIntrinsics provider, string drive, HashSet<string> keep)
        {
            foreach (PSObject entry in provider.ChildItem.Get(drive, false))
            {
                string name = (entry.BaseObject as CommandInfo)?.Name;
                if (name != null && !keep.Contains(name))
                {
                    // Literal: a function or alias name may hold wildcard characters ('[', '*', '?').
                    provider.Item.Remove(new[] { drive + name }, false, true, true);
                }
            }
        }

        /// <summary>The global functions and aliases of a freshly opened worker runspace.</summary>
        private static class Baseline
        {
            public static readonly HashSet<string> Functions;
            public static readonly HashSet<string> Aliases;

            static Baseline()
            {
                Functions = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                Aliases = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                using (Runspace fresh = RunspaceFactory.CreateRunspace(WorkerSessionState))
                {
                    fresh.ThreadOptions = PSThreadOptions.UseCurrentThread;
                    fresh.Open();
                    using (var ps = PowerShell.Create())
                    {
                        ps.Runspace = fresh;
                        foreach (PSObject name in ps.AddScript("(Get-ChildItem function:).Name").Invoke()) Functions.Add(name.ToString());
                        ps.Commands.Clear();
                        foreach (PSObject name in ps.AddScript("(Get-ChildItem alias:).Name").Invoke()) Aliases.Add(name.ToString());
                    }
                }
            }
        }

        /// <summary>Gives a rented runspace back; an unhealthy one is closed, a healthy one is reset now, on the calling thread.</summary>
        public static void Return(Runspace runspace, bool healthy)
        {
            if (runspace == null) return;
            if (!healthy || runspace.RunspaceStateInfo.State != RunspaceState.Opened)
            {
                Discard(runspace);
                return;
            }
            lock (Gate)
            {
                if (!Live.Contains(runspace))
                {
                    // Closed by CloseAll while rented.
                    runspace.Dispose();
                    return;
                }
                Resetting.Add(runspace);
            }
            ResetAndKeep(runspace);
        }

        private static void ResetAndKeep(Runspace runspace)
        {
            // Never throws: a returning worker's thread must not end on a failed reset.
            bool reset = false;
            try
            {
                Reset(runspace);
                reset = true;
            }
            catch (Exception)
            {
                // Broken, or closed by CloseAll meanwhile: it is discarded below.
            }
            bool kept = false;
            lock (Gate)
            {
                Resetting.Remove(runspace);
                if (reset && Live.Contains(runspace))
                {
                    Idle.Push(new IdleRunspace(runspace, DateTime.UtcNow));
                    if (_reaper == null)
                    {
                        _reaper = new Timer(_ => Reap(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
                    }
                    kept = true;
                }
                Monitor.PulseAll(Gate);
            }
            if (!kept) Discard(runspace);
        }

        /// <summary>
        /// Closes every runspace, idle or rented (a rented one is closed under its user). Resets under way are waited
        /// for (about a millisecond each); one still running after <see cref="ResetWait"/> is left to its reset, which
        /// disposes it when done: closing a runspace while a SessionStateProxy call runs in it ends the whole process
        /// (PowerShell calls Environment.FailFast).
        /// </summary>
        public static void CloseAll()
        {
            WaitForResets(ResetWait);
            List<Runspace> all;
            lock (Gate)
            {
                all = Live.Where(r => !Resetting.Contains(r)).ToList();
                Live.Clear();
                Idle.Clear();
                _reaper?.Dispose();
                _reaper = null;
            }
            foreach (Runspace runspace in all)
            {
                try { runspace.Dispose(); } catch (Exception) { }
            }
        }

        /// <summary>The session state of every worker runspace: PowerShell's defaults plus this module's cmdlets, for nested calls.</summary>
        internal static InitialSessionState WorkerSessionState
        {
            get
            {
                lock (Gate)
                {
                    if (_sessionState == null)
                    {
                        var iss = InitialSessionState.CreateDefault2();
                        foreach (Type type in typeof(LocalRunspaceCache).Assembly.GetTypes())
                        {
                            var attribute = type.GetCustomAttribute<CmdletAttribute>();
                            if (attribute != null && typeof(PSCmdlet).IsAssignableFrom(type))
                            {
                                iss.Commands.Add(new SessionStateCmdletEntry(attribute.VerbName + "-" + attribute.NounName, type, null));
                            }
                        }
                        foreach (SessionStateFunctionEntry function in ModuleScriptFunctions()) iss.Commands.Add(function);
                        iss.Commands.Add(new SessionStateFunctionEntry(WorkerDriver.FunctionName, WorkerDriver.Text));
                        iss.ThreadOptions = PSThreadOptions.UseCurrentThread;
                        _sessionState = iss;
                    }
                    return _sessionState;
                }
            }
        }

        /// <summary>
        /// The functions of the module's script part (JoblibPS.psm1 beside the dll: Use-JoblibConfig), so that a worker
        /// has the whole module, not only its cmdlets. None when the dll was loaded without its module folder.
        /// </summary>
        private static IEnumerable<SessionStateFunctionEntry> ModuleScriptFunctions()
        {
            string folder = System.IO.Path.GetDirectoryName(typeof(LocalRunspaceCache).Assembly.Location) ?? ".";
            string psm1 = System.IO.Path.Combine(folder, "JoblibPS.psm1");
            if (!System.IO.File.Exists(psm1)) yield break;
            var ast = System.Management.Automation.Language.Parser.ParseFile(psm1, out _, out var errors);
            if (errors.Length > 0) yield break;
            foreach (var function in ast.FindAll(a => a is System.Management.Automation.Language.FunctionDefinitionAst, false)
                .Cast<System.Management.Automation.Language.FunctionDefinitionAst>())
            {
                yield return new SessionStateFunctionEntry(function.Name, function.Body.Extent.Text.Substring(1, function.Body.Extent.Text.Length - 2));
            }
        }

        private static Runspace Open()
        {
            Runspace runspace = RunspaceFactory.CreateRunspace(WorkerSessionState);
            runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            runspace.Name = "JoblibPS worker";
            lock (Gate)
            {
                Live.Add(runspace);
            }
            try
            {
                runspace.Open();
                WorkerDriver.MarkHolder(runspace);
            }
            catch
            {
                Discard(runspace);
                throw;
            }
            return runspace;
        }

        private static void Discard(Runspace runspace)
        {
            lock (Gate)
            {
                Live.Remove(runspace);
            }
            try { runspace.Dispose(); } catch (Exception) { }
        }

        private static void Reap()
        {
            var expired = new List<Runspace>();
            lock (Gate)
            {
                DateTime cutoff = DateTime.UtcNow - IdleTimeout;
                var keep = Idle.Reverse().Where(i => i.Since > cutoff).ToList();
                expired.AddRange(Idle.Where(i => i.Since <= cutoff).Select(i => i.Runspace));
                Idle.Clear();
                foreach (IdleRunspace item in keep) Idle.Push(item);
                if (Idle.Count == 0)
                {
                    _reaper?.Dispose();
                    _reaper = null;
                }
            }
            foreach (Runspace runspace in expired) Discard(runspace);
        }

        private sealed class IdleRunspace
        {
            public IdleRunspace(Runspace runspace, DateTime since)
            {
                Runspace = runspace;
                Since = since;
            }

            public Runspace Runspace { get; }
            public DateTime Since { get; }
        }
    }
}
