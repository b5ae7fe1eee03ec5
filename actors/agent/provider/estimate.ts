/**
 * What a request is charged against a tokens-per-minute limit before it is sent: its
 * characters / 4 — the messages (their text, tool calls' names and arguments), the tool
 * schemas (name, description, JSON Schema) — plus `maxOutputTokens`, the most the reply may
 * take. The shared client reconciles it with the reply's usage afterwards.
 */
import type { CallRequest } from './call.ts';

export const CHARS_PER_TOKEN = 4;

export function estimateRequestTokens(request: CallRequest): number {
  let chars = 0;
  for (const m of request.messages) {
    chars += m.role.length + m.content.length;
    for (const c of m.toolCalls ?? []) chars += c.id.length + c.name.length + c.arguments.length;
    if (m.toolCallId !== undefined) chars += m.toolCallId.length;
  }
  for (const t of request.tools)
    chars += t.name.length + t.description.length + JSON.stringify(t.parameters).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + request.maxOutputTokens;
}
