using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Collections.ObjectModel;
using System.Management.Automation.Runspaces;
using System.Reflection;
using JoblibPS.Runspaces;
using JoblibPS.Errors;

namespace JoblibPS.Backends
{
    /// <summary>
    /// Turns what Register-JoblibBackend was given (a Type deriving from ParallelBackendBase, or a script block
    /// returning one, or returning an object with the contract's methods as script methods) into a factory that takes backend arguments. Arguments bind by name, case-insensitively:
    /// to a constructor's parameters for a Type, to the named parameters of a script block. A missing required
    /// argument, or one nothing accepts, is an <see cref="ArgumentException"/> that says which and what is accepted.
    /// </summary>
    internal static class BackendFactory
    {
        /// <summary>Checks <paramref name="type"/> at registration; throws <see cref="ArgumentException"/> when it cannot serve as a backend.</summary>
        public static Func<IDictionary, ParallelBackendBase> FromType(string name, Type type)
        {
            if (!typeof(ParallelBackendBase).IsAssignableFrom(type))
            {
                throw new ArgumentException($"The type '{type.FullName}' does not derive from JoblibPS.ParallelBackendBase, so it cannot be a backend. Derive from [JoblibPS.ParallelBackendBase] and implement EffectiveNJobs.");
            }
            if (type.IsAbstract)
            {
                throw new ArgumentException($"The type '{type.FullName}' is abstract; register a concrete type.");
            }
            if (type.GetConstructors().Length == 0)
            {
                throw new ArgumentException($"The type '{type.FullName}' has no public constructor.");
            }
            return arguments => Construct(name, type, arguments ?? new Hashtable());
        }

        /// <summary>A factory that runs <paramref name="scriptBlock"/> in the runspace that registered it, its parameters bound by name.</summary>
        public static Func<IDictionary, ParallelBackendBase> FromScriptBlock(string name, ScriptBlock scriptBlock, Runspace owner)
        {
            var parameters = ScriptParameters(scriptBlock);
            return arguments =>
            {
                arguments = arguments ?? new Hashtable();
                var accepted = parameters.Select(p => p.Name).ToList();
                var bound = new Hashtable(StringComparer.OrdinalIgnoreCase);
                foreach (DictionaryEntry entry in arguments)
                {
                    string key = entry.Key?.ToString();
                    string match = accepted.FirstOrDefault(a => a.Equals(key, StringComparison.OrdinalIgnoreCase));
                    if (match == null) throw BackendArguments.Unaccepted(name, key, accepted);
                    bound[match] = entry.Value;
                }
                foreach (var parameter in parameters.Where(p => p.Mandatory))
                {
                    if (!bound.ContainsKey(parameter.Name)) throw Missing(name, parameter.Name, accepted);
                }
                FactoryOutput output;
                try
                {
                    output = (FactoryOutput)RunspaceDispatcher.Invoke(owner, () => InvokeFactory(scriptBlock, bound));
                }
                catch (Exception ex) when (!(ex is PipelineStoppedException) && !(ex is TimeoutException)
                                           && ErrorRecords.OwnRecordOf(Errors.Describe.Innermost(ex)) == null)
                {
                    // The factory's own code failed: say whose code it was (as for a constructor that throws).
                    throw ErrorRecords.FactoryFailed(name, Errors.Describe.Innermost(ex));
                }
                return AsBackend(name, output.Values, owner);
            };
        }

        /// <summary>
        /// Runs a script-block factory once at registration when it needs no argument, so that an object lacking a
        /// required script method fails Register-JoblibBackend itself (<see cref="BackendContractException"/>).
        /// Anything else the factory does wrong (throws, returns nothing) is left for its first use to report, with
        /// the arguments and the runspace of that use. Returns the backend it made (Get-JoblibBackend reads its
        /// capabilities), or null when the factory needs arguments or failed; <paramref name="failure"/> is that
        /// failure, whose entries in <c>$Error</c> the caller removes (<see cref="DollarError"/>): it is reported
        /// once, at that use.
        /// </summary>
        public static ParallelBackendBase Probe(ScriptBlock scriptBlock, Func<IDictionary, ParallelBackendBase> factory, out Exception failure)
        {
            failure = null;
            if (ScriptParameters(scriptBlock).Any(p => p.Mandatory)) return null;
            try
            {
                return factory(new Hashtable());
            }
            catch (BackendContractException)
            {
                throw;
            }
            catch (Exception ex)
            {
                // Reported at first use.
                failure = ex;
                return null;
            }
        }

        /// <summary>The names a factory accepts, for messages.</summary>
        public static IReadOnlyList<string> AcceptedArguments(Type type)
        {
            return type.GetConstructors().SelectMany(c => c.GetParameters()).Select(p => p.Name).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        }

        // The PSObjects the factory wrote, kept whole: a script-method backend's members live on its PSObject, and a
        // holder of its own type survives RunspaceDispatcher, which returns the base object of what work returned.
        private sealed class FactoryOutput
        {
            public List<PSObject> Values;
        }

        private static object InvokeFactory(ScriptBlock scriptBlock, Hashtable bound)
        {
            ScriptBlock call = ScriptBlock.Create("param($__JoblibFactory, $__JoblibArguments) & $__JoblibFactory @__JoblibArguments");
            Collection<PSObject> output = call.Invoke(scriptBlock, bound);
            return new FactoryOutput { Values = output.Where(o => o != null).ToList() };
        }

        private static ParallelBackendBase AsBackend(string name, List<PSObject> values, Runspace owner)
        {
            if (values.Count == 1)
            {
                if (values[0].BaseObject is ParallelBackendBase backend) return backend;
                if (ScriptMethodBackend.IsCandidate(values[0])) return ScriptMethodBackend.Wrap(name, values[0], owner);
            }
            string got = values.Count == 0 ? "nothing" : values.Count > 1 ? $"{values.Count} objects" : $"a {values[0].BaseObject.GetType().FullName}";
            throw new InvalidOperationException($"The factory of backend '{name}' returned {got}; it must return exactly one backend: an object deriving from JoblibPS.ParallelBackendBase, or an object with the backend's methods as script methods (at least EffectiveNJobs and Submit; see Get-Help about_JoblibPS_Backends).");
        }

        private static ParallelBackendBase Construct(string name, Type type, IDictionary arguments)
        {
            var given = arguments.Keys.Cast<object>().Select(k => k?.ToString()).ToList();
            var accepted = AcceptedArguments(type);
            foreach (string key in given)
            {
                if (!accepted.Contains(key, StringComparer.OrdinalIgnoreCase)) throw BackendArguments.Unaccepted(name, key, accepted);
            }
            ConstructorInfo best = null;
            string missing = null;
            foreach (ConstructorInfo ctor in type.GetConstructors().OrderByDescending(c => c.GetParameters().Length))
            {
                ParameterInfo[] ps = ctor.GetParameters();
                bool coversGiven = given.All(g => ps.Any(p => p.Name.Equals(g, StringComparison.OrdinalIgnoreCase)));
                ParameterInfo absent = ps.FirstOrDefault(p => !p.IsOptional && !given.Contains(p.Name, StringComparer.OrdinalIgnoreCase));
                if (coversGiven && absent == null)
                {
                    best = ctor;
                    break;
                }
                if (coversGiven && absent != null && missing == null) missing = absent.Name;
            }
            if (best == null)
            {
                throw Missing(name, missing ?? given.FirstOrDefault() ?? "?", accepted);
            }
            object[] values = best.GetParameters().Select(p =>
            {
                object key = arguments.Keys.Cast<object>().FirstOrDefault(k => p.Name.Equals(k?.ToString(), StringComparison.OrdinalIgnoreCase));
                if (key == null) return p.DefaultValue is DBNull ? null : p.DefaultValue;
                try
                {
                    return LanguagePrimitives.ConvertTo(arguments[key], p.ParameterType);
                }
                catch (PSInvalidCastException ex)
                {
                    throw new ArgumentException($"The backend argument '{p.Name}' of backend '{name}' must be a {p.ParameterType.Name}: {ex.Message}");
                }
            }).ToArray();
            try
            {
                return (ParallelBackendBase)best.Invoke(values);
            }
            catch (TargetInvocationException ex) when (ex.InnerException != null)
            {
                throw new InvalidOperationException($"The constructor of backend '{name}' ({type.FullName}) threw: {ex.InnerException.Message}", ex.InnerException);
            }
        }

        private static List<(string Name, bool Mandatory)> ScriptParameters(ScriptBlock scriptBlock)
        {
            var ast = (ScriptBlockAst)scriptBlock.Ast;
            var result = new List<(string, bool)>();
            if (ast.ParamBlock == null) return result;
            foreach (ParameterAst parameter in ast.ParamBlock.Parameters)
            {
                bool mandatory = parameter.Attributes.OfType<AttributeAst>()
                    .Where(a => a.TypeName.GetReflectionType() == typeof(ParameterAttribute))
                    .SelectMany(a => a.NamedArguments)
                    .Any(n => n.ArgumentName.Equals("Mandatory", StringComparison.OrdinalIgnoreCase)
                              && (n.ExpressionOmitted || (n.Argument is VariableExpressionAst v && v.VariablePath.UserPath.Equals("true", StringComparison.OrdinalIgnoreCase))));
                result.Add((parameter.Name.VariablePath.UserPath, mandatory));
            }
            return result;
        }

        private static ArgumentException Missing(string name, string parameter, IReadOnlyCollection<string> accepted)
        {
            return new ArgumentException($"The backend '{name}' needs the backend argument '{parameter}'. Give it with -BackendArgument @{{ {parameter} = ... }} (accepted: {string.Join(", ", accepted)}).");
        }
    }
}
