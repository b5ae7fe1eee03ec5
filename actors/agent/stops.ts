/**
 * Stop conditions of a task (issue 25): the step cap's last call, and loop detection. A loop
 * is the same tool called with the same arguments `loopRepeats` times in one task (default
 * 3): the reply that would make the Nth such call ends the task (`stopReason: 'loop'`, a
 * `loop.detected` event) or fails the agent (`onLoop: 'fail'`: LoopDetectedError), and that
 * call never runs. The counts are data in the snapshot (`repeats`), kept per task.
 */
import type { ModelReply } from './model.ts';
import type { ChatMessage } from './types.ts';

/** How many times each tool call (tool and arguments) was asked for in this task. */
export type Repeats = Readonly<Record<string, number>>;

const keyOf = (c: { readonly name: string; readonly arguments: string }): string =>
  `${c.name}\u0000${c.arguments}`;

/** The counts with `reply`'s tool calls added. */
export function repeatsAfter(repeats: Repeats | undefined, reply: ModelReply): Repeats {
  const out: Record<string, number> = { ...repeats };
  for (const c of reply.toolCalls) out[keyOf(c)] = (out[keyOf(c)] ?? 0) + 1;
  return out;
}

/** The call of `reply` that reaches `limit` repeats in this task, or null. */
export function loopIn(
  repeats: Repeats | undefined,
  reply: ModelReply,
  limit: number,
): { readonly tool: string; readonly arguments: string; readonly repeats: number } | null {
  const after = repeatsAfter(repeats, reply);
  for (const c of reply.toolCalls) {
    const n = after[keyOf(c)] ?? 0;
    if (n >= limit) return { tool: c.name, arguments: c.arguments, repeats: n };
  }
  return null;
}

/** What the agent tells the model before its last call, at the step cap: answer now. */
export function lastCallMessage(maxSteps: number): ChatMessage {
  return {
    role: 'system',
    content: `You have used all ${maxSteps} steps of this task and have no tools left. Answer now with your best answer from what you have.`,
    source: { kind: 'system' },
  };
}
