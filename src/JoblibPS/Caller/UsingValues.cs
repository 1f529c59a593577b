using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace JoblibPS.Caller
{
    /// <summary>
    /// Evaluates the <c>$using:</c> expressions of a script block in the caller, keyed the way PowerShell's own
    /// remoting keys them, so the worker's engine resolves them through the <c>--%</c> parameter.
    /// </summary>
    /// <remarks>
    /// The key is base64 of the UTF-16 text of the using expression (<c>$using:x</c>), lower-cased when the
    /// expression is a plain variable (PowerShell's UsingExpressionAst key). This is PowerShell's internal
    /// protocol, pinned by a test. <c>$using:</c> inside a block passed to a nested Invoke-JoblibParallel,
    /// ForEach-Object -Parallel, Invoke-Command, Start-Job or Start-ThreadJob belongs to that inner call and is
    /// left alone.
    /// </remarks>
    internal static class UsingValues
    {
        private static readonly HashSet<string> InnerRemotingCommands = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "Invoke-JoblibParallel", "ForEach-Object", "foreach", "%", "Invoke-Command", "icm", "Start-Job", "sajb", "Start-ThreadJob",
        };

        /// <summary>The using expressions of <paramref name="scriptBlock"/> that belong to it.</summary>
        public static IReadOnlyList<UsingExpressionAst> Find(ScriptBlock scriptBlock)
        {
            return scriptBlock.Ast.FindAll(a => a is UsingExpressionAst, searchNestedScriptBlocks: true)
                .Cast<UsingExpressionAst>()
                .Where(u => !InsideInnerCall(u, scriptBlock.Ast))
                .ToList();
        }

        /// <summary>
        /// Evaluates each using expression in the caller's scope; throws <see cref="UsingVariableUndefinedException"/>
        /// for a variable the caller does not define, and <see cref="Engine.TerminatingErrorException"/>
        /// (JoblibScriptBlockCannotTravel) for a value that is or holds a script block (see <see cref="ScriptBlockValues"/>).
        /// </summary>
        public static Hashtable Evaluate(ScriptBlock scriptBlock, SessionState callerState)
        {
            var map = new Hashtable(StringComparer.Ordinal);
            foreach (UsingExpressionAst usingAst in Find(scriptBlock))
            {
                string key = Key(usingAst);
                if (map.ContainsKey(key)) continue;
                VariableExpressionAst root = UsingExpressionAst.ExtractUsingVariable(usingAst);
                string path = root.VariablePath.UserPath;
                bool driveQualified = root.VariablePath.IsDriveQualified;
                PSVariable variable = driveQualified ? null : callerState.PSVariable.Get(path);
                if (!driveQualified && variable == null)
                {
                    throw new UsingVariableUndefinedException(usingAst.Extent.Text, root.VariablePath.UserPath);
                }
                object value;
                if (usingAst.SubExpression is VariableExpressionAst)
                {
                    value = driveQualified ? callerState.PSVariable.GetValue(path) : variable.Value;
                }
                else
                {
                    // $using:h['k'] or $using:o.Prop: evaluate the inner expression in the caller's scope, unrolled
                    // neither way (the unary comma keeps a collection whole).
                    // The inner expression's text starts with the using variable itself ($using:h); evaluate it
                    // with the plain variable in its place.
                    string text = usingAst.SubExpression.Extent.Text;
                    string rest = text.StartsWith(root.Extent.Text, StringComparison.Ordinal) ? text.Substring(root.Extent.Text.Length) : string.Empty;
                    var values = callerState.InvokeCommand.InvokeScript(",(${" + path.Replace("}", "`}") + "}" + rest + ")");
                    value = values.Count == 0 ? null : values[0]?.BaseObject;
                }
                ScriptBlockValues.CheckUsing(usingAst.Extent.Text, value);
                map[key] = value;
            }
            return map;
        }

        /// <summary>PowerShell's key for a using expression.</summary>
        public static string Key(UsingExpressionAst usingAst)
        {
            string text = usingAst.ToString();
            if (usingAst.SubExpression is VariableExpressionAst) text = text.ToLowerInvariant();
            return Convert.ToBase64String(Encoding.Unicode.GetBytes(text));
        }

        private static bool InsideInnerCall(Ast node, Ast root)
        {
            for (Ast parent = node.Parent; parent != null && parent != root; parent = parent.Parent)
            {
                if (parent is ScriptBlockExpressionAst && parent.Parent is CommandAst command)
                {
                    string name = command.GetCommandName();
                    if (name != null && InnerRemotingCommands.Contains(name)) return true;
                }
            }
            return false;
        }
    }

    /// <summary>A <c>$using:</c> variable that the caller does not define.</summary>
    internal sealed class UsingVariableUndefinedException : Exception
    {
        public UsingVariableUndefinedException(string expression, string variable)
            : base($"The variable '{variable}' used as '{expression}' is not defined in the caller's scope. Define it before calling Invoke-JoblibParallel, or pass the value with -ArgumentList.")
        {
            Variable = variable;
        }

        public string Variable { get; }
    }
}
