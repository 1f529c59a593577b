using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using JoblibPS.Engine;

namespace JoblibPS.Checkpoint
{
    /// <summary>
    /// What makes two runs "the same call" for a checkpoint: the script block's text, the <c>$using:</c> values,
    /// -ArgumentList, what is shipped to workers (functions the block calls or -ImportFunction names, -ImportModule,
    /// -ImportVariable values, -InitializationScript) and the -CheckpointKey block. Values count by
    /// <see cref="ItemKeys.CanonicalText"/> (equal data, equal identity, in any process). The backend, -NJobs,
    /// batching, -OnError and the like are not part of it: a run may be resumed on another backend.
    /// </summary>
    internal static class CallIdentity
    {
        public static CheckpointHeader Of(RunRequest request, ScriptBlock keyBlock)
        {
            var parts = new List<KeyValuePair<string, string>>
            {
                Part("the script block", request.Script.Text),
                Part("the $using: values", ItemKeys.CanonicalText(request.UsingValues)),
                Part("-ArgumentList", ItemKeys.CanonicalText(request.ArgumentList)),
                Part("the functions, modules, variables or initialization script shipped to workers", request.Setup?.IdentityText() ?? string.Empty),
                Part("-CheckpointKey", keyBlock?.ToString() ?? string.Empty),
            };
            string identity = ItemKeys.Hash(string.Join("\n", parts.Select(p => p.Key + "=" + p.Value)));
            return new CheckpointHeader(identity, parts, Describe(request.Script.Text), DateTime.UtcNow);
        }

        /// <summary>The parts of <paramref name="now"/> whose hash differs from <paramref name="recorded"/>'s, by name.</summary>
        public static IReadOnlyList<string> Changed(CheckpointHeader recorded, CheckpointHeader now)
        {
            var before = recorded.Parts.ToDictionary(p => p.Key, p => p.Value);
            return now.Parts.Where(p => !before.TryGetValue(p.Key, out string hash) || hash != p.Value).Select(p => p.Key).ToList();
        }

        private static KeyValuePair<string, string> Part(string name, string text) => new KeyValuePair<string, string>(name, ItemKeys.Hash(text));

        /// <summary>The block's text on one line, cut to 80 characters: what Get-JoblibCheckpoint shows as the command.</summary>
        private static string Describe(string text)
        {
            string line = string.Join(" ", (text ?? string.Empty).Split(new[] { '\r', '\n', '\t', ' ' }, StringSplitOptions.RemoveEmptyEntries));
            return line.Length <= 80 ? line : line.Substring(0, 77) + "...";
        }
    }
}
