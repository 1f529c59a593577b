using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace JoblibPS.Output
{
    /// <summary>
    /// Keeps a Ctrl+C in a Linux terminal from leaving the pipeline thread waiting forever for the terminal's answer
    /// to a cursor-position request. Created on the pipeline thread; <see cref="Stopped"/> from any thread.
    /// </summary>
    /// <remarks>
    /// While a progress bar is shown, PowerShell's console host redraws it after every line of output, and to do so
    /// .NET asks the terminal where the cursor is: it writes <c>ESC [ 6 n</c> and blocks reading standard input until
    /// the answer <c>ESC [ row ; col R</c> comes (strace of a 2,000-item loky call: 415 requests, each answered within
    /// a millisecond). Ctrl+C makes the kernel's tty driver flush its input and output queues as it sends SIGINT
    /// (unless the terminal has NOFLSH, which nobody sets): a request or an answer caught in a queue at that instant
    /// is gone, and the read never returns; neither Enter nor another Ctrl+C ends it (dotnet-stack of a hung pwsh:
    /// ProgressPane.WriteContent, ConsolePal.TryGetCursorPosition, under the cmdlet's WriteObject). The race is
    /// PowerShell's and .NET's, but a JoblibPS call writes output under its bar at a high rate, so it was JoblibPS's
    /// users who met it. Once a stop was asked, this guard watches the pipeline thread; if it sits in a read of
    /// standard input (Linux: /proc/self/task/TID/syscall) for <see cref="Patience"/>, the guard asks the terminal
    /// for the cursor position itself, and the answer ends the lost wait. It asks at most <see cref="MaxRequests"/>
    /// times, and only while the thread is still reading.
    /// What it cannot tell apart: a command downstream of the call that reads the console itself (Read-Host) and is
    /// still reading 200 ms after the stop would read the answer as typed text; such a pipeline is being stopped anyway.
    /// </remarks>
    internal sealed class TerminalReplyGuard
    {
        /// <summary>How long the pipeline thread may sit reading standard input after a stop before the guard asks the terminal: an answer comes within milliseconds.</summary>
        internal static readonly TimeSpan Patience = TimeSpan.FromMilliseconds(200);

        /// <summary>How many requests the guard sends at most (one suffices; a second covers a request that the same Ctrl+C's flush may also have caught).</summary>
        internal const int MaxRequests = 3;

        /// <summary>How long the guard watches after a stop: the call has ended by then, or hangs for another reason.</summary>
        private static readonly TimeSpan WatchFor = TimeSpan.FromSeconds(5);

        private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

        private static readonly byte[] CursorPositionRequest = { 0x1B, (byte)'[', (byte)'6', (byte)'n' };

        private readonly string _syscallFile;
        private readonly string _readOfStdin;
        private int _watching;
        private volatile bool _ended;

        private TerminalReplyGuard(int threadId, int readSyscall)
        {
            _syscallFile = "/proc/self/task/" + threadId.ToString(CultureInfo.InvariantCulture) + "/syscall";
            // The file reads "<syscall number> <first argument in hex> ...": read(0, ...) is "<read> 0x0 ".
            _readOfStdin = readSyscall.ToString(CultureInfo.InvariantCulture) + " 0x0 ";
        }

        /// <summary>
        /// A guard for the calling thread (the pipeline thread), or null where it has nothing to do or cannot look:
        /// not Linux, standard input or output not a terminal, another host than the console, an unknown CPU.
        /// </summary>
        public static TerminalReplyGuard ForCurrentThread(string hostName)
        {
            try
            {
                if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || hostName != "ConsoleHost") return null;
                if (Console.IsInputRedirected || Console.IsOutputRedirected) return null;
                int gettid, read;
                switch (RuntimeInformation.ProcessArchitecture)
                {
                    case Architecture.X64: gettid = 186; read = 0; break;
                    case Architecture.Arm64: gettid = 178; read = 63; break;
                    default: return null;
                }
                int threadId = (int)syscall(gettid);
                if (threadId <= 0) return null;
                var guard = new TerminalReplyGuard(threadId, read);
                return File.Exists(guard._syscallFile) ? guard : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>A stop was asked (Ctrl+C; any thread): watch the pipeline thread for a lost terminal answer. Returns at once.</summary>
        public void Stopped()
        {
            if (_ended || Interlocked.Exchange(ref _watching, 1) != 0) return;
            new Thread(Watch) { IsBackground = true, Name = "JoblibPS terminal reply guard" }.Start();
        }

        /// <summary>The call ended (pipeline thread): the guard stops watching.</summary>
        public void End()
        {
            _ended = true;
        }

        private void Watch()
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            TimeSpan readingSince = TimeSpan.MinValue;
            int sent = 0;
            while (!_ended && clock.Elapsed < WatchFor && sent < MaxRequests)
            {
                if (ReadingStdin())
                {
                    if (readingSince == TimeSpan.MinValue) readingSince = clock.Elapsed;
                    if (clock.Elapsed - readingSince >= Patience)
                    {
                        if (!RequestCursorPosition()) return;
                        sent++;
                        readingSince = TimeSpan.MinValue;
                    }
                }
                else
                {
                    readingSince = TimeSpan.MinValue;
                }
                Thread.Sleep(Poll);
            }
        }

        private bool ReadingStdin()
        {
            try { return File.ReadAllText(_syscallFile).StartsWith(_readOfStdin, StringComparison.Ordinal); }
            catch (Exception) { return false; }
        }

        // Straight to file descriptor 1: Console.Out's lock is held by the thread that waits.
        private static bool RequestCursorPosition()
        {
            try
            {
                using (var stdout = new FileStream(new SafeFileHandle((IntPtr)1, ownsHandle: false), FileAccess.Write, 1))
                {
                    stdout.Write(CursorPositionRequest, 0, CursorPositionRequest.Length);
                    stdout.Flush();
                }
                return true;
            }
            catch (Exception)
            {
                return false;
            }
        }

        [DllImport("libc", SetLastError = true)]
        private static extern long syscall(long number);
    }
}
