using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using JoblibPS.Errors;

namespace JoblibPS.Workers
{
    /// <summary>
    /// Names the value when a batch could not travel to or from a worker process. Serialization rarely fails
    /// (an unknown object becomes a property bag), but it does when enumerating a value throws: an item,
    /// -ArgumentList or <c>$using:</c> value whose GetEnumerator throws fails the invocation in the caller; such an
    /// output object corrupts the message back ("Root element is missing"). Either way no item's records
    /// arrive. The happy path pays nothing: values are test-serialized one by one only after such a failure.
    /// </summary>
    internal static class TransportFailure
    {
        /// <summary>
        /// Returns <paramref name="result"/>, or when it is a failure of the transport rather than of the user's
        /// script (nothing arrived, and the error is not the worker's), a result with a
        /// <see cref="ErrorIds.ValueCannotTravel"/> error that names the value.
        /// </summary>
        public static BatchResult Diagnose(string backendName, BatchTask task, BatchResult result)
        {
            if (result.StartedItems > 0 || task.Count == 0) return result;
            if (result.Outcome != BatchOutcome.Failed && result.Outcome != BatchOutcome.Exited) return result;
            if (result.Error?.Exception is RemoteException || ErrorRecords.IsInitializationFailure(result.Error)) return result;

            string reason = result.Error?.Exception?.Message?.TrimEnd('.', ' ');
            for (int i = 0; i < task.Count; i++)
            {
                string error = SerializationError(task.Items[i]);
                if (error != null)
                {
                    return Failure(task, i, $"The item {task.FirstItemIndex + i + 1} of the call ({Describe.ItemAndType(task.Items[i])}) cannot be sent to a worker process of backend '{backendName}': serializing it failed ({error}).");
                }
            }
            for (int i = 0; i < task.ArgumentList.Length; i++)
            {
                string error = SerializationError(task.ArgumentList[i]);
                if (error != null)
                {
                    return Failure(task, 0, $"The -ArgumentList value {i + 1} ({Describe.ItemAndType(task.ArgumentList[i])}) cannot be sent to a worker process of backend '{backendName}' with item {task.FirstItemIndex + 1}: serializing it failed ({error}).");
                }
            }
            foreach (DictionaryEntry entry in task.UsingValues)
            {
                string error = SerializationError(entry.Value);
                if (error != null)
                {
                    return Failure(task, 0, $"A $using: value ({Describe.ItemAndType(entry.Value)}) cannot be sent to a worker process of backend '{backendName}' with item {task.FirstItemIndex + 1}: serializing it failed ({error}).");
                }
            }
            string items = task.Count == 1 ? $"item {task.FirstItemIndex + 1}" : $"items {task.FirstItemIndex + 1} to {task.FirstItemIndex + task.Count}";
            if (WorkerCouldNotRead(result.Error?.Exception))
            {
                // The values serialized, but the worker could not read the message: name the most deeply nested one.
                var sent = new List<(string Name, object Value, int ItemIndex)>();
                for (int i = 0; i < task.Count; i++) sent.Add(($"the item {task.FirstItemIndex + i + 1}", task.Items[i], i));
                for (int i = 0; i < task.ArgumentList.Length; i++) sent.Add(($"the -ArgumentList value {i + 1}", task.ArgumentList[i], 0));
                foreach (DictionaryEntry entry in task.UsingValues) sent.Add(("a $using: value", entry.Value, 0));
                var (what, value, index) = sent.OrderByDescending(one => ObjectNesting(one.Value)).First();
                int deepest = ObjectNesting(value);
                return Failure(task, index,
                    $"The input of {items} of the call could not be read by a worker process of backend '{backendName}': {reason}. The most deeply nested value sent was {what} ({Describe.ItemAndType(value)}), " +
                    $"{deepest} objects deep. PowerShell's remoting refuses a message nested 50 objects deep, counting the message's own levels, so values nested more than about 40 deep cannot travel: " +
                    "flatten the value, or send it as text (ConvertTo-Json -Depth 100) and rebuild it in the block.");
            }
            return Failure(task, 0, $"The output of {items} of the call ({Describe.ItemAndType(task.Items[0])}{(task.Count > 1 ? ", ..." : string.Empty)}) could not be sent back from a worker process of backend '{backendName}': {reason ?? "nothing arrived"}. An output object that throws when it is enumerated or read cannot be serialized.");
        }

        private static BatchResult Failure(BatchTask task, int index, string message)
        {
            message += " Process backends copy items, -ArgumentList and $using: values to the workers and results back (as Start-Job does): pass and return plain data, or use the threading backend to share live objects.";
            var record = new ErrorRecord(new InvalidOperationException(message), ErrorIds.ValueCannotTravel, ErrorCategory.InvalidData, task.Items[index]);
            return BatchResult.ForWorkerCrash(task, index, record, TimeSpan.Zero);
        }

        /// <summary>
        /// PSRemotingErrorId.IPCServerProcessReportedError (internal to PowerShell): the worker process itself reported
        /// that a message it received failed, which is how an input it cannot deserialize (nested too deeply) shows.
        /// A message back that the caller cannot read fails in the caller instead (an XmlException).
        /// </summary>
        private const int WorkerReportedError = 2100;

        private static bool WorkerCouldNotRead(Exception exception)
        {
            for (; exception != null; exception = exception.InnerException)
            {
                if (exception is System.Management.Automation.Remoting.PSRemotingTransportException transport && transport.ErrorCode == WorkerReportedError) return true;
            }
            return false;
        }

        /// <summary>How many objects deep <paramref name="value"/> is nested once serialized (0 for a primitive value).</summary>
        private static int ObjectNesting(object value)
        {
            string xml;
            try { xml = PSSerializer.Serialize(value, 1); }
            catch (Exception) { return 0; }
            int depth = 0, deepest = 0;
            using (var reader = System.Xml.XmlReader.Create(new System.IO.StringReader(xml), new System.Xml.XmlReaderSettings { DtdProcessing = System.Xml.DtdProcessing.Prohibit }))
            {
                while (reader.Read())
                {
                    if (reader.LocalName != "Obj") continue;
                    if (reader.NodeType == System.Xml.XmlNodeType.Element && !reader.IsEmptyElement) deepest = Math.Max(deepest, ++depth);
                    else if (reader.NodeType == System.Xml.XmlNodeType.EndElement) depth--;
                }
            }
            return deepest;
        }

        private static string SerializationError(object value)
        {
            try
            {
                PSSerializer.Serialize(value, 1);
                return null;
            }
            catch (Exception ex)
            {
                while (ex.InnerException != null && (ex is System.Reflection.TargetInvocationException || ex is ExtendedTypeSystemException || ex is GetValueInvocationException)) ex = ex.InnerException;
                return ex.GetType().Name + ": " + ex.Message;
            }
        }
    }
}
