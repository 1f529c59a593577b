using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Security.Cryptography;
using System.Text;

namespace JoblibPS.Checkpoint
{
    /// <summary>
    /// The identity of an input item in a checkpoint, stable across runs and processes (the rule is documented in
    /// about_JoblibPS_Admin, CHECKPOINTS):
    /// plain values (strings, numbers, booleans, characters, dates, time spans, GUIDs, enums, versions, URIs) by type
    /// and invariant text (so 1 and '1' are two items); files and folders (FileInfo, DirectoryInfo, also deserialized
    /// ones) by full path, since their serialized form changes when they are read (LastAccessTime); any other object
    /// by a SHA-256 of its canonical text (<see cref="CanonicalText"/>: dictionaries with their entries sorted,
    /// lists element by element, PSCustomObjects property by property, other objects by their CliXml at depth 1), so
    /// two objects with the same data are the same item.
    /// </summary>
    internal static class ItemKeys
    {
        /// <summary>How deep <see cref="CanonicalText"/> descends into nested dictionaries, lists and objects before it takes ToString().</summary>
        private const int MaxDepth = 4;

        public static string Of(object item)
        {
            object value = Unwrap(item);
            if (value == null) return "null";
            if (TryPlain(value, out string plain)) return plain;
            if (TryPath(item, out string path)) return path;
            return "Object:" + Hash(CanonicalText(item));
        }

        /// <summary>
        /// A text that is equal for equal data in any process: the basis of other objects' keys and of a call's
        /// identity ($using: values, -ArgumentList). Hashtable order is randomised per process in .NET, so entries
        /// are sorted.
        /// </summary>
        public static string CanonicalText(object item) => Canonical(item, MaxDepth);

        public static string Hash(string text)
        {
            using (SHA256 sha = SHA256.Create())
            {
                byte[] hash = sha.ComputeHash(Encoding.UTF8.GetBytes(text));
                var builder = new StringBuilder(hash.Length * 2);
                foreach (byte b in hash) builder.Append(b.ToString("x2", CultureInfo.InvariantCulture));
                return builder.ToString();
            }
        }

        private static string Canonical(object item, int depth)
        {
            object value = Unwrap(item);
            if (value == null) return "null";
            if (TryPlain(value, out string plain)) return plain;
            if (TryPath(item, out string path)) return path;
            if (depth <= 0) return value.GetType().FullName + "~" + value;
            switch (value)
            {
                case ScriptBlock block:
                    return "ScriptBlock:" + block;
                case IDictionary dictionary:
                    var entries = new List<string>();
                    foreach (DictionaryEntry entry in dictionary) entries.Add(Canonical(entry.Key, depth - 1) + "=" + Canonical(entry.Value, depth - 1));
                    entries.Sort(StringComparer.Ordinal);
                    return "{" + string.Join(";", entries) + "}";
                case IEnumerable list:
                    return "[" + string.Join(",", list.Cast<object>().Select(e => Canonical(e, depth - 1))) + "]";
                case PSCustomObject _ when item is PSObject pso:
                    return "@{" + string.Join(";", pso.Properties.Select(p => p.Name + "=" + Canonical(SafeValue(p), depth - 1))) + "}";
                default:
                    return value.GetType().FullName + "~" + PSSerializer.Serialize(value, 1);
            }
        }

        private static object SafeValue(PSPropertyInfo property)
        {
            try { return property.Value; } catch (Exception ex) when (!(ex is OutOfMemoryException)) { return "<" + ex.GetType().Name + ">"; }
        }

        private static object Unwrap(object item) => item is PSObject pso ? pso.BaseObject : item;

        private static bool TryPlain(object value, out string text)
        {
            switch (value)
            {
                // The commonest first: Int32 is what 1..N gives (the text is the one the primitive rule below gives).
                case int i: text = "Int32:" + i.ToString(CultureInfo.InvariantCulture); return true;
                case string s: text = "String:" + s; return true;
                case char c: text = "Char:" + c; return true;
                case bool b: text = "Boolean:" + (b ? "True" : "False"); return true;
                case DateTime d: text = "DateTime:" + d.ToString("o", CultureInfo.InvariantCulture); return true;
                case DateTimeOffset o: text = "DateTimeOffset:" + o.ToString("o", CultureInfo.InvariantCulture); return true;
                case TimeSpan t: text = "TimeSpan:" + t.ToString("c", CultureInfo.InvariantCulture); return true;
                case Guid g: text = "Guid:" + g.ToString("D"); return true;
                case Enum e: text = e.GetType().FullName + ":" + e; return true;
                case Version v: text = "Version:" + v; return true;
                case Uri u: text = "Uri:" + u.OriginalString; return true;
                case double dbl: text = "Double:" + dbl.ToString("R", CultureInfo.InvariantCulture); return true;
                case float f: text = "Single:" + f.ToString("R", CultureInfo.InvariantCulture); return true;
            }
            Type type = value.GetType();
            if (type.IsPrimitive || value is decimal || type.FullName == "System.Numerics.BigInteger")
            {
                text = type.Name + ":" + Convert.ToString(value, CultureInfo.InvariantCulture);
                return true;
            }
            text = null;
            return false;
        }

        /// <summary>Files and folders by full path: live ones, and ones deserialized from another process (whose type name says what they were).</summary>
        private static bool TryPath(object item, out string text)
        {
            object value = item is PSObject pso ? pso.BaseObject : item;
            switch (value)
            {
                case FileInfo file: text = "File:" + file.FullName; return true;
                case DirectoryInfo folder: text = "Directory:" + folder.FullName; return true;
            }
            if (item is PSObject bag && bag.TypeNames.Count > 0 && bag.Properties["FullName"]?.Value is string fullName)
            {
                if (bag.TypeNames[0] == "Deserialized.System.IO.FileInfo") { text = "File:" + fullName; return true; }
                if (bag.TypeNames[0] == "Deserialized.System.IO.DirectoryInfo") { text = "Directory:" + fullName; return true; }
            }
            text = null;
            return false;
        }
    }
}
