/**
 * What the mock model answers, decided on the neutral request alone (request.ts):
 *
 * - tools offered, `tool_choice` not `'none'`, and no tool result since the last user turn:
 *   a call to the chosen tool (the `x-mock-tool` header, else `options.toolName`, else the
 *   request's named `tool_choice`, else the first offered tool), its arguments built from the
 *   tool's schema (schema-arguments.ts) with variant 0;
 * - loop mode, tools offered: always a call, with a variant that counts the server's loop
 *   calls (so the arguments differ per call) unless arguments are repeated (variant 0);
 * - a tool result since the last user turn: text `done: <the result, cut to 80 characters>`;
 * - no tools: text `mock reply: <the last user text, cut to 80 characters>`.
 *
 * A named tool that the request does not offer is a 400 (a bench set up wrong should fail
 * loudly, not call some other tool).
 */
import { argumentsFor } from './schema-arguments.ts';
import { MockRequestError, type ModelRequest } from './request.ts';
import type { MockMode } from './options.ts';

export const SUMMARY_CHARS = 80;

export type Reply =
  { kind: 'toolCall'; name: string; arguments: unknown } | { kind: 'text'; text: string };

export interface ReplySettings {
  mode: MockMode;
  repeatArguments: boolean;
  toolName: string | undefined;
  /** the server's loop counter: called once per loop-mode tool call */
  nextLoopVariant: () => number;
}

export function decideReply(request: ModelRequest, settings: ReplySettings): Reply {
  const { tools, toolChoice } = request;
  const loop = settings.mode === 'loop';
  const wantsTool =
    tools.length > 0 && (loop || (toolChoice !== 'none' && request.toolResult === undefined));
  if (!wantsTool) {
    if (request.toolResult !== undefined) {
      return { kind: 'text', text: `done: ${cut(request.toolResult)}` };
    }
    return { kind: 'text', text: `mock reply: ${cut(request.lastUserText)}` };
  }
  const name =
    settings.toolName ?? (typeof toolChoice === 'object' ? toolChoice.name : tools[0]!.name);
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    throw new MockRequestError(
      `the mock was told to call tool '${name}', which the request does not offer (offered: ${tools.map((t) => t.name).join(', ')})`,
      'tools',
    );
  }
  const variant = loop && !settings.repeatArguments ? settings.nextLoopVariant() : 0;
  return { kind: 'toolCall', name, arguments: argumentsFor(tool.parameters, variant) };
}

function cut(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SUMMARY_CHARS ? `${flat.slice(0, SUMMARY_CHARS)}…` : flat;
}

/** The reply's text as the completion-token estimate sees it. */
export function replyText(reply: Reply): string {
  return reply.kind === 'text' ? reply.text : reply.name + JSON.stringify(reply.arguments);
}
