using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using JoblibPS.Backends;

namespace JoblibPS.Commands
{
    /// <summary>Tab-completes registered backend names for -Backend parameters.</summary>
    internal sealed class BackendNameCompleter : IArgumentCompleter
    {
        /// <summary>Returns the registered names that start with what was typed.</summary>
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return BackendRegistry.RegisteredNames
                .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
        }
    }
}
