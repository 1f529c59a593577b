using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace JoblibPS.Caller
{
    /// <summary>
    /// Finds what a script block needs in a worker that the caller's session has: the functions it calls that the
    /// caller defined outside any module (transitively: the functions those call, too; a function called by an alias
    /// is defined under both names), and the modules of the other
    /// commands it calls. Runs once per call, in the caller, on the pipeline thread.
    /// </summary>
    /// <remarks>
    /// Commands are found by name in the syntax tree (<see cref="CommandAst.GetCommandName"/>), so a command called
    /// through a variable (<c>&amp; $name</c>) is not seen: -ImportFunction names those. Lookups go through the
    /// caller's function drive and its imported modules only, never command discovery, which would autoload modules
    /// for names it does not know. Modules under $PSHOME (PowerShell's own, which autoload in every worker) and
    /// JoblibPS itself (every worker has it) are left out.
    /// </remarks>
    internal static class CommandCollector
    {
        /// <summary>Collects from <paramref name="scriptBlock"/> and the functions matched by <paramref name="importFunction"/> into <paramref name="setup"/>.</summary>
        /// <exception cref="ArgumentException">A pattern of <paramref name="importFunction"/> matches no function; the message names it.</exception>
        public static void Collect(ScriptBlock scriptBlock, string[] importFunction, SessionState caller, WorkerSetup setup)
        {
            var functions = FunctionsOf(caller);
            var exports = new Lazy<Dictionary<string, PSModuleInfo>>(() => ExportsOf(caller));
            var pending = new Queue<string>(CommandNames(scriptBlock.Ast));
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (string pattern in importFunction ?? Array.Empty<string>())
            {
                var wildcard = WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase);
                var matched = functions.Keys.Where(name => wildcard.IsMatch(name)).ToList();
                if (matched.Count == 0)
                {
                    throw new ArgumentException($"-ImportFunction '{pattern}' matches no function in the caller's session. Define the function before calling Invoke-JoblibParallel (dot-source the script that defines it), or correct the name.");
                }
                foreach (string name in matched) pending.Enqueue(name);
            }
            while (pending.Count > 0)
            {
                string name = pending.Dequeue();
                if (!seen.Add(name)) continue;
                if (functions.TryGetValue(name, out FunctionInfo function))
                {
                    if (IsDefault(function)) continue;
                    if (function.Module == null)
                    {
                        setup.AddFunction(function);
                        // Called by an alias: the worker gets the function under that name too.
                        if (!string.Equals(name, function.Name, StringComparison.OrdinalIgnoreCase)) setup.AddFunction(function, name);
                        foreach (string inner in CommandNames(function.ScriptBlock.Ast)) pending.Enqueue(inner);
                        continue;
                    }
                    AddModule(function.Module, setup);
                    continue;
                }
                if (exports.Value.TryGetValue(name, out PSModuleInfo module)) AddModule(module, setup);
            }
        }

        /// <summary>The functions every PowerShell session starts with (prompt, Clear-Host, ...), by name: every worker has them too.</summary>
        private static readonly Lazy<Dictionary<string, string>> Defaults = new Lazy<Dictionary<string, string>>(() =>
            System.Management.Automation.Runspaces.InitialSessionState.CreateDefault2().Commands
                .OfType<System.Management.Automation.Runspaces.SessionStateFunctionEntry>()
                .GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.First().Definition, StringComparer.OrdinalIgnoreCase));

        private static bool IsDefault(FunctionInfo function)
        {
            return function.Module == null && Defaults.Value.TryGetValue(function.Name, out string definition)
                && string.Equals(definition?.Trim(), function.Definition?.Trim(), StringComparison.Ordinal);
        }

        /// <summary>The names of the commands a syntax tree calls by a constant name, nested script blocks included.</summary>
        internal static IEnumerable<string> CommandNames(Ast ast)
        {
            return ast.FindAll(node => node is CommandAst, searchNestedScriptBlocks: true)
                .Cast<CommandAst>()
                .Select(command => command.GetCommandName())
                .Where(name => !string.IsNullOrEmpty(name))
                .Distinct(StringComparer.OrdinalIgnoreCase);
        }

        /// <summary>
        /// The caller's functions by name, and its aliases that lead to one of them (an alias travels as the function
        /// it names; the alias itself does not). Aliases are followed by their definition text through the function
        /// drive, never through <see cref="AliasInfo.ResolvedCommand"/>: that runs command discovery for every alias
        /// to a cmdlet, about 0.8 s per call for the default aliases (pwsh 7.6.9, measured with Get-ChildItem alias:).
        /// </summary>
        private static Dictionary<string, FunctionInfo> FunctionsOf(SessionState caller)
        {
            var functions = new Dictionary<string, FunctionInfo>(StringComparer.OrdinalIgnoreCase);
            foreach (PSObject entry in caller.InvokeProvider.ChildItem.Get("function:", false))
            {
                if (entry.BaseObject is FunctionInfo function) functions[function.Name] = function;
            }
            var aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (PSObject entry in caller.InvokeProvider.ChildItem.Get("alias:", false))
            {
                if (entry.BaseObject is AliasInfo alias && !string.IsNullOrEmpty(alias.Definition)) aliases[alias.Name] = alias.Definition;
            }
            foreach (KeyValuePair<string, string> alias in aliases)
            {
                if (functions.ContainsKey(alias.Key)) continue;
                // An alias may name another alias: follow the chain a few steps, as command lookup does.
                string target = alias.Value;
                for (int hop = 0; hop < 8 && !functions.ContainsKey(target) && aliases.TryGetValue(target, out string next); hop++) target = next;
                if (functions.TryGetValue(target, out FunctionInfo function)) functions[alias.Key] = function;
            }
            return functions;
        }

        private static Dictionary<string, PSModuleInfo> ExportsOf(SessionState caller)
        {
            var exports = new Dictionary<string, PSModuleInfo>(StringComparer.OrdinalIgnoreCase);
            foreach (PSObject entry in caller.InvokeCommand.InvokeScript("Get-Module"))
            {
                if (!(entry.BaseObject is PSModuleInfo module) || IsBuiltIn(module)) continue;
                foreach (string name in module.ExportedCommands.Keys)
                {
                    if (!exports.ContainsKey(name)) exports[name] = module;
                }
            }
            return exports;
        }

        private static void AddModule(PSModuleInfo module, WorkerSetup setup)
        {
            if (IsBuiltIn(module) || string.IsNullOrEmpty(module.Path) || module.ModuleType == ModuleType.Workflow) return;
            if (string.IsNullOrEmpty(module.ModuleBase) || !File.Exists(module.Path) && !Directory.Exists(module.ModuleBase)) return;
            setup.AddModule(OnModulePath(module) ? module.Name : ImportablePath(module));
        }

        private static bool IsBuiltIn(PSModuleInfo module)
        {
            if (string.Equals(module.Name, "JoblibPS", StringComparison.OrdinalIgnoreCase)) return true;
            if (module.ModuleType == ModuleType.Manifest && module.Name.StartsWith("Microsoft.PowerShell.", StringComparison.OrdinalIgnoreCase)) return true;
            string home = Environment.GetEnvironmentVariable("PSHOME");
            string moduleBase = module.ModuleBase ?? string.Empty;
            string psHome = Path.GetDirectoryName(typeof(PSObject).Assembly.Location) ?? string.Empty;
            return (psHome.Length > 0 && moduleBase.StartsWith(psHome, StringComparison.OrdinalIgnoreCase))
                || (!string.IsNullOrEmpty(home) && moduleBase.StartsWith(home, StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>True when the module's folder is in a PSModulePath folder, so a worker finds it by name.</summary>
        private static bool OnModulePath(PSModuleInfo module)
        {
            string path = Environment.GetEnvironmentVariable("PSModulePath") ?? string.Empty;
            string parent = Path.GetDirectoryName(module.ModuleBase.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
            // ModuleBase is <root>/<Name> or <root>/<Name>/<Version>.
            string grandParent = parent == null ? null : Path.GetDirectoryName(parent);
            foreach (string root in path.Split(new[] { Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries))
            {
                string trimmed = root.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
                if (string.Equals(trimmed, parent, StringComparison.OrdinalIgnoreCase) || string.Equals(trimmed, grandParent, StringComparison.OrdinalIgnoreCase)) return true;
            }
            return false;
        }

        /// <summary>The file to import a module by path: its manifest when it has one, else its root module.</summary>
        private static string ImportablePath(PSModuleInfo module)
        {
            string manifest = Path.Combine(module.ModuleBase, module.Name + ".psd1");
            return File.Exists(manifest) ? manifest : module.Path;
        }
    }
}
