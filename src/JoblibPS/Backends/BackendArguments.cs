using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;

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

        /// <summary>
        /// Reads <paramref name="arguments"/> into a table keyed by the accepted names as the backend spells them
        /// (matched case-insensitively), values unwrapped from PSObject and null values left out; the first key
        /// nothing accepts is the error of <see cref="Unaccepted"/>, with <paramref name="hint"/>'s text for that key.
        /// </summary>
        public static Dictionary<string, object> Read(string backendName, IDictionary arguments, IReadOnlyCollection<string> accepted, Func<string, string> hint = null)
        {
            var given = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            foreach (DictionaryEntry entry in arguments ?? new Hashtable())
            {
                string key = entry.Key?.ToString();
                string match = accepted.FirstOrDefault(a => a.Equals(key, StringComparison.OrdinalIgnoreCase));
                if (match == null) throw Unaccepted(backendName, key, accepted, hint?.Invoke(key));
                object value = Unwrap(entry.Value);
                if (value != null) given[match] = value;
            }
            return given;
        }

        /// <summary>The value of argument <paramref name="name"/> as a <typeparamref name="T"/> (PowerShell's conversions, invariant culture), or the error that says what it must be.</summary>
        public static T Convert<T>(string backendName, string name, object value)
        {
            try
            {
                return (T)LanguagePrimitives.ConvertTo(value, typeof(T), CultureInfo.InvariantCulture);
            }
            catch (PSInvalidCastException)
            {
                throw new ArgumentException($"The backend argument '{name}' of backend '{backendName}' must be a {typeof(T).Name}, not a {value?.GetType().Name ?? "null"}.");
            }
        }

        /// <summary>A value with its PSObject wrapper taken off.</summary>
        public static object Unwrap(object value) => value is PSObject pso ? pso.BaseObject : value;

        /// <summary>The error for an argument the backend does not take.</summary>
        public static ArgumentException Unaccepted(string backendName, string key, IReadOnlyCollection<string> accepted, string hint = null)
        {
            string list = accepted.Count == 0 ? "it takes no backend arguments" : "it accepts: " + string.Join(", ", accepted);
            return new ArgumentException($"The backend '{backendName}' does not accept the backend argument '{key}'; {list}.{hint}");
        }
    }
}
