using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace JoblibPS.Backends
{
    /// <summary>The one place for the rule "an argument nothing accepts is an error listing the accepted ones".</summary>
    internal static class BackendArguments
    {
        /// <summary>Throws <see cref="ArgumentException"/> for the first key of <paramref name="arguments"/> not in <paramref name="accepted"/> (case-insensitive).</summary>
        public static void RejectUnknown(string backendName, IDictionary arguments, IReadOnlyCollection<string> accepted, string hint = null)
        {
            if (arguments == null) return;
            foreach (object key in arguments.Keys)
            {
                string name = key?.ToString();
                if (!accepted.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    throw Unaccepted(backendName, name, accepted, hint);
                }
            }
        }

        /// <summary>The error for an argument the backend does not take.</summary>
        public static ArgumentException Unaccepted(string backendName, string key, IReadOnlyCollection<string> accepted, string hint = null)
        {
            string list = accepted.Count == 0 ? "it takes no backend arguments" : "it accepts: " + string.Join(", ", accepted);
            return new ArgumentException($"The backend '{backendName}' does not accept the backend argument '{key}'; {list}.{hint}");
        }
    }
}
