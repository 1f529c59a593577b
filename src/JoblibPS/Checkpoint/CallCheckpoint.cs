using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;

namespace JoblibPS.Checkpoint
{
    /// <summary>
    /// One call's use of a checkpoint (-Checkpoint): opened when the call begins (path, format, version, lock and
    /// call identity checked before any item runs), fed the call's input, which it keeps, and then
    /// <see cref="Plan"/>ned once all input is in: every item's key is computed and checked (a key block that
    /// throws or returns nothing usable, two items with one key) before any item runs. The engine then asks it
    /// which items are recorded (<see cref="IsRecorded"/>), for their recorded output (<see cref="Replay"/>), records
    /// what finishes (<see cref="Record"/>) and ends the run (<see cref="Close"/>).
    /// </summary>
    /// <remarks>
    /// Why all input first: a duplicate key or a failing key block found at item 3,000 would otherwise come after
    /// 2,999 items ran and were recorded, and the run could not be told apart from a good one later. An admin's
    /// checkpointed run is a list of mailboxes, servers or files, which costs little to hold (-AsJob holds its input
    /// the same way).
    /// Threads: <see cref="Open"/>, <see cref="Collect"/> and <see cref="Plan"/> on the caller's pipeline thread
    /// (the key block runs there, in the caller's session); the rest on the run's pipeline thread. Owns the file:
    /// <see cref="Close"/> or <see cref="Dispose"/> releases it.
    /// </remarks>
    internal sealed class CallCheckpoint : IDisposable
    {
        private readonly CheckpointFile _file;
        private readonly CheckpointHeader _header;
        private readonly ScriptBlock _keyBlock;
        private readonly List<object> _items = new List<object>();
        private readonly Dictionary<RecordedBatch, DecodedBatch> _decoded = new Dictionary<RecordedBatch, DecodedBatch>();
        private readonly Dictionary<RecordedBatch, int> _toReplay = new Dictionary<RecordedBatch, int>();
        private string[] _keys;
        private bool[] _recorded;
        private ItemLocation[] _locations;
        private long _recordedInRun;
        private bool _closed;

        private CallCheckpoint(CheckpointFile file, CheckpointHeader header, ScriptBlock keyBlock)
        {
            _file = file;
            _header = header;
            _keyBlock = keyBlock;
        }

        public string Path => _file.Path;

        /// <summary>Items recorded by earlier runs that this call writes from the checkpoint (known after <see cref="Plan"/>).</summary>
        public long ReplayCount { get; private set; }

        /// <summary>
        /// Opens the checkpoint for a call of identity <paramref name="header"/>. Throws <see cref="CheckpointException"/>
        /// for a bad path, another format or version, a checkpoint in use, or one that holds results of a different call.
        /// </summary>
        public static CallCheckpoint Open(string path, CheckpointHeader header, ScriptBlock keyBlock)
        {
            CheckpointFile file = CheckpointFile.Open(path);
            CheckpointHeader recorded = file.Contents.Header;
            if (recorded != null && file.Contents.ItemCount > 0 && recorded.Identity != header.Identity)
            {
                file.Dispose();
                string changed = string.Join(" and ", CallIdentity.Changed(recorded, header));
                throw new CheckpointException(ErrorIds.CheckpointChanged,
                    $"The checkpoint '{path}' holds the output of {file.Contents.ItemCount} items of another call ({recorded.Description}): {(changed.Length == 0 ? "the call" : changed)} changed since. Output of other code is never reused. To start afresh, remove the checkpoint (Remove-JoblibCheckpoint -Path '{path}') or give another path; to finish the earlier run, run the call as it was.",
                    null);
            }
            return new CallCheckpoint(file, header, keyBlock);
        }

        /// <summary>Keeps one input item, in input order.</summary>
        public void Collect(object item) => _items.Add(item);

        /// <summary>
        /// Computes every item's key, checks them, and starts the run in the file. Returns the items, in input order,
        /// for the engine (or a job). Throws <see cref="CheckpointException"/> (the checkpoint left as it was) for a
        /// key block that throws, returns nothing, several values or a script block, and for two items with one key.
        /// </summary>
        public IReadOnlyList<object> Plan()
        {
            _keys = new string[_items.Count];
            _recorded = new bool[_items.Count];
            _locations = new ItemLocation[_items.Count];
            var seen = new Dictionary<string, int>(_items.Count, StringComparer.Ordinal);
            // Output is only reused from a checkpoint of this very call (Open refused one of another call holding items).
            bool sameCall = _file.Contents.Header?.Identity == _header.Identity;
            for (int i = 0; i < _items.Count; i++)
            {
                string key = KeyOf(_items[i], i);
                if (seen.TryGetValue(key, out int first))
                {
                    throw new CheckpointException(ErrorIds.CheckpointDuplicateKey,
                        $"Items {first + 1} and {i + 1} of the input have the same checkpoint key ({Show(key)}), so the checkpoint could not tell their outputs apart; nothing ran. Remove the duplicate from the input, or give -CheckpointKey {{ ... }} a value that differs per item (for example {{ $_.Id }}).",
                        null);
                }
                seen.Add(key, i);
                _keys[i] = key;
                if (sameCall && _file.Contents.TryFind(key, out ItemLocation location))
                {
                    _recorded[i] = true;
                    _locations[i] = location;
                    ReplayCount++;
                    _toReplay[location.Batch] = _toReplay.TryGetValue(location.Batch, out int n) ? n + 1 : 1;
                }
            }
            _file.BeginRun(_header, _items.Count, ReplayCount);
            return _items;
        }

        /// <summary>True when item <paramref name="inputIndex"/> was recorded by an earlier run: it is not run, its output is replayed.</summary>
        public bool IsRecorded(long inputIndex) => inputIndex < _recorded.Length && _recorded[inputIndex];

        /// <summary>
        /// The recorded output of items <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1
        /// (each recorded), as a completed batch result the output order writes like any other. Records come back
        /// deserialized, as from a process backend.
        /// </summary>
        public BatchResult Replay(long first, int count)
        {
            var records = new List<PSObject>(count);
            var starts = new List<int>(count);
            for (long i = first; i < first + count; i++)
            {
                ItemLocation location = _locations[i];
                RecordedBatch batch = location.Batch;
                if (!_decoded.TryGetValue(batch, out DecodedBatch decoded))
                {
                    decoded = new DecodedBatch(batch);
                    _decoded[batch] = decoded;
                }
                starts.Add(records.Count);
                for (int r = decoded.Starts[location.Index]; r < decoded.Starts[location.Index + 1]; r++) records.Add(decoded.Records[r]);
                // A batch's decoded records are dropped once every item of it this call replays was written.
                if (--_toReplay[batch] == 0) _decoded.Remove(batch);
            }
            return BatchResult.FromRecorded(records, starts);
        }

        /// <summary>Records the first <paramref name="count"/> items of a batch that starts at input item <paramref name="first"/>: they finished without error.</summary>
        public void Record(long first, int count, BatchResult result)
        {
            if (_closed || count <= 0) return;
            var keys = new string[count];
            Array.Copy(_keys, first, keys, 0, count);
            byte[] records = RecordCodec.Encode(result, count);
            try
            {
                _file.AppendBatch(keys, records);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ObjectDisposedException)
            {
                throw new Engine.TerminatingErrorException(Errors.ErrorRecords.Argument(ErrorIds.CheckpointWriteFailed,
                    $"Writing to the checkpoint '{Path}' failed: {ex.Message} The call stops; what was recorded before stays, and the next run goes on from there.", Path, ErrorCategory.WriteError));
            }
            _recordedInRun += count;
        }

        /// <summary>Ends the run in the file (how it ended, how many items failed) and releases the file. Idempotent.</summary>
        public void Close(CheckpointRunStatus status, long failed)
        {
            if (_closed) return;
            _closed = true;
            try
            {
                _file.EndRun(status, _recordedInRun, failed);
            }
            catch (IOException)
            {
                // Best effort: a run without its end record reads as interrupted, and nothing recorded is lost.
            }
            finally
            {
                _file.Dispose();
            }
        }

        /// <summary>Releases the file; a run begun and not closed is ended as stopped. A file this call created and never used is deleted.</summary>
        public void Dispose()
        {
            if (_closed) return;
            if (_file.Started) Close(CheckpointRunStatus.Stopped, 0);
            else
            {
                _closed = true;
                _file.Dispose();
            }
        }

        private string KeyOf(object item, int index)
        {
            if (_keyBlock == null) return ItemKeys.Of(item);
            System.Collections.ObjectModel.Collection<PSObject> result;
            try
            {
                result = _keyBlock.InvokeWithContext(null, new List<PSVariable> { new PSVariable("_", item) });
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                string reason = ex is RuntimeException rte && rte.ErrorRecord?.Exception != null ? rte.ErrorRecord.Exception.Message : ex.Message;
                throw new CheckpointException(ErrorIds.CheckpointKeyFailed, $"-CheckpointKey threw for item {index + 1} of the input: {reason} Nothing ran; fix the key block.", ex);
            }
            string wrong = null;
            if (result.Count == 0 || (result.Count == 1 && result[0]?.BaseObject == null)) wrong = "returned nothing ($null)";
            else if (result.Count > 1) wrong = $"returned {result.Count} values";
            else if (result[0].BaseObject is ScriptBlock) wrong = "returned a script block";
            if (wrong != null)
            {
                throw new CheckpointException(ErrorIds.CheckpointKeyInvalid, $"-CheckpointKey {wrong} for item {index + 1} of the input. It must return one value that identifies the item (a string, number or path), for example {{ $_.Id }}. Nothing ran.", null);
            }
            return ItemKeys.Of(result[0]);
        }

        private static string Show(string key) => key.Length <= 120 ? key : key.Substring(0, 117) + "...";

        /// <summary>A recorded batch's records, decoded once for the items of it this call replays.</summary>
        private sealed class DecodedBatch
        {
            public DecodedBatch(RecordedBatch batch)
            {
                Records = batch.Decode(out int[] starts);
                Starts = starts;
            }

            public PSObject[] Records { get; }

            public int[] Starts { get; }
        }
    }

    /// <summary>An input item the checkpoint holds, as it waits in the engine's line: written from the checkpoint, not run.</summary>
    internal sealed class RecordedItem
    {
        public RecordedItem(object item)
        {
            Item = item;
        }

        public object Item { get; }
    }

    /// <summary>Turns a <see cref="CheckpointException"/> into the error the user sees.</summary>
    internal static class CheckpointErrors
    {
        public static ErrorRecord ToErrorRecord(CheckpointException ex, object target)
        {
            ErrorCategory category;
            switch (ex.ErrorId)
            {
                case ErrorIds.CheckpointInUse: category = ErrorCategory.ResourceBusy; break;
                case ErrorIds.CheckpointFormat:
                case ErrorIds.CheckpointVersion: category = ErrorCategory.InvalidData; break;
                case ErrorIds.CheckpointChanged: category = ErrorCategory.InvalidOperation; break;
                case ErrorIds.CheckpointNotFound: category = ErrorCategory.ObjectNotFound; break;
                case ErrorIds.CheckpointPath: category = ErrorCategory.WriteError; break;
                default: category = ErrorCategory.InvalidArgument; break;
            }
            return new ErrorRecord(ex, ex.ErrorId, category, target);
        }
    }
}
