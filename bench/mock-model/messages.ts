/**
 * `POST /v1/messages`, Anthropic's Messages API. Read: `messages` (required, non-empty; a
 * user message's `text` blocks or string content is a user turn, its `tool_result` blocks
 * tool results, in block order), `system`, `tools` (`{ name, input_schema }`),
 * `tool_choice` (`{ type: 'tool', name }`, `{ type: 'none' }`), `stream`. `max_tokens` is
 * not required (the mock is lenient where the API is not).
 *
 * The reply is one content block, `tool_use` (`id`, `name`, `input`) with `stop_reason:
 * 'tool_use'`, or `text` with `'end_turn'`; `usage` has `input_tokens` and `output_tokens`.
 * Streamed as the API does, each event named by its `type`: message_start,
 * content_block_start, content_block_delta… (`text_delta` or `input_json_delta`),
 * content_block_stop, message_delta (stop_reason, output usage), message_stop.
 */
import { pieces, type ModelEndpoint, type ReplyContext } from './endpoint.ts';
import type { Reply } from './reply.ts';
import {
  MockRequestError,
  isRecord,
  optionalString,
  readTools,
  requireObject,
  summarise,
  textOf,
  toolSpec,
  type ConversationEvent,
  type ModelRequest,
  type ToolChoice,
} from './request.ts';
import type { SseWriter } from './sse.ts';

function read(raw: unknown): ModelRequest {
  const body = requireObject(raw);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new MockRequestError('messages must be a non-empty array', 'messages');
  }
  const events: ConversationEvent[] = [];
  messages.forEach((message, i) => {
    if (!isRecord(message) || typeof message.role !== 'string') {
      throw new MockRequestError(
        `messages[${i}] must be an object with a string role`,
        `messages[${i}].role`,
      );
    }
    if (message.role !== 'user') return;
    if (!Array.isArray(message.content)) {
      events.push({ kind: 'user', text: textOf(message.content) });
      return;
    }
    for (const block of message.content) {
      if (!isRecord(block)) continue;
      if (block.type === 'tool_result')
        events.push({ kind: 'toolResult', text: textOf(block.content) });
      else if (block.type === 'text') events.push({ kind: 'user', text: textOf(block.text) });
    }
  });
  const tools = readTools(body, (tool, i) => {
    if (!isRecord(tool)) throw new MockRequestError(`tools[${i}] must be an object`, `tools[${i}]`);
    // server tools (web_search, …) have a type and no input_schema
    if (tool.input_schema === undefined && typeof tool.type === 'string') return undefined;
    return toolSpec(tool.name, tool.input_schema, `tools[${i}]`);
  });
  return {
    model: optionalString(body, 'model', 'mock-model'),
    tools,
    toolChoice: choice(body.tool_choice),
    ...summarise(events),
    stream: body.stream === true,
    includeUsage: false,
    promptText: JSON.stringify([body.system ?? null, messages, body.tools ?? null]),
  };
}

function choice(value: unknown): ToolChoice {
  if (!isRecord(value)) return 'auto';
  if (value.type === 'none') return 'none';
  if (value.type === 'tool' && typeof value.name === 'string') return { name: value.name };
  return 'auto';
}

function block(reply: Reply, seq: number) {
  return reply.kind === 'toolCall'
    ? { type: 'tool_use', id: `toolu_${seq}`, name: reply.name, input: reply.arguments }
    : { type: 'text', text: reply.text };
}

const stopReason = (reply: Reply) => (reply.kind === 'toolCall' ? 'tool_use' : 'end_turn');

function whole(reply: Reply, ctx: ReplyContext) {
  return {
    id: `msg_${ctx.seq}`,
    type: 'message',
    role: 'assistant',
    model: ctx.request.model,
    content: [block(reply, ctx.seq)],
    stop_reason: stopReason(reply),
    stop_sequence: null,
    usage: { input_tokens: ctx.usage.promptTokens, output_tokens: ctx.usage.completionTokens },
  };
}

function stream(reply: Reply, ctx: ReplyContext, sse: SseWriter): void {
  const send = (type: string, data: Record<string, unknown>) => sse.send({ type, ...data }, type);
  const message = whole(reply, ctx);
  send('message_start', {
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { input_tokens: ctx.usage.promptTokens, output_tokens: 0 },
    },
  });
  if (reply.kind === 'text') {
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    for (const text of pieces(reply.text)) {
      send('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
    }
  } else {
    const start = { ...block(reply, ctx.seq), input: {} };
    send('content_block_start', { index: 0, content_block: start });
    for (const partial_json of pieces(JSON.stringify(reply.arguments))) {
      send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json } });
    }
  }
  send('content_block_stop', { index: 0 });
  send('message_delta', {
    delta: { stop_reason: stopReason(reply), stop_sequence: null },
    usage: { output_tokens: ctx.usage.completionTokens },
  });
  send('message_stop', {});
  sse.end();
}

export const messages: ModelEndpoint = { dialect: 'anthropic', read, whole, stream };
