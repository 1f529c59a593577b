using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq.Expressions;
using System.Management.Automation;
using System.Reflection;
using System.Text;

namespace JoblibPS.Checkpoint
{
    /// <summary>
    /// The records of a batch of finished items as a checkpoint holds them (format version 2): plain values in a
    /// compact binary form, every other record in one CliXml document per batch (depth 1, as PowerShell remoting
    /// and so every process backend serializes output).
    /// </summary>
    /// <remarks>
    /// <para>Layout: the CliXml document of the batch's other records (a list; an empty string when there are
    /// none), then per item an int32 record count and its records, each a <see cref="Tag"/> byte and the value:
    /// <see cref="Tag.Other"/> takes the next element of the document.</para>
    /// <para>Why: CliXml of 100,000 small integers took about 3 s to write and 1 to 2 s to read on the pipeline
    /// thread (bench/Checkpoint.ps1, tiny and resume), most of a checkpointed run's time; the binary form takes
    /// milliseconds. A plain value (string, number, boolean, character, date, time span, GUID) with nothing added
    /// (no note property, no type name of its own) comes back as the same live value CliXml gives back, so what a
    /// rerun writes does not change. A value with added members, an enum, or a string with an unpaired surrogate
    /// (which UTF-8 cannot carry) takes the CliXml path.</para>
    /// </remarks>
    internal static class RecordCodec
    {
        /// <summary>What a record is, as its first byte says.</summary>
        private enum Tag : byte
        {
            Null = 0,
            Other = 1,
            String = 2,
            Int32 = 3,
            Int64 = 4,
            Double = 5,
            Boolean = 6,
            DateTime = 7,
            Guid = 8,
            Decimal = 9,
            Char = 10,
            Byte = 11,
            SByte = 12,
            Int16 = 13,
            UInt16 = 14,
            UInt32 = 15,
            UInt64 = 16,
            Single = 17,
            TimeSpan = 18,
        }

        /// <summary>
        /// PowerShell's internal <c>PSObject.HasInstanceMembers</c> and <c>HasInstanceTypeName</c> (its serializer
        /// asks them too): true when a value carries members or type names of its own. Null when not found: every
        /// value then takes the CliXml path, which keeps whatever it has.
        /// </summary>
        internal static readonly Func<object, bool> HasInstanceMembers = InstanceProbe("HasInstanceMembers");

        internal static readonly Func<object, bool> HasInstanceTypeName = InstanceProbe("HasInstanceTypeName");

        private static bool HasInstanceData(PSObject record) =>
            HasInstanceMembers == null || HasInstanceTypeName == null || HasInstanceMembers(record) || HasInstanceTypeName(record);

        /// <summary>Encodes the records of the first <paramref name="count"/> items of <paramref name="result"/>. Any thread; the records are read, not changed.</summary>
        public static byte[] Encode(BatchResult result, int count)
        {
            var plain = new MemoryStream();
            var others = new List<object>();
            using (var writer = new BinaryWriter(plain, Encoding.UTF8, leaveOpen: true))
            {
                for (int i = 0; i < count; i++)
                {
                    long countAt = plain.Position;
                    writer.Write(0);
                    int records = 0;
                    foreach (PSObject record in result.RecordsOf(i))
                    {
                        if (!TryWritePlain(writer, record))
                        {
                            writer.Write((byte)Tag.Other);
                            others.Add(record);
                        }
                        records++;
                    }
                    long end = plain.Position;
                    plain.Position = countAt;
                    writer.Write(records);
                    plain.Position = end;
                }
            }
            var output = new MemoryStream((int)plain.Length + 64);
            using (var writer = new BinaryWriter(output, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(others.Count == 0 ? string.Empty : PSSerializer.Serialize(others.ToArray(), 1));
                writer.Write(plain.GetBuffer(), 0, (int)plain.Length);
            }
            return output.ToArray();
        }

        /// <summary>
        /// Decodes the records of <paramref name="count"/> items from <paramref name="data"/> at <paramref name="offset"/>:
        /// all records in item order, and where each item's begin (<paramref name="starts"/>[i]; one more entry, the end).
        /// </summary>
        public static PSObject[] Decode(byte[] data, int offset, int count, out int[] starts)
        {
            starts = new int[count + 1];
            var records = new List<PSObject>(count);
            using (var reader = new BinaryReader(new MemoryStream(data, offset, data.Length - offset, writable: false), Encoding.UTF8))
            {
                string xml = reader.ReadString();
                IList others = xml.Length == 0 ? null : AsList(PSSerializer.Deserialize(xml));
                int other = 0;
                for (int i = 0; i < count; i++)
                {
                    starts[i] = records.Count;
                    int n = reader.ReadInt32();
                    for (int r = 0; r < n; r++)
                    {
                        var tag = (Tag)reader.ReadByte();
                        if (tag == Tag.Other)
                        {
                            object element = others[other++];
                            records.Add(element == null ? null : PSObject.AsPSObject(element));
                        }
                        else
                        {
                            object value = ReadPlain(reader, tag);
                            records.Add(value == null ? null : PSObject.AsPSObject(value));
                        }
                    }
                }
                starts[count] = records.Count;
            }
            return records.ToArray();
        }

        private static bool TryWritePlain(BinaryWriter writer, PSObject record)
        {
            if (record == null)
            {
                writer.Write((byte)Tag.Null);
                return true;
            }
            object value = record.BaseObject;
            Type type = value.GetType();
            if (type.IsEnum) return false;
            Tag tag;
            switch (Type.GetTypeCode(type))
            {
                case TypeCode.String:
                    if (HasSurrogate((string)value)) return false;
                    tag = Tag.String;
                    break;
                case TypeCode.Int32: tag = Tag.Int32; break;
                case TypeCode.Int64: tag = Tag.Int64; break;
                case TypeCode.Double: tag = Tag.Double; break;
                case TypeCode.Boolean: tag = Tag.Boolean; break;
                case TypeCode.DateTime: tag = Tag.DateTime; break;
                case TypeCode.Decimal: tag = Tag.Decimal; break;
                case TypeCode.Char: tag = Tag.Char; break;
                case TypeCode.Byte: tag = Tag.Byte; break;
                case TypeCode.SByte: tag = Tag.SByte; break;
                case TypeCode.Int16: tag = Tag.Int16; break;
                case TypeCode.UInt16: tag = Tag.UInt16; break;
                case TypeCode.UInt32: tag = Tag.UInt32; break;
                case TypeCode.UInt64: tag = Tag.UInt64; break;
                case TypeCode.Single: tag = Tag.Single; break;
                default:
                    if (value is Guid) tag = Tag.Guid;
                    else if (value is TimeSpan) tag = Tag.TimeSpan;
                    else return false;
                    break;
            }
            // Added members or type names: CliXml keeps them.
            if (HasInstanceData(record)) return false;
            writer.Write((byte)tag);
            switch (tag)
            {
                case Tag.String: writer.Write((string)value); break;
                case Tag.Int32: writer.Write((int)value); break;
                case Tag.Int64: writer.Write((long)value); break;
                case Tag.Double: writer.Write((double)value); break;
                case Tag.Boolean: writer.Write((bool)value); break;
                case Tag.DateTime: writer.Write(((DateTime)value).ToBinary()); break;
                case Tag.Decimal: writer.Write((decimal)value); break;
                case Tag.Char: writer.Write((ushort)(char)value); break;
                case Tag.Byte: writer.Write((byte)value); break;
                case Tag.SByte: writer.Write((sbyte)value); break;
                case Tag.Int16: writer.Write((short)value); break;
                case Tag.UInt16: writer.Write((ushort)value); break;
                case Tag.UInt32: writer.Write((uint)value); break;
                case Tag.UInt64: writer.Write((ulong)value); break;
                case Tag.Single: writer.Write((float)value); break;
                case Tag.Guid: writer.Write(((Guid)value).ToByteArray()); break;
                case Tag.TimeSpan: writer.Write(((TimeSpan)value).Ticks); break;
            }
            return true;
        }

        private static object ReadPlain(BinaryReader reader, Tag tag)
        {
            switch (tag)
            {
                case Tag.Null: return null;
                case Tag.String: return reader.ReadString();
                case Tag.Int32: return reader.ReadInt32();
                case Tag.Int64: return reader.ReadInt64();
                case Tag.Double: return reader.ReadDouble();
                case Tag.Boolean: return reader.ReadBoolean();
                case Tag.DateTime: return DateTime.FromBinary(reader.ReadInt64());
                case Tag.Decimal: return reader.ReadDecimal();
                case Tag.Char: return (char)reader.ReadUInt16();
                case Tag.Byte: return reader.ReadByte();
                case Tag.SByte: return reader.ReadSByte();
                case Tag.Int16: return reader.ReadInt16();
                case Tag.UInt16: return reader.ReadUInt16();
                case Tag.UInt32: return reader.ReadUInt32();
                case Tag.UInt64: return reader.ReadUInt64();
                case Tag.Single: return reader.ReadSingle();
                case Tag.Guid: return new Guid(reader.ReadBytes(16));
                case Tag.TimeSpan: return new TimeSpan(reader.ReadInt64());
                default: throw new InvalidDataException($"A checkpoint record has the unknown tag {(byte)tag}.");
            }
        }

        private static bool HasSurrogate(string text)
        {
            foreach (char c in text)
            {
                if (char.IsSurrogate(c)) return true;
            }
            return false;
        }

        private static IList AsList(object value)
        {
            object inner = value is PSObject pso ? pso.BaseObject : value;
            return inner as IList ?? new object[] { value };
        }

        /// <summary>obj => PSObject.<paramref name="name"/>(obj, out _), compiled once; null when the method is not found.</summary>
        private static Func<object, bool> InstanceProbe(string name)
        {
            MethodInfo method = typeof(PSObject).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static);
            ParameterInfo[] parameters = method?.GetParameters();
            if (method == null || method.ReturnType != typeof(bool) || parameters.Length != 2 || parameters[0].ParameterType != typeof(object) || !parameters[1].ParameterType.IsByRef)
            {
                return null;
            }
            ParameterExpression obj = Expression.Parameter(typeof(object), "obj");
            ParameterExpression found = Expression.Variable(parameters[1].ParameterType.GetElementType(), "found");
            return Expression.Lambda<Func<object, bool>>(Expression.Block(new[] { found }, Expression.Call(method, obj, found)), obj).Compile();
        }
    }
}
