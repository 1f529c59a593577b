using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;

namespace JoblibPS.Caller
{
    /// <summary>
    /// What every worker of one call gets before its first item: the caller's functions the block needs, modules
    /// to import, variables (-ImportVariable) and the initialization script (-InitializationScript). Built once per
    /// call by the cmdlet; applied once per runspace per call, in that runspace's global scope, by
    /// <see cref="ApplyOnce"/>, whatever the backend: the one place for per-worker work.
    /// </summary>
    /// <remarks>
    /// Everything travels as plain values (function texts, module names or paths, variable values), so the same
    /// setup serves runspaces of this process, worker processes and remote hosts; variable values arrive as
    /// deserialized copies in other processes, as <c>$using:</c> values do. The caller's own runspace (the
    /// sequential backend) already has the functions, modules and variables: there only the initialization script
    /// runs, once per call, in a scope of its own whose variables and functions each batch then sees.
    /// </remarks>
    internal sealed class WorkerSetup
    {
        /// <summary>
        /// Applies a setup in the global scope of a worker runspace (its parameter is <see cref="ToTable"/>'s table).
        /// Modules first, then functions and variables, then the initialization script, dot-sourced so that what it
        /// defines stays. A function that came with its definition's place (see <see cref="AddFunction"/>) is parsed
        /// there, so its stack frames read as in the caller: its name, file and line. A failure stops at once: its
        /// error is the invocation's exception.
        /// </summary>
        private const string ApplyText = @"param($__JoblibSetup)
foreach ($__JoblibModule in $__JoblibSetup.Modules) { Import-Module -Name $__JoblibModule -Global -ErrorAction Stop -WarningAction SilentlyContinue -Verbose:$false }
foreach ($__JoblibEntry in $__JoblibSetup.Functions) {
    $__JoblibBody = $null
    if ($__JoblibEntry[2]) {
        $__JoblibErrors = $null
        $__JoblibAst = [System.Management.Automation.Language.Parser]::ParseInput(('' + $__JoblibEntry[2]), $__JoblibEntry[3], [ref]$null, [ref]$__JoblibErrors)
        if (-not $__JoblibErrors) { $__JoblibBody = $__JoblibAst.Find({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false).Body.GetScriptBlock() }
    }
    if (-not $__JoblibBody) { $__JoblibBody = [scriptblock]::Create($__JoblibEntry[1]) }
    $null = Set-Item -LiteralPath ('function:global:' + $__JoblibEntry[0]) -Value $__JoblibBody -Force
}
foreach ($__JoblibEntry in $__JoblibSetup.Variables) { Set-Variable -Scope Global -Name $__JoblibEntry[0] -Value $__JoblibEntry[1] -Force }
Remove-Variable -Name __JoblibModule, __JoblibEntry, __JoblibBody, __JoblibErrors, __JoblibAst -ErrorAction Ignore
if ($__JoblibSetup.Init) { $null = . ([scriptblock]::Create($__JoblibSetup.Init)) }
Remove-Variable -Name __JoblibSetup -ErrorAction Ignore";

        /// <summary>
        /// Runs the initialization script once in a scope of its own in the caller's runspace and returns what it
        /// defined there: its variables and its new or changed functions, as pairs, for the driver to define again in
        /// each batch's scope (see <see cref="InitStateFor"/>).
        /// </summary>
        private const string CaptureText = @"param($__JoblibInit)
& {
    $__JoblibVariablesBefore = @{}
    foreach ($__JoblibEntry in Get-Variable -Scope 0) { $__JoblibVariablesBefore[$__JoblibEntry.Name] = $true }
    $__JoblibFunctionsBefore = @{}
    foreach ($__JoblibEntry in Get-ChildItem -Path function:) { $__JoblibFunctionsBefore[$__JoblibEntry.Name] = $__JoblibEntry.ScriptBlock }
    $null = . ([scriptblock]::Create($__JoblibInit))
    $__JoblibVariables = @(foreach ($__JoblibEntry in Get-Variable -Scope 0) { if (-not $__JoblibVariablesBefore.ContainsKey($__JoblibEntry.Name) -and $__JoblibEntry.Name -notlike '__Joblib*') { , @($__JoblibEntry.Name, $__JoblibEntry.Value) } })
    $__JoblibFunctions = @(foreach ($__JoblibEntry in Get-ChildItem -Path function:) { if (-not [object]::ReferenceEquals($__JoblibFunctionsBefore[$__JoblibEntry.Name], $__JoblibEntry.ScriptBlock)) { , @($__JoblibEntry.Name, $__JoblibEntry.ScriptBlock) } })
    @{ Variables = $__JoblibVariables; Functions = $__JoblibFunctions }
}";

        private object _capturedFor;
        private Hashtable _captured;

        /// <summary>Runspaces and the call (its token) whose setup they hold.</summary>
        private static readonly ConditionalWeakTable<Runspace, CallHolder> Applied = new ConditionalWeakTable<Runspace, CallHolder>();

        /// <summary>Per function: name, body text, definition text placed at its line and column (or null), file (or null).</summary>
        private readonly List<string[]> _functions = new List<string[]>();
        private readonly List<string> _modules = new List<string>();
        private readonly List<object[]> _variables = new List<object[]>();

        /// <summary>The initialization script's text, or null.</summary>
        public string InitializationScript { get; set; }

        /// <summary>True when there is nothing to apply (the common case: a block that calls no function of the caller's).</summary>
        public bool IsEmpty => _functions.Count == 0 && _modules.Count == 0 && _variables.Count == 0 && InitializationScript == null;

        /// <summary>The names of the functions that travel, for messages.</summary>
        public IEnumerable<string> FunctionNames => _functions.Select(f => f[0]);

        /// <summary>The modules workers import, for messages.</summary>
        public IReadOnlyList<string> Modules => _modules;

        /// <summary>
        /// Defines <paramref name="function"/> in every worker under <paramref name="name"/> (its own name by default),
        /// once per name. A function defined by a <c>function</c> or <c>filter</c> statement also travels as that
        /// statement, padded with newlines and spaces to its line and column, and with its file: the worker parses it
        /// there (<see cref="Parser.ParseInput(string, string, out Token[], out ParseError[])"/> keeps the file, where
        /// <see cref="ScriptBlock.Create"/> has none), so a failure's ScriptStackTrace reads
        /// <c>at Get-Thing, /path/script.ps1: line 12</c> as it does in the caller, not <c>at &lt;ScriptBlock&gt;, &lt;No file&gt;</c>,
        /// and <c>$PSScriptRoot</c> in it is the caller's script folder.
        /// </summary>
        public void AddFunction(FunctionInfo function, string name = null)
        {
            name = name ?? function.Name;
            if (_functions.Any(f => string.Equals(f[0], name, StringComparison.OrdinalIgnoreCase))) return;
            // A filter's body is its process block.
            string body = function.CommandType == CommandTypes.Filter ? "process {\n" + function.Definition + "\n}" : function.Definition;
            string placed = null;
            string file = null;
            if (function.ScriptBlock?.Ast is FunctionDefinitionAst definition)
            {
                placed = Placed(definition.Extent.Text, definition.Extent.StartLineNumber, definition.Extent.StartColumnNumber);
                file = definition.Extent.File;
            }
            _functions.Add(new[] { name, body, placed, file });
        }

        /// <summary><paramref name="text"/> preceded by newlines and spaces so that it starts at <paramref name="line"/> and <paramref name="column"/> (both from 1).</summary>
        internal static string Placed(string text, int line, int column)
        {
            return new string('\n', Math.Max(0, line - 1)) + new string(' ', Math.Max(0, column - 1)) + text;
        }

        /// <summary>
        /// What the setup ships, as one text for a checkpoint's call identity (see Checkpoint.CallIdentity): the
        /// functions' texts, the modules, the variables' values and the initialization script.
        /// </summary>
        public string IdentityText()
        {
            var text = new System.Text.StringBuilder();
            foreach (string[] function in _functions.OrderBy(f => f[0], StringComparer.OrdinalIgnoreCase)) text.Append("function ").Append(function[0]).Append('\n').Append(function[1]).Append('\n');
            foreach (string module in _modules) text.Append("module ").Append(module).Append('\n');
            foreach (object[] variable in _variables.OrderBy(v => (string)v[0], StringComparer.OrdinalIgnoreCase)) text.Append("variable ").Append(variable[0]).Append('=').Append(Checkpoint.ItemKeys.CanonicalText(variable[1])).Append('\n');
            if (InitializationScript != null) text.Append("init\n").Append(InitializationScript);
            return text.ToString();
        }

        public void AddModule(string nameOrPath)
        {
            if (!_modules.Contains(nameOrPath, StringComparer.OrdinalIgnoreCase)) _modules.Add(nameOrPath);
        }

        public void AddVariable(string name, object value)
        {
            _variables.RemoveAll(v => string.Equals((string)v[0], name, StringComparison.OrdinalIgnoreCase));
            _variables.Add(new[] { name, value });
        }

        /// <summary>
        /// Applies the setup in <paramref name="runspace"/> (idle, on the calling thread) unless it already holds this
        /// call's setup. Returns null, or the error of a setup that failed (the call then fails with
        /// <see cref="ErrorIds.InitializationFailed"/>).
        /// </summary>
        public ErrorRecord ApplyOnce(Runspace runspace, object callToken)
        {
            if (IsEmpty || runspace == null) return null;
            CallHolder holder = Applied.GetValue(runspace, _ => new CallHolder());
            lock (holder)
            {
                if (ReferenceEquals(holder.Call, callToken)) return null;
                holder.Call = callToken;
            }
            try
            {
                using (var ps = PowerShell.Create())
                {
                    ps.Runspace = runspace;
                    ps.AddScript(ApplyText, useLocalScope: false).AddArgument(ToTable());
                    ps.Invoke();
                }
                return null;
            }
            catch (Exception ex)
            {
                return Failure(ex, runspace);
            }
        }

        /// <summary>
        /// For a batch in the caller's own runspace (on its pipeline thread): the state the initialization script
        /// left, captured once per call (null when there is no initialization script). Throws
        /// <see cref="InitializationFailedException"/> when the script failed.
        /// </summary>
        public Hashtable InitStateFor(object callToken)
        {
            if (InitializationScript == null) return null;
            if (ReferenceEquals(_capturedFor, callToken)) return _captured;
            _capturedFor = callToken;
            _captured = null;
            try
            {
                using (var ps = PowerShell.Create(RunspaceMode.CurrentRunspace))
                {
                    ps.AddScript(CaptureText, useLocalScope: true).AddArgument(InitializationScript);
                    var output = ps.Invoke();
                    _captured = output.Count == 0 ? null : output[output.Count - 1]?.BaseObject as Hashtable;
                }
            }
            catch (Exception ex)
            {
                throw new InitializationFailedException(Failure(ex, Runspace.DefaultRunspace));
            }
            return _captured;
        }

        /// <summary>Forgets which call's setup <paramref name="runspace"/> holds (it was reset).</summary>
        public static void Forget(Runspace runspace)
        {
            Applied.Remove(runspace);
        }

        /// <summary>The setup as one plain table for the apply script (arrays of pairs rather than dictionaries: they keep their order and serialize plainly).</summary>
        private Hashtable ToTable()
        {
            return new Hashtable(StringComparer.OrdinalIgnoreCase)
            {
                ["Modules"] = _modules.ToArray(),
                ["Functions"] = _functions.Cast<object>().ToArray(),
                ["Variables"] = _variables.Cast<object>().ToArray(),
                ["Init"] = InitializationScript,
            };
        }

        private static ErrorRecord Failure(Exception ex, Runspace runspace)
        {
            while ((ex is MethodInvocationException || ex is System.Reflection.TargetInvocationException) && ex.InnerException != null) ex = ex.InnerException;
            ErrorRecord original = (ex as IContainsErrorRecord)?.ErrorRecord;
            string where = runspace == null ? "the caller's runspace" : runspace.RunspaceIsRemote
                ? (runspace.ConnectionInfo?.ComputerName is string host && host.Length > 0 && host != "localhost" ? $"a worker on '{host}'" : "a worker process")
                : "a worker runspace";
            var exception = new InvalidOperationException(
                $"Preparing {where} for this call failed, so the call was stopped: {ex.Message} " +
                "Check -InitializationScript, -ImportModule and the modules of the commands the block calls; the original error is the inner exception.", ex);
            var record = new ErrorRecord(exception, ErrorIds.InitializationFailed, ErrorCategory.OperationStopped, original?.TargetObject);
            return record;
        }

        private sealed class CallHolder
        {
            public object Call;
        }
    }

    /// <summary>The initialization of the caller's own runspace for a call failed; carries the record to report.</summary>
    internal sealed class InitializationFailedException : Exception, IContainsErrorRecord
    {
        public InitializationFailedException(ErrorRecord record) : base(record.Exception.Message, record.Exception)
        {
            ErrorRecord = record;
        }

        public ErrorRecord ErrorRecord { get; }
    }
}
