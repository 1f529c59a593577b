using System.Collections;
using System.Management.Automation;
using JoblibPS.Engine;
using JoblibPS.Errors;

namespace JoblibPS.Caller
{
    /// <summary>
    /// The one rule for script blocks handed to workers, on every backend: a <c>$using:</c> value, an
    /// -ArgumentList value or an input item that is a script block is refused before it reaches a worker.
    /// </summary>
    /// <remarks>
    /// A ScriptBlock object belongs to the session state of the runspace that made it. Handed to a worker runspace
    /// of this process, <c>&amp; $sb</c> there runs against the caller's variables from another thread (the hazard
    /// ForEach-Object -Parallel refuses); sent to a worker process it arrives as its text (a string), so calling it
    /// fails there in a way that does not say why. Checked: the value itself, and one level down, the elements of
    /// an array or list and the values of a dictionary (a hashtable), each seen through a PSObject wrapper. Not
    /// checked: deeper levels and the properties of objects. The check on an item is a few type tests (and a walk
    /// of the item's elements when the item is itself a collection).
    /// </remarks>
    internal static class ScriptBlockValues
    {
        /// <summary>
        /// Where a script block sits in <paramref name="value"/>: "" for the value itself, "[2]" for an element,
        /// "['key']" for a dictionary value; null when there is none within the checked depth.
        /// </summary>
        public static string Find(object value)
        {
            object bare = Unwrap(value);
            switch (bare)
            {
                case null:
                case string _:
                    return null;
                case ScriptBlock _:
                    return string.Empty;
                case IDictionary dictionary:
                    foreach (DictionaryEntry entry in dictionary)
                    {
                        if (Unwrap(entry.Value) is ScriptBlock) return "['" + entry.Key + "']";
                    }
                    return null;
                case IList list:
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (Unwrap(list[i]) is ScriptBlock) return "[" + i + "]";
                    }
                    return null;
                default:
                    return null;
            }
        }

        /// <summary>Throws <see cref="TerminatingErrorException"/> (JoblibScriptBlockCannotTravel) when a <c>$using:</c> value holds a script block.</summary>
        public static void CheckUsing(string expression, object value)
        {
            string at = Find(value);
            if (at != null) throw new TerminatingErrorException(ErrorRecords.ScriptBlockCannotTravel(expression + at, value));
        }

        /// <summary>Throws <see cref="TerminatingErrorException"/> when an -ArgumentList value holds a script block (named by its index, from 0).</summary>
        public static void CheckArguments(object[] values)
        {
            for (int i = 0; i < values.Length; i++)
            {
                string at = Find(values[i]);
                if (at != null) throw new TerminatingErrorException(ErrorRecords.ScriptBlockCannotTravel($"-ArgumentList value {i}{(at.Length == 0 ? string.Empty : " element " + at)}", values[i]));
            }
        }

        /// <summary>Throws <see cref="TerminatingErrorException"/> when input item number <paramref name="position"/> (from 1) holds a script block.</summary>
        public static void CheckItem(object item, long position)
        {
            string at = Find(item);
            if (at != null) throw new TerminatingErrorException(ErrorRecords.ScriptBlockCannotTravel($"Input item {position}{(at.Length == 0 ? string.Empty : " element " + at)}", item));
        }

        private static object Unwrap(object value) => value is PSObject wrapped ? wrapped.BaseObject : value;
    }
}
