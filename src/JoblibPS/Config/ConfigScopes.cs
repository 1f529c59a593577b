using System.Collections.Generic;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;

namespace JoblibPS.Config
{
    /// <summary>
    /// The stack of config frames of each runspace. The config belongs to the runspace: two runspaces running at
    /// once never see each other's frames. A runspace's frames are pushed and popped by the thread running its
    /// pipeline, so one runspace's stack is never touched by two threads at once.
    /// </summary>
    internal static class ConfigScopes
    {
        private static readonly ConditionalWeakTable<Runspace, List<ConfigFrame>> Stacks = new ConditionalWeakTable<Runspace, List<ConfigFrame>>();

        /// <summary>The frames of <paramref name="runspace"/>, outermost first (empty when none; a new list, safe to keep).</summary>
        public static IReadOnlyList<ConfigFrame> Of(Runspace runspace)
        {
            if (runspace == null || !Stacks.TryGetValue(runspace, out List<ConfigFrame> stack))
            {
                return new ConfigFrame[0];
            }
            lock (stack)
            {
                return stack.ToArray();
            }
        }

        /// <summary>Pushes a frame; returns the depth to give back to <see cref="Pop"/>.</summary>
        public static int Push(Runspace runspace, ConfigFrame frame)
        {
            List<ConfigFrame> stack = Stacks.GetValue(runspace, _ => new List<ConfigFrame>());
            lock (stack)
            {
                stack.Add(frame);
                return stack.Count - 1;
            }
        }

        /// <summary>Removes the frame pushed at <paramref name="depth"/> and every frame above it (left by a stopped scope).</summary>
        public static void Pop(Runspace runspace, int depth)
        {
            if (runspace == null || !Stacks.TryGetValue(runspace, out List<ConfigFrame> stack)) return;
            lock (stack)
            {
                if (depth >= 0 && depth < stack.Count)
                {
                    stack.RemoveRange(depth, stack.Count - depth);
                }
            }
        }
    }
}
