using System;
using System.Management.Automation;
using System.Reflection;

namespace JoblibPS.Errors
{
    /// <summary>How messages name things: one place for every error and warning JoblibPS writes.</summary>
    internal static class Describe
    {
        /// <summary>An item or value as a message shows it: its text in quotes (60 characters at most), or $null.</summary>
        public static string Item(object item)
        {
            if (item is PSObject pso) item = pso.BaseObject;
            if (item == null) return "$null";
            string text;
            try { text = item.ToString(); }
            catch (Exception) { text = item.GetType().Name; }
            if (text.Length > 60) text = text.Substring(0, 57) + "...";
            return "'" + text + "'";
        }

        /// <summary>An item with its type, for messages about what could not travel: 'text', a Type.</summary>
        public static string ItemAndType(object item)
        {
            object value = item is PSObject pso ? pso.BaseObject : item;
            return value == null ? "$null" : Item(value) + ", a " + value.GetType().Name;
        }

        /// <summary>
        /// "Type: message" of a failure for a message that wraps it. A cmdlet's error under -ErrorAction Stop is told
        /// by the cmdlet's own exception, not by PowerShell's "The running command stopped because ..." around it.
        /// </summary>
        public static string Failure(Exception ex)
        {
            if (ex is ActionPreferenceStopException stop && stop.ErrorRecord?.Exception != null && !(stop.ErrorRecord.Exception is ParentContainsErrorRecordException))
            {
                ex = stop.ErrorRecord.Exception;
            }
            return ex.GetType().Name + ": " + ex.Message;
        }

        /// <summary>The exception that says what went wrong, under the wrappers of reflection, PowerShell's method calls and tasks.</summary>
        public static Exception Innermost(Exception ex)
        {
            while ((ex is TargetInvocationException || ex is MethodInvocationException || ex is AggregateException) && ex.InnerException != null)
            {
                ex = ex.InnerException;
            }
            return ex;
        }
    }
}
