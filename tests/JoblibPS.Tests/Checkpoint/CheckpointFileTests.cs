using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Runtime.InteropServices;
using Xunit;
using JoblibPS.Checkpoint;

namespace JoblibPS.Tests.Checkpoint
{
    /// <summary>
    /// The checkpoint store on its own: what is written is read back, a torn or corrupt last record is ignored (and
    /// cut away by the next run), a second opener is refused at once, bad files are refused and left as they were,
    /// and the file is its owner's only. Each test works in a folder of its own, removed at the end.
    /// </summary>
    public sealed class CheckpointFileTests : IDisposable
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "joblibps-ckpt-" + Guid.NewGuid().ToString("N"));
        private readonly string _path;

        public CheckpointFileTests()
        {
            Directory.CreateDirectory(_folder);
            _path = Path.Combine(_folder, "run.checkpoint");
        }

        public void Dispose() => Directory.Delete(_folder, recursive: true);

        private static CheckpointHeader Header(string block = "{ $_ * 2 }")
        {
            var parts = new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("the script block", ItemKeys.Hash(block)) };
            return new CheckpointHeader(ItemKeys.Hash(block), parts, block, DateTime.UtcNow);
        }

        private static byte[] Records(params object[][] perItem) =>
            RecordCodec.Encode(BatchResult.FromRecordedItems(perItem.Select(records => records.Select(PSObject.AsPSObject))), perItem.Length);

        private void WriteRun(params string[][] batches)
        {
            using (CheckpointFile file = CheckpointFile.Open(_path))
            {
                file.BeginRun(Header(), 10, 0);
                foreach (string[] keys in batches) file.AppendBatch(keys, Records(keys.Select(k => new object[] { "out " + k }).ToArray()));
                file.EndRun(CheckpointRunStatus.Failed, batches.Sum(b => b.Length), 1);
            }
        }

        [Fact]
        public void WhatIsAppendedIsReadBack()
        {
            WriteRun(new[] { "a", "b" }, new[] { "c" });
            CheckpointContents contents = CheckpointFile.ReadOnly(_path);
            Assert.Equal(Header().Identity, contents.Header.Identity);
            Assert.Equal(new[] { "a", "b", "c" }, contents.Keys.OrderBy(k => k));
            Assert.Equal(2, contents.Batches.Count);
            Assert.True(contents.TryFind("c", out ItemLocation c));
            Assert.Equal(0, c.Index);
            CheckpointRun run = Assert.Single(contents.Runs);
            Assert.Equal(CheckpointRunStatus.Failed, run.Status);
            Assert.Equal(3, run.Recorded);
            Assert.Equal(1, run.Failed);
            Assert.Equal(0, contents.IgnoredBytes);
        }

        [Theory]
        [InlineData(1)]
        [InlineData(7)]
        [InlineData(30)]
        public void ATornLastRecordIsIgnoredAndCutAwayByTheNextRun(int cut)
        {
            using (CheckpointFile file = CheckpointFile.Open(_path))
            {
                file.BeginRun(Header(), 3, 0);
                file.AppendBatch(new[] { "a" }, Records(new object[] { 1 }));
                file.AppendBatch(new[] { "b" }, Records(new object[] { 2 }));
            }
            long length = new FileInfo(_path).Length;
            using (var stream = new FileStream(_path, FileMode.Open)) stream.SetLength(length - cut);

            CheckpointContents torn = CheckpointFile.ReadOnly(_path);
            Assert.Equal(new[] { "a" }, torn.Keys);
            Assert.True(torn.IgnoredBytes > 0);

            using (CheckpointFile file = CheckpointFile.Open(_path))
            {
                file.BeginRun(Header(), 3, 1);
                file.AppendBatch(new[] { "b", "c" }, Records(new object[] { 2 }, new object[] { 3 }));
            }
            CheckpointContents resumed = CheckpointFile.ReadOnly(_path);
            Assert.Equal(new[] { "a", "b", "c" }, resumed.Keys.OrderBy(k => k));
            Assert.Equal(0, resumed.IgnoredBytes);
            Assert.Equal(2, resumed.Runs.Count);
            Assert.Null(resumed.Runs[0].Ended);
        }

        [Fact]
        public void ALastRecordWithAWrongChecksumIsIgnored()
        {
            WriteRun(new[] { "a" }, new[] { "b" });
            byte[] bytes = File.ReadAllBytes(_path);
            // The last record is the run's end; flip a byte in the payload of the batch before it by cutting the end first.
            CheckpointContents whole = CheckpointFile.ReadOnly(_path);
            bytes[bytes.Length - 3] ^= 0xFF;
            File.WriteAllBytes(_path, bytes);
            CheckpointContents corrupt = CheckpointFile.ReadOnly(_path);
            Assert.Equal(whole.ItemCount, corrupt.ItemCount);
            Assert.Null(corrupt.Runs.Single().Ended);
            Assert.True(corrupt.IgnoredBytes > 0);
        }

        [Fact]
        public void ASecondOpenerIsRefusedAtOnce()
        {
            using (CheckpointFile first = CheckpointFile.Open(_path))
            {
                first.BeginRun(Header(), 1, 0);
                var second = Assert.Throws<CheckpointException>(() => CheckpointFile.Open(_path));
                Assert.Equal(ErrorIds.CheckpointInUse, second.ErrorId);
                var reader = Assert.Throws<CheckpointException>(() => CheckpointFile.ReadOnly(_path));
                Assert.Equal(ErrorIds.CheckpointInUse, reader.ErrorId);
                var remover = Assert.Throws<CheckpointException>(() => CheckpointFile.Delete(_path));
                Assert.Equal(ErrorIds.CheckpointInUse, remover.ErrorId);
            }
            using (CheckpointFile.Open(_path)) { }
        }

        [Fact]
        public void AFileOfAnotherFormatIsRefusedAndLeftAsItWas()
        {
            File.WriteAllText(_path, "important notes, not a checkpoint");
            var error = Assert.Throws<CheckpointException>(() => CheckpointFile.Open(_path));
            Assert.Equal(ErrorIds.CheckpointFormat, error.ErrorId);
            Assert.Equal(ErrorIds.CheckpointFormat, Assert.Throws<CheckpointException>(() => CheckpointFile.Delete(_path)).ErrorId);
            Assert.Equal("important notes, not a checkpoint", File.ReadAllText(_path));
        }

        [Fact]
        public void ACheckpointOfAnotherVersionIsRefusedAndLeftAsItWas()
        {
            WriteRun(new[] { "a" });
            byte[] bytes = File.ReadAllBytes(_path);
            BitConverter.GetBytes(99).CopyTo(bytes, 8);
            File.WriteAllBytes(_path, bytes);
            var error = Assert.Throws<CheckpointException>(() => CheckpointFile.Open(_path));
            Assert.Equal(ErrorIds.CheckpointVersion, error.ErrorId);
            Assert.Contains("version 99", error.Message);
            Assert.Equal(bytes, File.ReadAllBytes(_path));
        }

        [Fact]
        public void AFolderOrAMissingFolderIsRefused()
        {
            Assert.Equal(ErrorIds.CheckpointIsDirectory, Assert.Throws<CheckpointException>(() => CheckpointFile.Open(_folder)).ErrorId);
            string missing = Path.Combine(_folder, "no-such-folder", "run.checkpoint");
            Assert.Equal(ErrorIds.CheckpointPath, Assert.Throws<CheckpointException>(() => CheckpointFile.Open(missing)).ErrorId);
            Assert.False(Directory.Exists(Path.GetDirectoryName(missing)));
        }

        [Fact]
        public void ANewFileIsTheOwnersOnlyAndIsRemovedWhenNoRunBegan()
        {
            using (CheckpointFile file = CheckpointFile.Open(_path))
            {
                if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                {
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
                }
            }
            Assert.False(File.Exists(_path));
        }

        [Fact]
        public void AnEmptyFileOrATornCreationIsANewCheckpoint()
        {
            File.WriteAllBytes(_path, System.Text.Encoding.ASCII.GetBytes("JLPSC"));
            using (CheckpointFile file = CheckpointFile.Open(_path))
            {
                Assert.Null(file.Contents.Header);
                file.BeginRun(Header(), 1, 0);
            }
            Assert.NotNull(CheckpointFile.ReadOnly(_path).Header);
        }

        [Fact]
        public void RecordedOutputIsReplayedDeserializedAndDuplicateKeysAreRefused()
        {
            CheckpointHeader header = Header();
            using (CallCheckpoint first = CallCheckpoint.Open(_path, header, null))
            {
                foreach (int i in new[] { 1, 2, 3 }) first.Collect(i);
                first.Plan();
                first.Record(0, 2, BatchResult.FromRecordedItems(new[] { new[] { PSObject.AsPSObject("one"), PSObject.AsPSObject(new Hashtable { ["k"] = 1 }) }, new PSObject[0] }));
                first.Close(CheckpointRunStatus.Failed, 1);
            }
            using (CallCheckpoint second = CallCheckpoint.Open(_path, header, null))
            {
                foreach (int i in new[] { 3, 1, 2 }) second.Collect(i);
                second.Plan();
                Assert.Equal(2, second.ReplayCount);
                Assert.False(second.IsRecorded(0));
                Assert.True(second.IsRecorded(1));
                BatchResult replayed = second.Replay(1, 2);
                Assert.Equal(2, replayed.CompleteItems);
                List<PSObject> records = replayed.RecordsOf(0).ToList();
                Assert.Equal("one", records[0].BaseObject);
                Assert.Equal(1, ((Hashtable)records[1].BaseObject)["k"]);
                Assert.Empty(replayed.RecordsOf(1));
            }
            using (CallCheckpoint third = CallCheckpoint.Open(_path, header, null))
            {
                foreach (object i in new object[] { 1, "1", 1 }) third.Collect(i);
                var error = Assert.Throws<CheckpointException>(() => third.Plan());
                Assert.Equal(ErrorIds.CheckpointDuplicateKey, error.ErrorId);
                Assert.Contains("Items 1 and 3", error.Message);
            }
            Assert.Equal(2, CheckpointFile.ReadOnly(_path).Runs.Count);
        }

        [Fact]
        public void PlainValuesComeBackAsTheSameLiveValuesAndOthersDeserialized()
        {
            var when = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1234);
            var id = Guid.NewGuid();
            object[] plain = { "text", 42, 42L, 1.5, true, when, id, 12.34m, 'c', (byte)7, (sbyte)-7, (short)-3, (ushort)3, 9u, 9ul, 2.5f, TimeSpan.FromMilliseconds(1500), string.Empty };
            PSObject noted = PSObject.AsPSObject(5);
            noted.Properties.Add(new PSNoteProperty("Extra", "kept"));
            var items = new[]
            {
                plain.Select(PSObject.AsPSObject).ToArray(),
                new PSObject[0],
                new[] { PSObject.AsPSObject(new Hashtable { ["k"] = 1 }), null, noted, PSObject.AsPSObject(DayOfWeek.Friday), PSObject.AsPSObject("bad \ud800 surrogate"), PSObject.AsPSObject(3) },
            };
            byte[] data = RecordCodec.Encode(BatchResult.FromRecordedItems(items), items.Length);
            PSObject[] records = RecordCodec.Decode(data, 0, items.Length, out int[] starts);
            Assert.Equal(new[] { 0, plain.Length, plain.Length, plain.Length + 6 }, starts);
            for (int i = 0; i < plain.Length; i++)
            {
                Assert.Equal(plain[i].GetType(), records[i].BaseObject.GetType());
                Assert.Equal(plain[i], records[i].BaseObject);
            }
            Assert.Equal(DateTimeKind.Utc, ((DateTime)records[5].BaseObject).Kind);
            PSObject[] others = records.Skip(plain.Length).ToArray();
            Assert.Equal(1, ((Hashtable)others[0].BaseObject)["k"]);
            Assert.Null(others[1]);
            Assert.Equal(5, others[2].BaseObject);
            Assert.Equal("kept", others[2].Properties["Extra"].Value);
            Assert.Equal("Friday", others[3].ToString());
            Assert.Equal("bad \ud800 surrogate", others[4].BaseObject);
            Assert.Equal(3, others[5].BaseObject);
        }

        [Fact]
        public void ACheckpointOfAnotherCallIsRefusedSayingWhatChanged()
        {
            using (CallCheckpoint first = CallCheckpoint.Open(_path, Header("{ $_ * 2 }"), null))
            {
                first.Collect(1);
                first.Plan();
                first.Record(0, 1, BatchResult.FromRecordedItems(new[] { new[] { PSObject.AsPSObject(2) } }));
                first.Close(CheckpointRunStatus.Completed, 0);
            }
            byte[] before = File.ReadAllBytes(_path);
            var error = Assert.Throws<CheckpointException>(() => CallCheckpoint.Open(_path, Header("{ $_ * 3 }"), null));
            Assert.Equal(ErrorIds.CheckpointChanged, error.ErrorId);
            Assert.Contains("the script block changed", error.Message);
            Assert.Contains("Remove-JoblibCheckpoint", error.Message);
            Assert.Equal(before, File.ReadAllBytes(_path));
        }

        [Fact]
        public void ItemKeysFollowTheDocumentedRule()
        {
            Assert.NotEqual(ItemKeys.Of(1), ItemKeys.Of("1"));
            Assert.Equal("Int32:1", ItemKeys.Of(PSObject.AsPSObject(1)));
            Assert.Equal("String:a", ItemKeys.Of("a"));
            string file = Path.Combine(_folder, "x.txt");
            File.WriteAllText(file, "x");
            Assert.Equal("File:" + file, ItemKeys.Of(new FileInfo(file)));
            var deserialized = (PSObject)PSSerializer.Deserialize(PSSerializer.Serialize(new FileInfo(file)));
            Assert.Equal("File:" + file, ItemKeys.Of(deserialized));
            var one = new Hashtable { ["b"] = 2, ["a"] = 1 };
            var other = new Hashtable { ["a"] = 1, ["b"] = 2 };
            Assert.Equal(ItemKeys.Of(one), ItemKeys.Of(other));
            Assert.NotEqual(ItemKeys.Of(one), ItemKeys.Of(new Hashtable { ["a"] = 1, ["b"] = 3 }));
            var custom = new PSObject();
            custom.Properties.Add(new PSNoteProperty("Name", "srv1"));
            var same = new PSObject();
            same.Properties.Add(new PSNoteProperty("Name", "srv1"));
            Assert.Equal(ItemKeys.Of(custom), ItemKeys.Of(same));
            Assert.StartsWith("Object:", ItemKeys.Of(custom));
        }
    }
}
