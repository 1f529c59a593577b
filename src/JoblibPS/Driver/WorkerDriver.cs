using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using JoblibPS.Backends;

using JoblibPS.Runspaces;

namespace JoblibPS.Driver
{
    /// <summary>
    /// The PowerShell script that runs one batch in a worker runspace, wherever that runspace lives.
    /// </summary>
    /// <remarks>
    /// Output protocol: all streams of the user's block are merged into the output (<c>*&gt;&amp;1</c>), so one
    /// ordered list comes back, and the marker string precedes each item's records. An item's records are
    /// those between its marker and the next one. A terminating error ends the invocation with an exception;
    /// the number of markers seen says which item failed. A last marker (the marker followed by <c>|end</c>)
    /// says the batch ran to its end: without it, an item called <c>exit</c>, which ends the whole script. In a
    /// runspace of this process the driver gets an <see cref="ItemLog"/> (<c>$__JoblibLog</c>) instead, and calls it
    /// where it would write the markers: the output then holds only the block's own records. The <c>$using:</c> values are bound through
    /// PowerShell's own protocol (the <c>--%</c> parameter), which the engine finds by walking up from the
    /// user's block to the driver's scope; this works in-process, out-of-process and over remoting alike.
    /// The driver's own frames run inside the function <c>__JoblibRun</c>, which marks where the user's part of a
    /// script stack trace ends.
    /// Out-of-process and remote runspaces (<c>$__JoblibCollect</c>): PSRP sends every output object as its own
    /// message, so the driver gathers the merged records into chunks, each one array whose first element is the
    /// marker followed by <see cref="ChunkSuffix"/> and whose last is the marker followed by <see cref="ChunkEndSuffix"/>:
    /// with an item timeout one per item (sent when the next item starts, so its marker still shows progress);
    /// without one, a chunk as an item starts once 50 ms passed since the last, and the rest at the batch's end. A
    /// worker that dies mid-batch so loses at most its last 50 ms of output, not the batch's (see
    /// WorkerCrash.Result), at a cost under 1% (a chunk per item would double the cost of tiny items). The worker's serializer cuts an array short at an element it cannot serialize: a
    /// chunk without its last element lost output. <see cref="BatchResult.FromDriverOutput"/>
    /// unrolls them. <c>$__JoblibNested</c> (backend name, NJobs, nesting level) puts the nested backend in force
    /// in a runspace that <see cref="Runspaces.WorkerContext"/> cannot reach, when JoblibPS is loaded there; in a process
    /// worker the driver also counts started items where the caller can read them if the worker dies.
    /// </remarks>
    internal static class WorkerDriver
    {
        public static readonly string[] PreferenceNames =
        {
            "ErrorActionPreference", "WarningPreference", "VerbosePreference", "DebugPreference", "InformationPreference", "WhatIfPreference", "ConfirmPreference", "ProgressPreference",
        };

        /// <summary>The name of the driver's function: stack frames from here down belong to the driver, not the user.</summary>
        public const string RunFunctionName = "__JoblibRun";

        /// <summary>
        /// The name under which runspaces the module owns (its warm cache, process workers, SSH runspaces it opened)
        /// hold <see cref="Text"/> as a function, so a batch costs no parsing or compiling of the driver (see
        /// <see cref="MarkHolder"/>).
        /// </summary>
        public const string FunctionName = "__JoblibDriver";

        /// <summary>The driver script (WorkerDriver.ps1, compiled in as a resource).</summary>
        public static readonly string Text = LoadText();
        /// <summary>Runspaces known to hold <see cref="Text"/> as the global function <see cref="FunctionName"/>.</summary>
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Runspace, object> Holders =
            new System.Runtime.CompilerServices.ConditionalWeakTable<Runspace, object>();

        /// <summary>A statement that defines the driver as the global function <see cref="FunctionName"/>.</summary>
        public static string FunctionDefinition => "function global:" + FunctionName + " {\n" + Text + "\n}";

        /// <summary>
        /// Records that <paramref name="runspace"/> holds the driver as a function (it was defined at open): batches
        /// there call it instead of sending, parsing and compiling the script each time (2 to 5 ms a batch). Only for
        /// runspaces the module owns, whose global functions nothing else manages.
        /// </summary>
        public static void MarkHolder(Runspace runspace)
        {
            Holders.GetValue(runspace, _ => FunctionName);
        }

        /// <summary>The driver as a script block, one per runspace of this process that does not hold the function.</summary>
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Runspace, ScriptBlock> Blocks =
            new System.Runtime.CompilerServices.ConditionalWeakTable<Runspace, ScriptBlock>();

        /// <summary>
        /// What a batch runs in a runspace of this process that does not hold the driver function (the caller's own,
        /// for the sequential backend): a two-line script that calls the driver's script block, parsed once per
        /// runspace, with the driver's parameters splatted. The <c>$using:</c> map stays on this script (as
        /// <c>--%</c>): PowerShell finds it by walking up the scopes from the user's block.
        /// </summary>
        private const string BlockCallText = "param($__JoblibDriverBlock, $__JoblibDriverParameters)\n& $__JoblibDriverBlock @__JoblibDriverParameters";

        /// <summary>True when batches in <paramref name="runspace"/> may call the driver function.</summary>
        public static bool HoldsDriver(Runspace runspace)
        {
            return runspace != null && Holders.TryGetValue(runspace, out _);
        }

        /// <summary>What follows the marker in the first element of a chunk of records gathered in an out-of-process worker.</summary>
        public static readonly string ChunkSuffix = Sentinel("ChunkStart");

        /// <summary>What follows the marker in the last element of a chunk that arrived whole.</summary>
        public static readonly string ChunkEndSuffix = Sentinel("ChunkEnd");

        /// <summary>What follows the marker in the last element of the chunk that ends a batch that ran to its end.</summary>
        public static readonly string BatchEndSuffix = Sentinel("BatchEnd");

        /// <summary>What follows the marker in the record that says every item of the batch ran (its items did not call exit).</summary>
        public static readonly string ItemsEndSuffix = Sentinel("ItemsEnd");

        private static string LoadText()
        {
            using (System.IO.Stream stream = typeof(WorkerDriver).Assembly.GetManifestResourceStream("JoblibPS.WorkerDriver.ps1"))
            using (var reader = new System.IO.StreamReader(stream ?? throw new InvalidOperationException("JoblibPS.dll lacks its resource JoblibPS.WorkerDriver.ps1.")))
            {
                return reader.ReadToEnd();
            }
        }

        /// <summary>A sentinel as the driver spells it (<c>$__Joblib&lt;name&gt; = '...'</c>), so it is defined in the driver only.</summary>
        private static string Sentinel(string name)
        {
            var match = System.Text.RegularExpressions.Regex.Match(Text, @"(?m)^\$__Joblib" + name + @" = '([^']*)'\r?$");
            if (!match.Success) throw new InvalidOperationException($"WorkerDriver.ps1 does not define the sentinel $__Joblib{name}.");
            return match.Groups[1].Value;
        }

        /// <summary>True when <paramref name="output"/> holds the chunk that ends a batch run to its end.</summary>
        public static bool HasLastChunk(IEnumerable<PSObject> output, string marker)
        {
            string done = marker + BatchEndSuffix;
            foreach (PSObject record in output)
            {
                if (!IsChunk(record, marker, out IList chunk)) continue;
                object last = chunk[chunk.Count - 1] is PSObject pso ? pso.BaseObject : chunk[chunk.Count - 1];
                if (last is string text && text == done) return true;
            }
            return false;
        }

        /// <summary>
        /// How long fetching a batch's pending records may take: a round trip to a worker process costs 5 to 8 ms.
        /// After an invocation that failed in the transport (a value that cannot be serialized), the worker's
        /// runspace sometimes does not answer the next invocation for about 60 s (seen 2 times in 38 runs of a call
        /// whose $using: value was nested too deep; stacks showed the wait in this fetch): the fetch gives up (see
        /// <see cref="BoundedInvoke"/>), and the pool's probe then finds the worker busy and replaces it.
        /// </summary>
        private static readonly TimeSpan FetchWait = TimeSpan.FromSeconds(2);

        /// <summary>
        /// After a batch in another process ended early (a terminating error, exit, a stop), fetches the records
        /// it gathered but could not send (one round trip, <see cref="FetchWait"/> at most; nothing when the runspace
        /// is not open) into <paramref name="output"/>.
        /// </summary>
        public static void FetchPending(Runspace runspace, string marker, PSDataCollection<PSObject> output)
        {
            if (runspace == null || runspace.RunspaceStateInfo.State != RunspaceState.Opened) return;
            try
            {
                PowerShell ps = PowerShell.Create();
                ps.Runspace = runspace;
                ps.AddScript("param($end) $chunk = $global:__JoblibPendingChunk; Remove-Variable -Name __JoblibPendingChunk -Scope Global -ErrorAction Ignore; if ($null -ne $chunk) { $chunk.Add($end); , $chunk.ToArray() }")
                    .AddArgument(marker + ChunkEndSuffix);
                PSDataCollection<PSObject> fetched = BoundedInvoke.Run(ps, FetchWait);
                if (fetched == null) return;
                foreach (PSObject record in fetched)
                {
                    if (IsChunk(record, marker, out IList _)) output.Add(record);
                }
            }
            catch (Exception)
            {
                // The worker is gone or broken: its records went with it.
            }
        }

        /// <summary>True when <paramref name="record"/> is a chunk of records of the batch with <paramref name="marker"/>.</summary>
        public static bool IsChunk(PSObject record, string marker, out IList chunk)
        {
            chunk = record?.BaseObject as IList;
            if (chunk == null || chunk.Count == 0) return false;
            object first = chunk[0] is PSObject pso ? pso.BaseObject : chunk[0];
            return first is string text && text.Length == marker.Length + ChunkSuffix.Length
                && text.StartsWith(marker, StringComparison.Ordinal) && text.EndsWith(ChunkSuffix, StringComparison.Ordinal);
        }

        /// <summary>True when <paramref name="record"/> is the marker of the batch, or a chunk that ends with it: an item started.</summary>
        public static bool StartsItem(PSObject record, string marker)
        {
            if (record?.BaseObject is string text) return text == marker;
            if (!IsChunk(record, marker, out IList chunk) || chunk.Count < 3) return false;
            object last = chunk[chunk.Count - 2] is PSObject pso ? pso.BaseObject : chunk[chunk.Count - 2];
            return last is string lastText && lastText == marker;
        }

        /// <summary>A marker no user output is expected to equal.</summary>
        public static string NewMarker()
        {
            return "\u0001JoblibPS.Item:" + Guid.NewGuid().ToString("N");
        }

        public static IDictionary Parameters(BatchTask task)
        {
            var items = new object[task.Items.Count];
            string pathKinds = null;
            for (int i = 0; i < items.Length; i++)
            {
                items[i] = task.Items[i];
                if (task.SendsFilesByPath && ByPath(items[i], out string path, out char kind))
                {
                    // A file or folder of this machine travels as its full path, and the driver makes it a live
                    // FileInfo or DirectoryInfo again: half the transfer of its serialized properties, and a better object.
                    pathKinds = pathKinds ?? new string('-', items.Length);
                    pathKinds = pathKinds.Substring(0, i) + kind + pathKinds.Substring(i + 1);
                    items[i] = path;
                }
            }
            return new Hashtable(StringComparer.OrdinalIgnoreCase)
            {
                ["__JoblibScript"] = task.Script.Text,
                ["__JoblibPlace"] = task.Script.Place,
                ["__JoblibItems"] = items,
                ["__JoblibPathKinds"] = pathKinds,
                ["__JoblibArguments"] = task.ArgumentList,
                ["__JoblibMarker"] = task.Marker,
                ["__JoblibLocation"] = task.WorkingDirectory,
                ["__JoblibPreferences"] = task.PreferenceValues,
                ["__JoblibPerItem"] = task.Script.PerItemCall,
                ["__JoblibCollect"] = 0,
                ["__JoblibNested"] = NestedFrame(task),
                ["__JoblibInitState"] = task.InitState,
                ["--%"] = task.UsingValues,
            };
        }

        /// <summary>
        /// Adds the driver for <paramref name="task"/> to run in <paramref name="runspace"/>. In a runspace of this
        /// process <see cref="Runspaces.WorkerContext"/> puts the nested backend in force and <paramref name="log"/> takes the
        /// place of the markers; a runspace in another process gets the nested backend through <c>$__JoblibNested</c>,
        /// and its output comes back in chunks. A runspace that holds the driver as the function
        /// <see cref="FunctionName"/> calls it; another runspace of this process runs it as a script block parsed once
        /// for that runspace, so a batch parses two lines instead of the whole driver; any other gets the text.
        /// </summary>
        public static void AddTo(PowerShell ps, BatchTask task, Runspace runspace, bool outOfProcess, ItemLog log = null)
        {
            bool asFunction = HoldsDriver(runspace);
            if (!asFunction && !outOfProcess && runspace != null)
            {
                var parameters = new Hashtable(StringComparer.OrdinalIgnoreCase);
                AddParameters(task, outOfProcess, log, (name, value) => parameters[name] = value, usings: false);
                AddBlockCache(task, runspace, (name, value) => parameters[name] = value);
                ps.AddScript(BlockCallText, useLocalScope: true)
                    .AddParameter("__JoblibDriverBlock", Blocks.GetValue(runspace, _ => ScriptBlock.Create(Text)))
                    .AddParameter("__JoblibDriverParameters", parameters);
                if (task.UsingValues.Count > 0) ps.AddParameter("--%", task.UsingValues);
                return;
            }
            // A scope of its own: in the caller's runspace (sequential) or a nested call, the driver's variables,
            // function and preferences must not land in, or be shadowed by, the scope that is current.
            if (asFunction) ps.AddCommand(FunctionName, useLocalScope: true);
            else ps.AddScript(Text, useLocalScope: true);
            AddParameters(task, outOfProcess, log, (name, value) => ps.AddParameter(name, value), usings: true);
            if (!outOfProcess) AddBlockCache(task, runspace, (name, value) => ps.AddParameter(name, value));
            // A worker process or SSH runspace the module opened keeps it in a global; a session of the user's, nothing.
            else if (asFunction && task.Script.Place != null) ps.AddParameter("__JoblibBlockCache", "global");
        }

        /// <summary>
        /// Per runspace of this process, where the driver keeps the user's block it parsed at its place
        /// (<see cref="Caller.WorkerScript.Place"/>): parsing there costs about 2 ms a batch, where <c>[scriptblock]::Create</c>
        /// hits PowerShell's cache. The block is made and used in that runspace only. A runspace in another process
        /// that the module opened keeps it in a global variable instead (<c>$__JoblibBlockCache = 'global'</c>); one
        /// the user opened (a PSSession given to the remote backend) keeps nothing of JoblibPS's, so there the block
        /// is parsed for each batch.
        /// </summary>
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Runspace, Hashtable> BlockCaches =
            new System.Runtime.CompilerServices.ConditionalWeakTable<Runspace, Hashtable>();

        private static void AddBlockCache(BatchTask task, Runspace runspace, Action<string, object> add)
        {
            if (task.Script.Place == null || runspace == null) return;
            add("__JoblibBlockCache", BlockCaches.GetValue(runspace, _ => new Hashtable()));
        }

        private static void AddParameters(BatchTask task, bool outOfProcess, ItemLog log, Action<string, object> add, bool usings)
        {
            if (log != null) add("__JoblibLog", log);
            foreach (DictionaryEntry entry in Parameters(task))
            {
                string name = (string)entry.Key;
                object value = entry.Value;
                if (name == "--%" && (!usings || ((Hashtable)value).Count == 0)) continue;
                if (name == "__JoblibNested" && (!outOfProcess || value == null)) continue;
                if (name == "__JoblibInitState" && value == null) continue;
                if (name == "__JoblibPathKinds" && value == null) continue;
                if (name == "__JoblibPlace" && value == null) continue;
                if (name == "__JoblibCollect")
                {
                    if (!outOfProcess) continue;
                    value = task.ItemTimeout.HasValue ? 2 : 1;
                }
                add(name, value);
            }
        }

        /// <summary>True for a FileInfo or DirectoryInfo (bare or in a PSObject): its full path, and F or D.</summary>
        private static bool ByPath(object item, out string path, out char kind)
        {
            object value = item is PSObject pso ? pso.BaseObject : item;
            switch (value)
            {
                case System.IO.FileInfo file:
                    path = file.FullName;
                    kind = 'F';
                    return true;
                case System.IO.DirectoryInfo folder:
                    path = folder.FullName;
                    kind = 'D';
                    return true;
                default:
                    path = null;
                    kind = '-';
                    return false;
            }
        }

        /// <summary>What a worker in another process needs to put the task's nested backend in force: its registered name, NJobs and nesting level.</summary>
        private static Hashtable NestedFrame(BatchTask task)
        {
            string name = BackendRegistry.NameOf(task.NestedBackend);
            if (task.NestedBackend == null || name == null) return null;
            return new Hashtable(StringComparer.OrdinalIgnoreCase)
            {
                ["Backend"] = name,
                ["NJobs"] = task.NestedNJobs,
                ["Level"] = task.NestedBackend.NestingLevel,
            };
        }
    }
}
