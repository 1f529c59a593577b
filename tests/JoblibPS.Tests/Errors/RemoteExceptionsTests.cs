using System;
using System.Management.Automation;
using Xunit;
using JoblibPS.Errors;

namespace JoblibPS.Tests.Errors
{
    /// <summary>
    /// An error from another process gets back its original exception type when this process has it (RemoteExceptions):
    /// the type names are what PowerShell's serializer writes, most derived first. What a user sees through a real
    /// loky worker is in tests/Pester/FailedItemErrors.Tests.ps1.
    /// </summary>
    public class RemoteExceptionsTests
    {
        private static RemoteException Remote(string message, params string[] typeNames)
        {
            var serialized = new PSObject();
            serialized.TypeNames.Clear();
            foreach (string name in typeNames) serialized.TypeNames.Add("Deserialized." + name);
            // As PowerShell's remoting makes one (its constructor with the serialized original is internal).
            var constructor = typeof(RemoteException).GetConstructor(
                System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public,
                null, new[] { typeof(string), typeof(PSObject), typeof(PSObject) }, null);
            Assert.NotNull(constructor);
            return (RemoteException)constructor.Invoke(new object[] { message, serialized, null });
        }

        [Fact]
        public void RebuildsTheOriginalTypeWithItsMessageAndTheRemoteExceptionInside()
        {
            RemoteException remote = Remote("Cannot find path '/x' because it does not exist.",
                "System.Management.Automation.ItemNotFoundException", "System.Management.Automation.SessionStateException",
                "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception", "System.Object");
            Exception rebuilt = RemoteExceptions.Rebuild(remote);
            Assert.IsType<ItemNotFoundException>(rebuilt);
            Assert.Equal(remote.Message, rebuilt.Message);
            Assert.Same(remote, rebuilt.InnerException);
        }

        [Fact]
        public void ATypeThisProcessLacksComesBackAsItsNearestBase()
        {
            RemoteException remote = Remote("quota", "Contoso.QuotaException", "System.InvalidOperationException", "System.SystemException", "System.Exception", "System.Object");
            Exception rebuilt = RemoteExceptions.Rebuild(remote);
            Assert.IsType<InvalidOperationException>(rebuilt);
            Assert.Equal("quota", rebuilt.Message);
        }

        [Fact]
        public void ABaseTheRemoteExceptionAlreadyIsKeepsIt()
        {
            RemoteException remote = Remote("custom", "Contoso.CustomException", "System.Management.Automation.RuntimeException", "System.Exception", "System.Object");
            Assert.Same(remote, RemoteExceptions.Rebuild(remote));
        }

        [Fact]
        public void AConstructorThatTakesTheStringForSomethingElseIsNotUsed()
        {
            // ArgumentNullException(string) takes a parameter name: its (string, Exception) constructor keeps the message.
            RemoteException remote = Remote("Value cannot be null. (Parameter 'path')", "System.ArgumentNullException", "System.ArgumentException", "System.SystemException", "System.Exception");
            Exception rebuilt = RemoteExceptions.Rebuild(remote);
            Assert.IsType<ArgumentNullException>(rebuilt);
            Assert.Equal(remote.Message, rebuilt.Message);
        }

        [Fact]
        public void AnythingElseStaysAsItIs()
        {
            var plain = new InvalidOperationException("local");
            Assert.Same(plain, RemoteExceptions.Rebuild(plain));
            var bare = new RemoteException("no serialized original");
            Assert.Same(bare, RemoteExceptions.Rebuild(bare));
            Assert.Null(RemoteExceptions.Find("System.Object"));
            Assert.Null(RemoteExceptions.Find("System.IO.Stream")); // abstract
        }

        [Fact]
        public void TheCallersFramesFollowTheWorkersOnes()
        {
            string nl = Environment.NewLine;
            Assert.Equal("at Get-X, a.ps1: line 3" + nl + "at <ScriptBlock>, a.ps1: line 8",
                ErrorRecords.WithCallerFrames("at Get-X, a.ps1: line 3", "at <ScriptBlock>, a.ps1: line 8"));
            Assert.Equal("at Get-X, a.ps1: line 3", ErrorRecords.WithCallerFrames("at Get-X, a.ps1: line 3", null));
            Assert.Equal("at <ScriptBlock>, a.ps1: line 8", ErrorRecords.WithCallerFrames(null, "at <ScriptBlock>, a.ps1: line 8"));
        }
    }
}
