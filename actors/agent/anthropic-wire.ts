/**
 * The agent's conversation as Anthropic's Messages API takes it (anthropic.ts sends it):
 *
 * - every `system` message (the instructions, and the agent's own later notes such as the
 *   step cap's last call) goes in the top-level `system` field, in order, joined by a blank
 *   line: the API has no system role among its messages;
 * - a `user` message is a `text` block of a user turn; other agents' messages are user
 *   messages already (conversation.ts marks them as data), and stay so;
 * - an assistant message is its text (if any) then one `tool_use` block per call, its
 *   arguments parsed to the `input` object (arguments that are not a JSON object go as `{}`:
 *   the tool's error result, next, tells the model what was wrong);
 * - a `tool` message is a `tool_result` block in a user turn;
 * - consecutive turns of one role are merged into one message, because the API wants roles
 *   to alternate (a step's several tool results become one user message); in a user turn
 *   the `tool_result` blocks come first, as the API requires after a `tool_use` turn;
 * - empty text is left out (the API refuses empty text blocks), and a turn left with no
 *   block is dropped.
 *
 * Tool call ids are sent with any character outside `[A-Za-z0-9_-]` replaced by `_` (the
 * API's id pattern), the same way in `tool_use` and in `tool_result`, so that a conversation
 * begun with another provider (a fallback route) still pairs its calls and results.
 */
import type { ToolSpec } from './model.ts';
import type { ChatMessage } from './types.ts';

export interface TextBlock {
  readonly type: 'text';
  readonly text: string;
}
export interface ToolUseBlock {
  readonly type: 'tool_use';
  readonly id: string;
  readonly name: string;
  readonly input: Readonly<Record<string, unknown>>;
}
export interface ToolResultBlock {
  readonly type: 'tool_result';
  readonly tool_use_id: string;
  readonly content: string;
}

export type AnthropicMessage =
  | { readonly role: 'user'; readonly content: readonly (TextBlock | ToolResultBlock)[] }
  | { readonly role: 'assistant'; readonly content: readonly (TextBlock | ToolUseBlock)[] };

export interface AnthropicWire {
  /** The system messages, joined; absent when there are none. */
  readonly system?: string;
  readonly messages: readonly AnthropicMessage[];
}

export interface AnthropicTool {
  readonly name: string;
  readonly description: string;
  readonly input_schema: { readonly type: 'object'; readonly [k: string]: unknown };
}

/** A tool call id as the API's pattern allows it. */
export function wireId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The arguments' JSON object, or `{}` when they are not one. */
function inputOf(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

type Turn =
  | { role: 'user'; content: (TextBlock | ToolResultBlock)[] }
  | { role: 'assistant'; content: (TextBlock | ToolUseBlock)[] };

function turnOf(m: ChatMessage): Turn | undefined {
  const text: TextBlock[] = m.content === '' ? [] : [{ type: 'text', text: m.content }];
  switch (m.role) {
    case 'system':
      return undefined;
    case 'user':
      return { role: 'user', content: text };
    case 'tool':
      return {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: wireId(m.toolCallId ?? ''), content: m.content },
        ],
      };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...text,
          ...(m.toolCalls ?? []).map((c): ToolUseBlock => ({
            type: 'tool_use',
            id: wireId(c.id),
            name: c.name,
            input: inputOf(c.arguments),
          })),
        ],
      };
  }
}

/** The conversation as a Messages API request's `system` and `messages`. */
export function toAnthropicWire(messages: readonly ChatMessage[]): AnthropicWire {
  const system = messages
    .filter((m) => m.role === 'system' && m.content !== '')
    .map((m) => m.content);
  const turns: Turn[] = [];
  for (const m of messages) {
    const turn = turnOf(m);
    if (turn === undefined || turn.content.length === 0) continue;
    const last = turns.at(-1);
    if (last?.role === 'user' && turn.role === 'user') last.content.push(...turn.content);
    else if (last?.role === 'assistant' && turn.role === 'assistant')
      last.content.push(...turn.content);
    else turns.push(turn);
  }
  for (const t of turns) {
    if (t.role === 'user')
      t.content.sort((a, b) => Number(a.type !== 'tool_result') - Number(b.type !== 'tool_result'));
  }
  return { ...(system.length === 0 ? {} : { system: system.join('\n\n') }), messages: turns };
}

/** The agent's tools as the API's `tools` (client tools: name, description, input_schema). */
export function toAnthropicTools(tools: readonly ToolSpec[]): AnthropicTool[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: { ...t.parameters, type: 'object' },
  }));
}
