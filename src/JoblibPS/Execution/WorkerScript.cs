using System;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace JoblibPS.Execution
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
        private WorkerScript(string text, bool perItemCall)
        {
            Text = text;
            PerItemCall = perItemCall;
        }

        public string Text { get; }

        /// <summary>True for the general form: one call of the block per item.</summary>
        public bool PerItemCall { get; }

        public static WorkerScript From(ScriptBlock scriptBlock)
        {
            var ast = (ScriptBlockAst)scriptBlock.Ast;
            string text = scriptBlock.ToString();
            return new WorkerScript(text, NeedsPerItemCall(ast));
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
