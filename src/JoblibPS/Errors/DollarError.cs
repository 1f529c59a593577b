using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.CompilerServices;

namespace JoblibPS.Errors
{
    /// <summary>
    /// Keeps <c>$Error</c> at one record per failure. PowerShell appends a record to <c>$Error</c> when an
    /// exception leaves script code that .NET called (a backend factory, a PowerShell class's method, a script
    /// method), and a catch block appends the record it took; when JoblibPS then reports its own record for that
    /// failure (which names the backend and the member), those earlier entries are the same failure told twice.
    /// Pipeline thread of the runspace whose <c>$Error</c> it is.
    /// </summary>
    internal static class DollarError
    {
        /// <summary>How many of the newest entries are looked at: a failure's entries were appended just before its record is reported.</summary>
        private const int Recent = 8;

        /// <summary>
        /// Removes from <paramref name="state"/>'s <c>$Error</c> the entries PowerShell made for the causes of
        /// <paramref name="reported"/> (the exceptions under its exception), before it is thrown.
        /// </summary>
        public static void ForgetCauses(SessionState state, ErrorRecord reported)
        {
            Forget(state, reported?.Exception?.InnerException);
        }

        /// <summary>Removes from <paramref name="state"/>'s <c>$Error</c> the entries made for <paramref name="cause"/> or the exceptions under it.</summary>
        public static void Forget(SessionState state, Exception cause)
        {
            if (state == null || cause == null) return;
            IList errors;
            try
            {
                errors = state.PSVariable.GetValue("global:Error") as IList;
            }
            catch (Exception)
            {
                return;
            }
            if (errors != null) RemoveEntriesOf(errors, cause);
        }

        /// <summary>
        /// Removes from the newest entries of <paramref name="errors"/> (newest first, as <c>$Error</c> is) every
        /// ErrorRecord or exception that is <paramref name="cause"/>, one under it, or the record one of them
        /// carries (or that record's exception); or that has one of them under its own exception. Returns how many
        /// it removed.
        /// </summary>
        internal static int RemoveEntriesOf(IList errors, Exception cause)
        {
            var exceptions = new HashSet<object>(ReferenceComparer.Instance);
            var records = new HashSet<object>(ReferenceComparer.Instance);
            var pending = new Stack<Exception>();
            pending.Push(cause);
            while (pending.Count > 0)
            {
                Exception e = pending.Pop();
                if (e == null || !exceptions.Add(e)) continue;
                pending.Push(e.InnerException);
                if (e is IContainsErrorRecord container && container.ErrorRecord != null)
                {
                    // A cmdlet's error under -ErrorAction Stop: $Error holds the cmdlet's record, whose exception this carries.
                    records.Add(container.ErrorRecord);
                    pending.Push(container.ErrorRecord.Exception);
                }
            }
            int removed = 0;
            for (int i = Math.Min(errors.Count, Recent) - 1; i >= 0; i--)
            {
                object entry = errors[i] is PSObject pso ? pso.BaseObject : errors[i];
                Exception entryException = entry is ErrorRecord record ? record.Exception : entry as Exception;
                bool same = records.Contains(entry);
                for (Exception e = entryException; !same && e != null; e = e.InnerException)
                {
                    same = exceptions.Contains(e);
                }
                if (!same) continue;
                errors.RemoveAt(i);
                removed++;
            }
            return removed;
        }

        private sealed class ReferenceComparer : IEqualityComparer<object>
        {
            public static readonly ReferenceComparer Instance = new ReferenceComparer();

            bool IEqualityComparer<object>.Equals(object x, object y) => ReferenceEquals(x, y);

            public int GetHashCode(object obj) => RuntimeHelpers.GetHashCode(obj);
        }
    }
}
