using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Reflection;

namespace JoblibPS.Errors
{
    /// <summary>
    /// Gives an error from another process (a loky or multiprocessing worker, a remote host) back the exception type
    /// it had there, so that <c>catch [System.Management.Automation.ItemNotFoundException]</c> catches it as it would
    /// with ForEach-Object. PowerShell's remoting hands every such error over as a <see cref="RemoteException"/>
    /// whose <see cref="RemoteException.SerializedRemoteException"/> keeps the original's type names (most derived
    /// first, as <c>Deserialized.System.Management.Automation.ItemNotFoundException</c>) and message.
    /// </summary>
    /// <remarks>
    /// The first of those types that is loaded here, public, not abstract, and has a (string, Exception) or
    /// (string) constructor that keeps the message, is made with the original message and the RemoteException as
    /// its InnerException (which keeps the serialized original and the remote ErrorRecord). A base type stands in
    /// for a type this process does not have (a class defined only in the worker): an InvalidOperationException
    /// subclass comes back as InvalidOperationException. Where the first type found is one the RemoteException
    /// already is (RuntimeException, SystemException, Exception), the RemoteException stays.
    /// What cannot travel: the original's other properties (ItemNotFoundException.ItemName, ...), its .NET stack
    /// trace, and a type whose constructors all need more than a message.
    /// </remarks>
    internal static class RemoteExceptions
    {
        private const string DeserializedPrefix = "Deserialized.";

        /// <summary>Types found by full name in assemblies that cannot be unloaded or redefined (PowerShell classes' dynamic ones are looked up each time).</summary>
        private static readonly ConcurrentDictionary<string, Type> Found = new ConcurrentDictionary<string, Type>(StringComparer.Ordinal);

        /// <summary>The exception to report for <paramref name="exception"/>: rebuilt when it is a RemoteException that can be, else itself.</summary>
        public static Exception Rebuild(Exception exception)
        {
            if (!(exception is RemoteException remote) || remote.SerializedRemoteException == null) return exception;
            string message = remote.Message;
            bool mostDerived = true;
            foreach (string typeName in remote.SerializedRemoteException.TypeNames)
            {
                string name = typeName.StartsWith(DeserializedPrefix, StringComparison.Ordinal) ? typeName.Substring(DeserializedPrefix.Length) : typeName;
                Type type = Find(name);
                if (type == null || !typeof(Exception).IsAssignableFrom(type))
                {
                    mostDerived = false;
                    continue;
                }
                // A base the RemoteException already is: catching by it works as it is, and nothing is lost.
                if (!mostDerived && type.IsAssignableFrom(typeof(RemoteException))) return remote;
                Exception rebuilt = Construct(type, message, remote);
                if (rebuilt != null) return rebuilt;
                mostDerived = false;
            }
            return remote;
        }

        /// <summary>The public, concrete exception type of this full name loaded in this process, or null.</summary>
        internal static Type Find(string fullName)
        {
            if (string.IsNullOrEmpty(fullName) || fullName == "System.Object") return null;
            if (Found.TryGetValue(fullName, out Type known)) return known;
            Type found = null;
            foreach (Assembly assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                Type type;
                try { type = assembly.GetType(fullName, false); }
                catch (Exception) { continue; }
                if (type == null || !(type.IsPublic || type.IsNestedPublic) || type.IsAbstract || type.ContainsGenericParameters) continue;
                // The last one loaded wins: a PowerShell class redefined in this session is its newest assembly.
                found = type;
                if (!assembly.IsDynamic)
                {
                    Found.TryAdd(fullName, type);
                    return type;
                }
            }
            return found;
        }

        /// <summary>An exception of <paramref name="type"/> with <paramref name="message"/> (and <paramref name="inner"/> when a constructor takes it), or null when none keeps the message.</summary>
        internal static Exception Construct(Type type, string message, Exception inner)
        {
            ConstructorInfo withInner = type.GetConstructor(new[] { typeof(string), typeof(Exception) });
            ConstructorInfo plain = type.GetConstructor(new[] { typeof(string) });
            foreach ((ConstructorInfo constructor, object[] arguments) in new[] { (withInner, new object[] { message, inner }), (plain, new object[] { message }) })
            {
                if (constructor == null) continue;
                try
                {
                    // Some types read the string as something else (ArgumentNullException(paramName)): keep only a true copy.
                    if (constructor.Invoke(arguments) is Exception made && string.Equals(made.Message, message, StringComparison.Ordinal)) return made;
                }
                catch (Exception)
                {
                    // A constructor that refuses this message: try the next.
                }
            }
            return null;
        }
    }
}
