using System;
using System.IO;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace JoblibPS.Backends.Remote
{
    /// <summary>
    /// Works around a crash of pwsh's SSH transport (seen with pwsh 7.6.9): when ssh dies while PowerShell is sending
    /// to it (a host lost just as a batch is handed over), the failed write leaves bytes in the buffer of ssh's
    /// standard input; the transport's error thread then closes that writer (SSHClientSessionTransportManager.
    /// CloseConnection), the flush fails again with "Broken pipe", and the IOException, thrown outside any handler
    /// on that thread, ends the whole pwsh process. The guard takes the writer out of the transport's reach right
    /// after a runspace opens: CloseConnection then closes a harmless stand-in (it still ends ssh), and the backend
    /// closes the real writer itself, catching the error, once the runspace is gone.
    /// </summary>
    /// <remarks>
    /// PowerShell internals (RemoteRunspace.RunspacePool, RunspacePool._internalPool, DataStructureHandler,
    /// TransportManager, SSHClientSessionTransportManager._stdInWriter), reached by reflection: when any is missing
    /// (another PowerShell version) the guard does nothing and the runspace works as before. Only for runspaces the
    /// backend opens; the user's own sessions are left as they are.
    /// </remarks>
    internal static class SshTransportGuard
    {
        private const BindingFlags Members = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

        /// <summary>Swaps the transport's writer for a stand-in; returns the real writer for <see cref="Release"/>, or null when the guard does not apply.</summary>
        public static IDisposable Take(Runspace runspace)
        {
            try
            {
                object pool = runspace.GetType().GetProperty("RunspacePool", Members)?.GetValue(runspace);
                object internalPool = pool?.GetType().GetField("_internalPool", Members)?.GetValue(pool);
                object handler = internalPool?.GetType().GetProperty("DataStructureHandler", Members)?.GetValue(internalPool);
                object transport = handler?.GetType().GetProperty("TransportManager", Members)?.GetValue(handler);
                FieldInfo writerField = transport?.GetType().GetField("_stdInWriter", Members);
                if (writerField == null || !typeof(TextWriter).IsAssignableFrom(writerField.FieldType)) return null;
                var writer = writerField.GetValue(transport) as IDisposable;
                if (writer == null) return null;
                writerField.SetValue(transport, new StreamWriter(Stream.Null));
                return writer;
            }
            catch (Exception ex) when (ex is TargetInvocationException || ex is ArgumentException || ex is MemberAccessException || ex is InvalidCastException)
            {
                return null;
            }
        }

        /// <summary>Closes a writer <see cref="Take"/> returned, after its runspace was disposed; a broken pipe is expected and ignored.</summary>
        public static void Release(IDisposable writer)
        {
            try { writer?.Dispose(); }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
        }
    }
}
