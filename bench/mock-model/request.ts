/**
 * The neutral form every dialect's request is read into (chat completions, responses,
 * messages), and the error a malformed request raises. The reply is decided on this form
 * alone (reply.ts), so the four wire formats stay translations.
 */

export type JsonSchema = Record<string, unknown>;

export interface ToolSpec {
  name: string;
  parameters: JsonSchema;
}

/** `'auto'`: as the mode says; `'none'`: text; `{ name }`: that tool. */
export type ToolChoice = 'auto' | 'none' | { name: string };

/** One step of the conversation that matters to the reply, oldest first. */
export type ConversationEvent =
  { kind: 'user'; text: string } | { kind: 'toolResult'; text: string };

export interface ModelRequest {
  model: string;
  tools: ToolSpec[];
  toolChoice: ToolChoice;
  /** the text of the last user turn ('' when there is none) */
  lastUserText: string;
  /** the last tool result after the last user turn, if any */
  toolResult: string | undefined;
  stream: boolean;
  /** chat completions' `stream_options.include_usage`: a last chunk with the usage */
  includeUsage: boolean;
  /** the serialised prompt (system, messages, tools) the token estimate is taken of */
  promptText: string;
}

/** A request the mock refuses with a 400: the body names `param`. */
export class MockRequestError extends Error {
  readonly code = 'ERR_MOCK_BAD_REQUEST';
  readonly param: string | null;
  readonly status: number;
  constructor(message: string, param: string | null, status = 400) {
    super(message);
    this.param = param;
    this.status = status;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body as an object, or a MockRequestError. */
export function requireObject(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new MockRequestError('the request body must be a JSON object', null);
  return body;
}

export function optionalString(body: Record<string, unknown>, key: string, fallback: string) {
  const value = body[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw new MockRequestError(`${key} must be a string`, key);
  return value;
}

/** The last user text, and the last tool result after it. */
export function summarise(events: readonly ConversationEvent[]): {
  lastUserText: string;
  toolResult: string | undefined;
} {
  let lastUserText = '';
  let toolResult: string | undefined;
  for (const event of events) {
    if (event.kind === 'user') {
      lastUserText = event.text;
      toolResult = undefined;
    } else {
      toolResult = event.text;
    }
  }
  return { lastUserText, toolResult };
}

/** Text of a content field: a string, or parts with `text` (other parts are skipped). */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
      .filter((text) => text !== '')
      .join('\n');
  }
  if (content === undefined || content === null) return '';
  return JSON.stringify(content);
}

/** The tools array of a request, each entry read by `read` (which names the bad index). */
export function readTools(
  body: Record<string, unknown>,
  read: (tool: unknown, index: number) => ToolSpec | undefined,
): ToolSpec[] {
  const tools = body.tools;
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw new MockRequestError('tools must be an array', 'tools');
  const out: ToolSpec[] = [];
  tools.forEach((tool, index) => {
    const spec = read(tool, index);
    if (spec) out.push(spec);
  });
  return out;
}

export function toolSpec(name: unknown, parameters: unknown, param: string): ToolSpec {
  if (typeof name !== 'string' || name === '') {
    throw new MockRequestError(`${param}.name must be a non-empty string`, `${param}.name`);
  }
  return { name, parameters: isRecord(parameters) ? parameters : {} };
}
