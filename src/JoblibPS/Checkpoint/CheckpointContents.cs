using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;

namespace JoblibPS.Checkpoint
{
    /// <summary>
    /// What a checkpoint file holds, as read (whole records only): its header, the batches of finished items and
    /// the runs. Built by <see cref="CheckpointFile"/>; read-only afterwards.
    /// </summary>
    internal sealed class CheckpointContents
    {
        private readonly Dictionary<string, ItemLocation> _items = new Dictionary<string, ItemLocation>(StringComparer.Ordinal);

        public static CheckpointContents Empty => new CheckpointContents();

        /// <summary>The header, or null for a file that is new (empty, or its creation was cut short).</summary>
        public CheckpointHeader Header { get; private set; }

        public List<RecordedBatch> Batches { get; } = new List<RecordedBatch>();

        public List<CheckpointRun> Runs { get; } = new List<CheckpointRun>();

        /// <summary>The number of items recorded (distinct keys).</summary>
        public int ItemCount => _items.Count;

        public IEnumerable<string> Keys => _items.Keys;

        /// <summary>The file's length when read.</summary>
        public long FileLength { get; set; }

        /// <summary>The length of the file up to the end of its last whole record; bytes after it are a torn write, ignored.</summary>
        public long ValidLength { get; set; }

        /// <summary>Bytes after the last whole record (a write torn by a kill or a power cut).</summary>
        public long IgnoredBytes => Math.Max(0, FileLength - ValidLength);

        /// <summary>The time the last batch was recorded, or null.</summary>
        public DateTime? LastRecorded => Batches.Count == 0 ? (DateTime?)null : Batches[Batches.Count - 1].Time;

        public bool TryFind(string key, out ItemLocation location) => _items.TryGetValue(key, out location);

        internal void Add(BinaryReader reader, string path)
        {
            char kind = (char)reader.ReadByte();
            switch (kind)
            {
                case 'H':
                    Header = CheckpointHeader.Read(reader, path);
                    break;
                case 'S':
                    Runs.Add(new CheckpointRun { Started = Utc(reader.ReadInt64()), Items = reader.ReadInt64(), Replayed = reader.ReadInt64() });
                    break;
                case 'B':
                    var batch = new RecordedBatch { Time = Utc(reader.ReadInt64()) };
                    int count = reader.ReadInt32();
                    if (count < 0) throw new EndOfStreamException();
                    batch.Keys = new string[count];
                    for (int i = 0; i < count; i++) batch.Keys[i] = reader.ReadString();
                    // The records stay encoded until they are replayed (RecordedBatch.Decode): most reads only need the keys.
                    batch.Data = ((MemoryStream)reader.BaseStream).GetBuffer();
                    batch.RecordsOffset = (int)reader.BaseStream.Position;
                    for (int i = 0; i < count; i++) _items[batch.Keys[i]] = new ItemLocation(batch, i);
                    Batches.Add(batch);
                    break;
                case 'E':
                    CheckpointRun run = Runs.LastOrDefault();
                    if (run == null) break;
                    run.Ended = Utc(reader.ReadInt64());
                    run.Status = (CheckpointRunStatus)reader.ReadByte();
                    run.Recorded = reader.ReadInt64();
                    run.Failed = reader.ReadInt64();
                    break;
                default:
                    // A record kind a later version of this format added: skipped (the version number says what must be understood).
                    break;
            }
        }

        private static DateTime Utc(long ticks) => new DateTime(ticks, DateTimeKind.Utc);
    }

    /// <summary>The call a checkpoint belongs to: its identity (a hash of its parts), the hash of each part, and a description for people.</summary>
    internal sealed class CheckpointHeader
    {
        public CheckpointHeader(string identity, IReadOnlyList<KeyValuePair<string, string>> parts, string description, DateTime created)
        {
            Identity = identity;
            Parts = parts;
            Description = description;
            Created = created;
        }

        public string Identity { get; }

        /// <summary>Each part of the identity (block, $using: values, ...) and its hash, to say which one changed.</summary>
        public IReadOnlyList<KeyValuePair<string, string>> Parts { get; }

        public string Description { get; }

        public DateTime Created { get; }

        internal void Write(BinaryWriter writer)
        {
            writer.Write((byte)'H');
            writer.Write(CheckpointFile.FormatName);
            writer.Write(Identity);
            writer.Write(Parts.Count);
            foreach (KeyValuePair<string, string> part in Parts)
            {
                writer.Write(part.Key);
                writer.Write(part.Value);
            }
            writer.Write(Description ?? string.Empty);
            writer.Write(Created.Ticks);
        }

        internal static CheckpointHeader Read(BinaryReader reader, string path)
        {
            string format = reader.ReadString();
            if (format != CheckpointFile.FormatName)
            {
                throw new CheckpointException(ErrorIds.CheckpointFormat, $"The file '{path}' is not a JoblibPS checkpoint (its header names the format '{format}'); it was left as it was.", null);
            }
            string identity = reader.ReadString();
            int count = reader.ReadInt32();
            var parts = new List<KeyValuePair<string, string>>();
            for (int i = 0; i < count; i++) parts.Add(new KeyValuePair<string, string>(reader.ReadString(), reader.ReadString()));
            string description = reader.ReadString();
            return new CheckpointHeader(identity, parts, description, new DateTime(reader.ReadInt64(), DateTimeKind.Utc));
        }
    }

    /// <summary>One batch of finished items as recorded: their keys, and their records, still encoded (<see cref="RecordCodec"/>).</summary>
    internal sealed class RecordedBatch
    {
        public DateTime Time { get; set; }

        public string[] Keys { get; set; }

        /// <summary>The record's payload; the items' records begin at <see cref="RecordsOffset"/>.</summary>
        public byte[] Data { get; set; }

        public int RecordsOffset { get; set; }

        /// <summary>The records of every item of the batch, in order; item i's are <paramref name="starts"/>[i] to <paramref name="starts"/>[i + 1] - 1.</summary>
        public PSObject[] Decode(out int[] starts) => RecordCodec.Decode(Data, RecordsOffset, Keys.Length, out starts);
    }

    /// <summary>Where an item's records are: its batch and its place in it.</summary>
    internal readonly struct ItemLocation
    {
        public ItemLocation(RecordedBatch batch, int index)
        {
            Batch = batch;
            Index = index;
        }

        public RecordedBatch Batch { get; }

        public int Index { get; }
    }

    /// <summary>One run of the call over the checkpoint: when it started, how many items it had and found recorded, and how it ended (no end: interrupted).</summary>
    internal sealed class CheckpointRun
    {
        public DateTime Started { get; set; }

        public long Items { get; set; }

        public long Replayed { get; set; }

        public DateTime? Ended { get; set; }

        public CheckpointRunStatus? Status { get; set; }

        public long Recorded { get; set; }

        public long Failed { get; set; }
    }
}
