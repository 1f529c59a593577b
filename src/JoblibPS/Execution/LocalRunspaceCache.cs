using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Threading;

namespace JoblibPS.Execution
{
    /// <summary>
    /// The module's warm in-process runspaces, shared by every in-process backend and by <see cref="BatchTask.Invoke"/>.
    /// </summary>
    /// <remarks>
    /// Opening a runspace costs tens of milliseconds, more than a whole small call; so runspaces go back here
    /// when a call ends and serve the next one. A returned runspace is reset (variables, location) before it is
    /// rented again; one that broke is closed instead. Idle runspaces close after <see cref="IdleTimeout"/>,
    /// and <see cref="CloseAll"/> (Remove-Module) closes every one. Thread-safe.
    /// Each runspace runs on the thread that invokes it (<see cref="PSThreadOptions.UseCurrentThread"/>), so the
    /// backend decides the threads.
    /// </remarks>
    internal static class LocalRunspaceCache
    {
        private static readonly object Gate = new object();
        private static readonly Stack<IdleRunspace> Idle = new Stack<IdleRunspace>();
        private static readonly HashSet<Runspace> Live = new HashSet<Runspace>();
        private static Timer _reaper;
        private static InitialSessionState _sessionState;

        /// <summary>How long an idle runspace stays warm: joblib's idle worker timeout for loky (300 s).</summary>
        public static TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(300);

        /// <summary>The runspaces open now, rented or idle.</summary>
        public static int LiveCount
        {
            get { lock (Gate) return Live.Count; }
        }

        /// <summary>The idle runspaces kept warm now.</summary>
        public static int IdleCount
        {
            get { lock (Gate) return Idle.Count; }
        }

        /// <summary>Returns an open, idle runspace for the caller's exclusive use until <see cref="Return"/>.</summary>
        public static Runspace Rent()
        {
            while (true)
            {
                IdleRunspace idle = null;
                lock (Gate)
                {
                    if (Idle.Count > 0) idle = Idle.Pop();
                }
                if (idle == null) break;
                if (idle.Runspace.RunspaceStateInfo.State != RunspaceState.Opened)
                {
                    Discard(idle.Runspace);
                    continue;
                }
                if (idle.NeedsReset)
                {
                    try
                    {
                        Reset(idle.Runspace);
                    }
                    catch (Exception)
                    {
                        Discard(idle.Runspace);
                        continue;
                    }
                }
                return idle.Runspace;
            }
            return Open();
        }

        /// <summary>
        /// Brings a used runspace back to its state when opened: PowerShell's ResetRunspaceState (variables,
        /// location), then the global functions and aliases a call defined, which ResetRunspaceState keeps.
        /// Imported modules stay loaded, as in a warm worker process. Call on the thread that will use it.
        /// </summary>
        public static void Reset(Runspace runspace)
        {
            runspace.ResetRunspaceState();
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = runspace;
                ps.AddScript(@"param($functions, $aliases)
Get-ChildItem -Path function: | Where-Object { -not $functions.Contains($_.Name) } | Remove-Item -Force
Get-ChildItem -Path alias: | Where-Object { -not $aliases.Contains($_.Name) } | Remove-Item -Force", useLocalScope: true)
                    .AddArgument(Baseline.Functions).AddArgument(Baseline.Aliases);
                ps.Invoke();
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

        /// <summary>Gives a rented runspace back; an unhealthy one is closed.</summary>
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
                Idle.Push(new IdleRunspace(runspace, DateTime.UtcNow, needsReset: true));
                if (_reaper == null)
                {
                    _reaper = new Timer(_ => Reap(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
                }
            }
        }

        /// <summary>Closes every runspace, idle or rented (a rented one is closed under its user).</summary>
        public static void CloseAll()
        {
            List<Runspace> all;
            lock (Gate)
            {
                all = Live.ToList();
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
                        iss.ThreadOptions = PSThreadOptions.UseCurrentThread;
                        _sessionState = iss;
                    }
                    return _sessionState;
                }
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
            public IdleRunspace(Runspace runspace, DateTime since, bool needsReset)
            {
                Runspace = runspace;
                Since = since;
                NeedsReset = needsReset;
            }

            public Runspace Runspace { get; }
            public DateTime Since { get; }
            public bool NeedsReset { get; }
        }
    }
}
