using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace JoblibPS.Checkpoint
{
    /// <summary>
    /// One checkpoint file, held open with exclusive access for the life of this object: read once when opened, then
    /// only appended to. Owns the file handle and its flush timer; <see cref="Dispose"/> releases both.
    /// </summary>
    /// <remarks>
    /// <para>Format (version <see cref="FormatVersion"/>): the 8 bytes <c>JLPSCKPT</c>, a little-endian int32 format
    /// version, then records. A record is a little-endian uint32 payload length, the CRC-32 (IEEE) of the payload,
    /// and the payload, whose first byte says what it is: <c>H</c> the header (format name, call identity and its
    /// parts, a description of the call, creation time), <c>S</c> a run started, <c>B</c> a batch of finished items
    /// (time, their keys, their records as <see cref="RecordCodec"/> writes them), <c>E</c> a run ended. Strings
    /// are BinaryWriter's length-prefixed UTF-8. Version 1 (JoblibPS before the compact records) held one CliXml
    /// document per batch; it is refused as another version.</para>
    /// <para>Crash safety: records are only appended. Reading stops at the first record that is cut short or whose
    /// checksum is wrong (a write torn by a kill or a power cut): what comes before it is used, what comes after is
    /// ignored, and the next run cuts the file back to the last whole record before it appends. Each batch goes to
    /// the operating system as one write as soon as it is recorded (it survives a kill of this process); a timer
    /// forces written records to the disk at most once a <see cref="SyncInterval"/> (a power cut loses at most that
    /// much, and those items run again).</para>
    /// <para>Threads: <see cref="Open"/>, the Append methods and <see cref="Dispose"/> are called on one thread (the
    /// run's pipeline thread); the timer thread only flushes, under the same lock.</para>
    /// </remarks>
    internal sealed class CheckpointFile : IDisposable
    {
        public const string FormatName = "JoblibPS.Checkpoint";
        public const int FormatVersion = 2;

        /// <summary>
        /// How often written records are forced to the disk: a second keeps fsync (milliseconds each on a loaded
        /// disk) off the per-batch path whatever the batch rate, and bounds what a power cut can lose.
        /// </summary>
        public static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(1);

        private static readonly byte[] Magic = Encoding.ASCII.GetBytes("JLPSCKPT");
        private const int PrefixLength = 12;

        private readonly object _gate = new object();
        private readonly FileStream _stream;
        private readonly Timer _timer;
        private bool _dirty;
        private bool _started;
        private bool _disposed;

        private CheckpointFile(string path, FileStream stream, CheckpointContents contents, bool created)
        {
            Path = path;
            _stream = stream;
            Contents = contents;
            Created = created;
            _timer = new Timer(_ => Sync(), null, SyncInterval, SyncInterval);
        }

        /// <summary>The full path of the file.</summary>
        public string Path { get; }

        /// <summary>What the file held when it was opened (whole records only).</summary>
        public CheckpointContents Contents { get; }

        /// <summary>True when this object created the file (it did not exist, or was empty).</summary>
        public bool Created { get; }

        /// <summary>
        /// Opens (or creates) the checkpoint at <paramref name="path"/> with exclusive access and reads it. Writes
        /// nothing: a file found is left as it was until <see cref="BeginRun"/>. Throws
        /// <see cref="CheckpointException"/> with a stable error id for a path that cannot be used, a file of another
        /// format or version, or a file in use by another call.
        /// </summary>
        public static CheckpointFile Open(string path)
        {
            CheckPath(path);
            bool existed = File.Exists(path);
            FileStream stream;
            try
            {
                // FileShare.None: on Unix .NET takes an advisory exclusive lock (flock), which every other JoblibPS
                // call honours; on Windows the file cannot be opened again at all.
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 4096, FileOptions.None);
            }
            catch (IOException ex) when (existed && !(ex is FileNotFoundException) && !(ex is DirectoryNotFoundException))
            {
                throw InUse(path, ex);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new CheckpointException(ErrorIds.CheckpointPath, $"The checkpoint '{path}' cannot be opened for writing: {ex.Message} Give a path in a folder you can write to.", ex);
            }
            try
            {
                bool created = stream.Length == 0;
                if (!existed) RestrictToOwner(path);
                CheckpointContents contents = created ? CheckpointContents.Empty : Read(stream, path);
                return new CheckpointFile(path, stream, contents, created);
            }
            catch
            {
                stream.Dispose();
                if (!existed) TryDelete(path);
                throw;
            }
        }

        /// <summary>Reads the checkpoint at <paramref name="path"/> without changing it (shared access: fails while a call holds it).</summary>
        public static CheckpointContents ReadOnly(string path)
        {
            CheckPath(path);
            if (!File.Exists(path)) throw new CheckpointException(ErrorIds.CheckpointNotFound, $"There is no checkpoint at '{path}'.", null);
            try
            {
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    return stream.Length == 0 ? CheckpointContents.Empty : Read(stream, path);
                }
            }
            catch (IOException ex) when (!(ex is FileNotFoundException))
            {
                throw InUse(path, ex);
            }
        }

        /// <summary>
        /// Deletes the checkpoint at <paramref name="path"/>, after checking it is one (a file of another format is
        /// refused, not deleted) and that no call holds it.
        /// </summary>
        public static void Delete(string path)
        {
            CheckPath(path);
            if (!File.Exists(path)) throw new CheckpointException(ErrorIds.CheckpointNotFound, $"There is no checkpoint at '{path}'.", null);
            try
            {
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                {
                    if (stream.Length > 0) ReadPrefix(stream, path);
                    // Deleting while the handle (and its lock) is held: no call can open the file in between.
                    File.Delete(path);
                }
            }
            catch (IOException ex) when (!(ex is FileNotFoundException))
            {
                throw InUse(path, ex);
            }
        }

        /// <summary>
        /// Starts a run: cuts the file back to its last whole record (a torn write of an earlier run), writes the
        /// prefix and <paramref name="header"/> if the file is new (or held no finished item and belongs to another
        /// call: it is started afresh), and appends a run-start record.
        /// </summary>
        public void BeginRun(CheckpointHeader header, long items, long recorded)
        {
            lock (_gate)
            {
                bool fresh = Contents.Header == null || (Contents.ItemCount == 0 && Contents.Header.Identity != header.Identity);
                _stream.SetLength(fresh ? 0 : Contents.ValidLength);
                _stream.Position = _stream.Length;
                if (fresh)
                {
                    _stream.Write(Magic, 0, Magic.Length);
                    _stream.Write(BitConverter.GetBytes(FormatVersion), 0, 4);
                    WriteRecord(w => header.Write(w));
                }
                WriteRecord(w =>
                {
                    w.Write((byte)'S');
                    w.Write(DateTime.UtcNow.Ticks);
                    w.Write(items);
                    w.Write(recorded);
                });
                _stream.Flush(true);
                _started = true;
            }
        }

        /// <summary>Appends one batch of finished items: their keys and their records (<see cref="RecordCodec.Encode"/>).</summary>
        public void AppendBatch(IReadOnlyList<string> keys, byte[] records)
        {
            lock (_gate)
            {
                WriteRecord(w =>
                {
                    w.Write((byte)'B');
                    w.Write(DateTime.UtcNow.Ticks);
                    w.Write(keys.Count);
                    foreach (string key in keys) w.Write(key);
                    w.Write(records);
                });
                _dirty = true;
            }
        }

        /// <summary>Appends the end of the run (how it ended, items recorded in it, items that failed) and forces the file to the disk.</summary>
        public void EndRun(CheckpointRunStatus status, long recorded, long failed)
        {
            lock (_gate)
            {
                if (!_started || _disposed) return;
                WriteRecord(w =>
                {
                    w.Write((byte)'E');
                    w.Write(DateTime.UtcNow.Ticks);
                    w.Write((byte)status);
                    w.Write(recorded);
                    w.Write(failed);
                });
                _stream.Flush(true);
                _dirty = false;
            }
        }

        /// <summary>True once <see cref="BeginRun"/> wrote to the file.</summary>
        public bool Started => _started;

        /// <summary>Releases the file and its lock; deletes it when this object created it and no run began.</summary>
        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                _timer.Dispose();
                try
                {
                    if (_dirty) _stream.Flush(true);
                }
                catch (IOException)
                {
                }
                _stream.Dispose();
                if (Created && !_started) TryDelete(Path);
            }
        }

        private void Sync()
        {
            lock (_gate)
            {
                if (!_dirty || _disposed) return;
                try
                {
                    _stream.Flush(true);
                    _dirty = false;
                }
                catch (IOException)
                {
                    // The next append reports a failing disk; the timer has no one to tell.
                }
            }
        }

        /// <summary>Builds a record's payload, then writes length, checksum and payload as one write to the operating system.</summary>
        private void WriteRecord(Action<BinaryWriter> payload)
        {
            var buffer = new MemoryStream();
            buffer.Position = 8;
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) payload(writer);
            byte[] bytes = buffer.GetBuffer();
            int length = (int)buffer.Length - 8;
            BitConverter.GetBytes((uint)length).CopyTo(bytes, 0);
            BitConverter.GetBytes(Crc32.Compute(bytes, 8, length)).CopyTo(bytes, 4);
            _stream.Write(bytes, 0, length + 8);
            _stream.Flush(false);
        }

        /// <summary>Checks the magic and version; false when the file is a prefix cut short (a creation torn before its header).</summary>
        private static bool ReadPrefix(Stream stream, string path)
        {
            var prefix = new byte[PrefixLength];
            stream.Position = 0;
            int read = ReadFully(stream, prefix, 0, PrefixLength);
            for (int i = 0; i < Math.Min(read, Magic.Length); i++)
            {
                if (prefix[i] != Magic[i]) throw NotACheckpoint(path);
            }
            if (read < PrefixLength) return false;
            int version = BitConverter.ToInt32(prefix, 8);
            if (version != FormatVersion)
            {
                throw new CheckpointException(ErrorIds.CheckpointVersion, $"The checkpoint '{path}' is of format version {version}; this JoblibPS reads version {FormatVersion}. Use the JoblibPS that wrote it to finish that run, or remove it (Remove-JoblibCheckpoint -Path '{path}') to start afresh.", null);
            }
            return true;
        }

        private static CheckpointContents Read(Stream stream, string path)
        {
            var contents = new CheckpointContents { FileLength = stream.Length };
            if (!ReadPrefix(stream, path)) return contents;
            long position = PrefixLength;
            var head = new byte[8];
            while (true)
            {
                stream.Position = position;
                if (ReadFully(stream, head, 0, 8) < 8) break;
                uint length = BitConverter.ToUInt32(head, 0);
                uint crc = BitConverter.ToUInt32(head, 4);
                if (length == 0 || length > stream.Length - position - 8) break;
                var payload = new byte[length];
                if (ReadFully(stream, payload, 0, (int)length) < length || Crc32.Compute(payload, 0, (int)length) != crc) break;
                try
                {
                    // A visible buffer: a batch keeps the payload and decodes its records when they are replayed.
                    using (var reader = new BinaryReader(new MemoryStream(payload, 0, payload.Length, false, true), Encoding.UTF8)) contents.Add(reader, path);
                }
                catch (EndOfStreamException)
                {
                    break;
                }
                position += 8 + length;
            }
            contents.ValidLength = position;
            if (contents.Header == null)
            {
                // The prefix was written but not the header: a creation cut short. Nothing was recorded.
                contents.ValidLength = 0;
            }
            return contents;
        }

        private static int ReadFully(Stream stream, byte[] buffer, int offset, int count)
        {
            int total = 0;
            while (total < count)
            {
                int n = stream.Read(buffer, offset + total, count - total);
                if (n == 0) break;
                total += n;
            }
            return total;
        }

        private static void CheckPath(string path)
        {
            if (Directory.Exists(path))
            {
                throw new CheckpointException(ErrorIds.CheckpointIsDirectory, $"The checkpoint path '{path}' is a folder. Give the path of a file (it is created if it does not exist), for example '{System.IO.Path.Combine(path, "run.checkpoint")}'.", null);
            }
            string folder = System.IO.Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
            {
                throw new CheckpointException(ErrorIds.CheckpointPath, $"The folder of the checkpoint '{path}' does not exist. Create it first, or give a path in a folder that exists.", null);
            }
        }

        private static CheckpointException InUse(string path, Exception inner)
        {
            return new CheckpointException(ErrorIds.CheckpointInUse, $"The checkpoint '{path}' is in use by another call (in this or another process). Two calls never share a checkpoint: wait for that call to end, or give this one a checkpoint of its own.", inner);
        }

        private static CheckpointException NotACheckpoint(string path)
        {
            return new CheckpointException(ErrorIds.CheckpointFormat, $"The file '{path}' is not a JoblibPS checkpoint; it was left as it was. Give the path of a checkpoint, or of a file that does not exist yet.", null);
        }

        /// <summary>
        /// Makes a new checkpoint readable and writable by its owner only (0600), before anything is written to it: it
        /// holds the items' outputs. File.SetUnixFileMode is .NET 7's and not in netstandard2.0, so it is reached by
        /// reflection (pwsh 7.4 and later run on .NET 8 or later). On Windows the file inherits its folder's access
        /// rules (a profile folder is the user's own).
        /// </summary>
        internal static void RestrictToOwner(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            Type modeType = typeof(File).Assembly.GetType("System.IO.UnixFileMode");
            MethodInfo set = modeType == null ? null : typeof(File).GetMethod("SetUnixFileMode", new[] { typeof(string), modeType });
            if (set == null) return;
            // UserRead (256) | UserWrite (128).
            set.Invoke(null, new[] { path, Enum.ToObject(modeType, 256 | 128) });
        }

        private static void TryDelete(string path)
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>How a run recorded in a checkpoint ended.</summary>
    internal enum CheckpointRunStatus : byte
    {
        Completed = 0,
        Failed = 1,
        Stopped = 2,
    }
}
