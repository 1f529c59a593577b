using System;
using System.ComponentModel;
using System.IO;
using System.IO.MemoryMappedFiles;

namespace JoblibPS.Backends.Process
{
    /// <summary>
    /// How many items of the current batch a worker process has started, and how many of their markers it has
    /// sent back in chunks, in 16 bytes of a small file that the caller and the worker both map into memory. It
    /// outlives the worker: when a worker dies mid-batch, the started count says which item it was running, and
    /// the sent count how many chunks the caller should still receive (what was written to the pipe before the
    /// death arrives after it). The caller resets both before each batch; the worker driver adds one as each item
    /// starts (about a microsecond). One writer at a time: the worker while a batch runs, the caller between batches.
    /// </summary>
    internal sealed class WorkerProgress : IDisposable
    {
        /// <summary>The environment variable that gives a worker the path of its file.</summary>
        public const string FileVariable = "JOBLIBPS_PROGRESS_FILE";

        private readonly MemoryMappedFile _map;
        private readonly MemoryMappedViewAccessor _view;
        private readonly string _ownedPath;

        private WorkerProgress(MemoryMappedFile map, string ownedPath)
        {
            _map = map;
            _view = map.CreateViewAccessor(0, Size);
            _ownedPath = ownedPath;
        }

        /// <summary>The file's path.</summary>
        public string Path { get; private set; }

        /// <summary>The file's size: the started count, then the sent count.</summary>
        private const int Size = 16;

        /// <summary>Called by the worker driver as an item starts.</summary>
        public void ItemStarted()
        {
            _view.Write(0, _view.ReadInt64(0) + 1);
        }

        /// <summary>Called by the worker driver once it sent a chunk that ends with the marker of the item started last.</summary>
        public void Sent()
        {
            _view.Write(8, _view.ReadInt64(0));
        }

        /// <summary>How many items' markers the worker sent back in chunks (the caller receives them even after the worker died).</summary>
        internal long SentItems
        {
            get
            {
                try { return _view.ReadInt64(8); }
                catch (ObjectDisposedException) { return 0; }
            }
        }

        /// <summary>Items of the current batch started so far; 0 once the counter was closed.</summary>
        internal long Started
        {
            get
            {
                try { return _view.ReadInt64(0); }
                catch (ObjectDisposedException) { return 0; }
            }
        }

        /// <summary>Sets both counts to 0 before a batch.</summary>
        internal void Reset()
        {
            _view.Write(0, 0L);
            _view.Write(8, 0L);
        }

        private static int _sweptStaleFiles;

        /// <summary>Creates the file for a new worker (the caller's side); the caller deletes it on Dispose.</summary>
        internal static WorkerProgress Create()
        {
            if (System.Threading.Interlocked.Exchange(ref _sweptStaleFiles, 1) == 0) DeleteStaleFiles();
            string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"joblibps-{System.Diagnostics.Process.GetCurrentProcess().Id}-{Guid.NewGuid():N}.progress");
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
            {
                file.SetLength(Size);
            }
            var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, Size, MemoryMappedFileAccess.ReadWrite);
            return new WorkerProgress(map, path) { Path = path };
        }

        /// <summary>Deletes the files of callers that died without cleaning up (a SIGKILLed pwsh), once per process.</summary>
        private static void DeleteStaleFiles()
        {
            try
            {
                foreach (string file in Directory.EnumerateFiles(System.IO.Path.GetTempPath(), "joblibps-*.progress"))
                {
                    string[] parts = System.IO.Path.GetFileNameWithoutExtension(file).Split('-');
                    if (parts.Length != 3 || !int.TryParse(parts[1], out int owner)) continue;
                    bool alive;
                    try { using (System.Diagnostics.Process.GetProcessById(owner)) alive = true; }
                    catch (ArgumentException) { alive = false; }
                    if (!alive) File.Delete(file);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Best effort: a file left behind holds 16 bytes.
            }
        }

        /// <summary>Opens the file named by <see cref="FileVariable"/> (the worker's side); null when there is none.</summary>
        internal static WorkerProgress OpenFromEnvironment()
        {
            string path = Environment.GetEnvironmentVariable(FileVariable);
            if (string.IsNullOrEmpty(path) || !File.Exists(path)) return null;
            try
            {
                var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, Size, MemoryMappedFileAccess.ReadWrite);
                return new WorkerProgress(map, null) { Path = path };
            }
            catch (IOException) { return null; }
            catch (UnauthorizedAccessException) { return null; }
        }

        /// <summary>Unmaps the file, and deletes it on the caller's side.</summary>
        public void Dispose()
        {
            _view.Dispose();
            _map.Dispose();
            if (_ownedPath != null)
            {
                try { File.Delete(_ownedPath); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }
}
