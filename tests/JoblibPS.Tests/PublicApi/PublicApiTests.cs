using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Xunit;

namespace JoblibPS.Tests.PublicApi
{
    /// <summary>
    /// The public surface of JoblibPS.dll (every public type, and its public and protected members) is listed in
    /// src/JoblibPS/PublicAPI.txt. Adding, removing or changing a public member without changing that file fails
    /// here, so the surface only changes on purpose: the message says what differs, and the actual list is written
    /// to out/PublicAPI.actual.txt to copy over once the change is meant.
    /// </summary>
    public sealed class PublicApiTests
    {
        [Fact]
        public void ThePublicSurfaceIsTheBaseline()
        {
            string root = RepositoryRoot();
            string baselinePath = Path.Combine(root, "src", "JoblibPS", "PublicAPI.txt");
            List<string> actual = Describe(typeof(ParallelBackendBase).Assembly).ToList();
            string outDir = Path.Combine(root, "out");
            Directory.CreateDirectory(outDir);
            File.WriteAllLines(Path.Combine(outDir, "PublicAPI.actual.txt"), actual);
            List<string> baseline = File.Exists(baselinePath)
                ? File.ReadAllLines(baselinePath).Where(l => l.Length > 0 && !l.StartsWith("#", StringComparison.Ordinal)).ToList()
                : new List<string>();
            var added = actual.Except(baseline).ToList();
            var removed = baseline.Except(actual).ToList();
            Assert.True(added.Count == 0 && removed.Count == 0,
                "The public API differs from src/JoblibPS/PublicAPI.txt (the actual list is in out/PublicAPI.actual.txt)." + Environment.NewLine +
                "Added:" + Environment.NewLine + string.Join(Environment.NewLine, added.Select(a => "  + " + a)) + Environment.NewLine +
                "Removed:" + Environment.NewLine + string.Join(Environment.NewLine, removed.Select(r => "  - " + r)));
        }

        /// <summary>
        /// The public surface is the contract a backend author and a user see: the base class and what it hands
        /// around, the built-in backends, the cmdlets and the objects they output. Plumbing stays internal (the
        /// psm1 reaches what it needs by reflection), so the count stays small.
        /// </summary>
        [Fact]
        public void ThePublicSurfaceHasThirtyTypesAtMost()
        {
            Type[] types = typeof(ParallelBackendBase).Assembly.GetExportedTypes();
            Assert.True(types.Length <= 30, $"{types.Length} public types: " + string.Join(", ", types.Select(t => t.FullName).OrderBy(n => n, StringComparer.Ordinal)));
        }

        internal static IEnumerable<string> Describe(Assembly assembly)
        {
            var lines = new List<string>();
            foreach (Type type in assembly.GetExportedTypes())
            {
                lines.Add($"{Kind(type)} {Name(type)}{Bases(type)}");
                const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
                foreach (MemberInfo member in type.GetMembers(flags))
                {
                    string line = Member(type, member);
                    if (line != null) lines.Add(line);
                }
            }
            return lines.Distinct().OrderBy(l => l, StringComparer.Ordinal);
        }

        private static string Kind(Type type)
        {
            if (type.IsEnum) return "enum";
            if (type.IsInterface) return "interface";
            if (type.IsValueType) return "struct";
            if (typeof(Delegate).IsAssignableFrom(type)) return "delegate";
            if (type.IsAbstract && type.IsSealed) return "static class";
            return (type.IsAbstract ? "abstract " : type.IsSealed ? "sealed " : string.Empty) + "class";
        }

        private static string Bases(Type type)
        {
            var bases = new List<string>();
            if (type.BaseType != null && type.BaseType != typeof(object) && type.BaseType != typeof(ValueType) && type.BaseType != typeof(Enum)) bases.Add(Name(type.BaseType));
            // Interfaces of PowerShell and IDisposable say what the type is for; the runtime's own (IComparable on an
            // enum, ISerializable on an exception) differ between .NET versions and say nothing.
            bases.AddRange(type.GetInterfaces()
                .Where(i => i.IsPublic && (i == typeof(IDisposable) || (i.Namespace ?? string.Empty).StartsWith("System.Management.Automation", StringComparison.Ordinal) || (i.Namespace ?? string.Empty).StartsWith("JoblibPS", StringComparison.Ordinal)))
                .Select(Name).OrderBy(n => n, StringComparer.Ordinal));
            return bases.Count == 0 ? string.Empty : " : " + string.Join(", ", bases);
        }

        private static bool Visible(MethodBase method) => method != null && (method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly);

        private static string Member(Type type, MemberInfo member)
        {
            string owner = Name(type);
            switch (member)
            {
                case ConstructorInfo ctor when Visible(ctor):
                    return $"  {owner}({Parameters(ctor)})";
                case MethodInfo method when Visible(method) && !method.IsSpecialName:
                    return $"  {Modifiers(method)}{Name(method.ReturnType)} {owner}.{method.Name}({Parameters(method)})";
                case MethodInfo op when Visible(op) && op.IsSpecialName && op.Name.StartsWith("op_", StringComparison.Ordinal):
                    return $"  static {Name(op.ReturnType)} {owner}.{op.Name}({Parameters(op)})";
                case PropertyInfo property:
                    string get = Visible(property.GetMethod) ? (property.GetMethod.IsFamily ? "protected get; " : "get; ") : string.Empty;
                    string set = Visible(property.SetMethod) ? (property.SetMethod.IsFamily || property.SetMethod.IsFamilyOrAssembly ? "protected set; " : "set; ") : string.Empty;
                    if (get.Length == 0 && set.Length == 0) return null;
                    bool isStatic = (property.GetMethod ?? property.SetMethod).IsStatic;
                    return $"  {(isStatic ? "static " : string.Empty)}{Name(property.PropertyType)} {owner}.{property.Name} {{ {get}{set}}}";
                case FieldInfo field when field.IsPublic || field.IsFamily:
                    if (type.IsEnum) return field.IsSpecialName ? null : $"  {owner}.{field.Name} = {Convert.ToInt64(field.GetRawConstantValue())}";
                    return $"  {(field.IsLiteral ? "const " : field.IsStatic ? "static " : string.Empty)}{(field.IsInitOnly ? "readonly " : string.Empty)}{Name(field.FieldType)} {owner}.{field.Name}";
                case EventInfo evt when Visible(evt.AddMethod):
                    return $"  event {Name(evt.EventHandlerType)} {owner}.{evt.Name}";
                default:
                    return null;
            }
        }

        private static string Modifiers(MethodInfo method)
        {
            string access = method.IsFamily || method.IsFamilyOrAssembly ? "protected " : string.Empty;
            if (method.IsStatic) return access + "static ";
            if (method.IsAbstract) return access + "abstract ";
            if (method.IsVirtual && !method.IsFinal) return access + (method.GetBaseDefinition() != method ? "override " : "virtual ");
            return access;
        }

        private static string Parameters(MethodBase method)
        {
            return string.Join(", ", method.GetParameters().Select(p => Name(p.ParameterType) + " " + p.Name));
        }

        private static string Name(Type type)
        {
            if (type.IsGenericType)
            {
                string name = type.GetGenericTypeDefinition().FullName ?? type.Name;
                name = name.Substring(0, name.IndexOf('`'));
                return name + "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">";
            }
            if (type.IsArray) return Name(type.GetElementType()) + "[]";
            if (type.IsByRef) return Name(type.GetElementType()) + "&";
            return type.FullName ?? type.Name;
        }

        private static string RepositoryRoot()
        {
            string dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "JoblibPS.sln"))) dir = Path.GetDirectoryName(dir);
            return dir ?? throw new InvalidOperationException("The test runs outside a JoblibPS checkout: no JoblibPS.sln above " + AppContext.BaseDirectory);
        }
    }
}
