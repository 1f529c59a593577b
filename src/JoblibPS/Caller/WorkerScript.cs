using System;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace JoblibPS.Caller
{
    /// <summary>
    /// The user's script block as it travels to workers: its text, and how the driver calls it.
    /// </summary>
    /// <remarks>
    /// A block that declares no parameters, reads neither <c>$args</c> nor <c>$input</c>, and has no named blocks
    /// runs as the process block of one pipeline per batch (the fast form: per item it costs about what
    /// ForEach-Object costs). Any other block is called once per item with the item as its first argument and
    /// the -ArgumentList values after it (the general form: slower per item, but the item binds to param()).
    /// </remarks>
    internal sealed class WorkerScript
    {
        private WorkerScript(string text, bool perItemCall, bool endsProcess, object[] place)
        {
            Text = text;
            PerItemCall = perItemCall;
            EndsProcess = endsProcess;
            Place = place;
        }

        public string Text { get; }

        /// <summary>
        /// Where <see cref="Text"/> stands in the caller's script: its file (or null), line and column, each from 1;
        /// null when that says nothing (a block typed on one line at a prompt). A worker that parses the block there
        /// (WorkerDriver.ps1) gives a failure's ScriptStackTrace the caller's file and line, as ForEach-Object does.
        /// </summary>
        public object[] Place { get; }

        /// <summary>True for the general form: one call of the block per item.</summary>
        public bool PerItemCall { get; }

        /// <summary>
        /// True when the block (or a block inside it) calls <c>[Environment]::Exit</c> or <c>[Environment]::FailFast</c>,
        /// which end the whole process the worker runs in.
        /// </summary>
        public bool EndsProcess { get; }

        public static WorkerScript From(ScriptBlock scriptBlock)
        {
            var ast = (ScriptBlockAst)scriptBlock.Ast;
            string text = scriptBlock.ToString();
            return new WorkerScript(text, NeedsPerItemCall(ast), CallsProcessExit(ast), PlaceOf(ast.Extent, text));
        }

        /// <summary>The file, line and column where <paramref name="text"/> (a block's text, its braces left out) starts in <paramref name="extent"/>, or null.</summary>
        internal static object[] PlaceOf(IScriptExtent extent, string text)
        {
            if (extent == null || text == null) return null;
            int line = extent.StartLineNumber;
            int column = extent.StartColumnNumber;
            string whole = extent.Text ?? string.Empty;
            if (whole.Length == text.Length + 2 && whole[0] == '{' && string.CompareOrdinal(whole, 1, text, 0, text.Length) == 0)
            {
                column++;
            }
            else if (!string.Equals(whole, text, StringComparison.Ordinal))
            {
                return null;
            }
            if (string.IsNullOrEmpty(extent.File) && line <= 1) return null;
            return new object[] { extent.File, line, column };
        }

        /// <summary>
        /// The warning for a call whose block ends the process when its workers run in the caller's process (threads
        /// or the caller's own runspace: <see cref="ParallelBackendBase.UsesThreads"/> or
        /// <see cref="ParallelBackendBase.SupportsSharedMem"/>), or null. Nothing in a process can catch
        /// <c>[Environment]::Exit</c>: the caller's pwsh ends with that exit code. A warning rather than a -Verbose line,
        /// because the cost (the user's whole session) is too high to show only to those who asked for detail.
        /// </summary>
        public string ProcessExitWarning(ParallelBackendBase backend)
        {
            if (!EndsProcess || backend == null || !(backend.UsesThreads || backend.SupportsSharedMem)) return null;
            return $"The script block calls [Environment]::Exit (or FailFast). On the {backend} backend it runs in this process, so it would end this " +
                "pwsh (your session, with that exit code), not only the item, and nothing can catch it. End an item early with 'return', fail the call " +
                "with 'throw', or run it on -Backend loky, where it ends only a worker (JoblibWorkerCrashed).";
        }

        private static bool CallsProcessExit(ScriptBlockAst ast)
        {
            return ast.Find(node => node is InvokeMemberExpressionAst call && call.Static
                && call.Expression is TypeExpressionAst type && IsEnvironment(type.TypeName)
                && call.Member is StringConstantExpressionAst member
                && (member.Value.Equals("Exit", StringComparison.OrdinalIgnoreCase) || member.Value.Equals("FailFast", StringComparison.OrdinalIgnoreCase)),
                searchNestedScriptBlocks: true) != null;
        }

        private static bool IsEnvironment(ITypeName typeName)
        {
            string name = typeName.FullName;
            return name.Equals("Environment", StringComparison.OrdinalIgnoreCase) || name.Equals("System.Environment", StringComparison.OrdinalIgnoreCase);
        }

        private static bool NeedsPerItemCall(ScriptBlockAst ast)
        {
            if (ast.ParamBlock != null || ast.BeginBlock != null || ast.ProcessBlock != null || ast.DynamicParamBlock != null)
            {
                return true;
            }
            if (ast.UsingStatements != null && ast.UsingStatements.Count > 0)
            {
                return true;
            }
            if (ast.EndBlock != null && !ast.EndBlock.Unnamed)
            {
                return true;
            }
            return ast.Find(node => node is VariableExpressionAst variable && ReadsInvocationArguments(variable, ast), searchNestedScriptBlocks: false) != null;
        }

        private static bool ReadsInvocationArguments(VariableExpressionAst variable, ScriptBlockAst root)
        {
            string name = variable.VariablePath.UserPath;
            if (!name.Equals("args", StringComparison.OrdinalIgnoreCase) && !name.Equals("input", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            // $args inside a nested script block belongs to that block, not to ours.
            Ast parent = variable.Parent;
            while (parent != null && parent != root)
            {
                if (parent is ScriptBlockAst) return false;
                parent = parent.Parent;
            }
            return true;
        }
    }
}
