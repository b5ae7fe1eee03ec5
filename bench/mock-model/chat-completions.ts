/**
 * `POST /v1/chat/completions`, OpenAI's chat completions. Read: `messages` (required, a
 * non-empty array of objects with a string `role`), `tools` (`{ type: 'function', function:
 * { name, parameters } }`), `tool_choice`, `stream`, `stream_options.include_usage`. A tool
 * result is a message of role `tool` (or the legacy `function`); a user turn, role `user`.
 *
 * Streamed: a first chunk with the role, deltas of text or of the tool call's arguments, a
 * chunk with `finish_reason`, then (with include_usage) a chunk with `usage` and empty
 * `choices` (earlier chunks carry `usage: null`), then `data: [DONE]`.
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
    if (message.role === 'user') events.push({ kind: 'user', text: textOf(message.content) });
    if (message.role === 'tool' || message.role === 'function') {
      events.push({ kind: 'toolResult', text: textOf(message.content) });
    }
  });
  const tools = readTools(body, (tool, i) => {
    if (!isRecord(tool) || !isRecord(tool.function)) {
      throw new MockRequestError(`tools[${i}].function must be an object`, `tools[${i}].function`);
    }
    return toolSpec(tool.function.name, tool.function.parameters, `tools[${i}].function`);
  });
  const options = body.stream_options;
  return {
    model: optionalString(body, 'model', 'mock-model'),
    tools,
    toolChoice: choice(body.tool_choice),
    ...summarise(events),
    stream: body.stream === true,
    includeUsage: isRecord(options) && options.include_usage === true,
    promptText: JSON.stringify([messages, body.tools ?? null]),
  };
}

function choice(value: unknown): ToolChoice {
  if (value === 'none') return 'none';
  if (isRecord(value) && isRecord(value.function) && typeof value.function.name === 'string') {
    return { name: value.function.name };
  }
  return 'auto';
}

function toolCall(reply: Extract<Reply, { kind: 'toolCall' }>, seq: number) {
  return {
    id: `call_${seq}`,
    type: 'function',
    function: { name: reply.name, arguments: JSON.stringify(reply.arguments) },
  };
}

function usage(ctx: ReplyContext) {
  const { promptTokens, completionTokens } = ctx.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

function whole(reply: Reply, ctx: ReplyContext) {
  const message =
    reply.kind === 'text'
      ? { role: 'assistant', content: reply.text, refusal: null }
      : { role: 'assistant', content: null, refusal: null, tool_calls: [toolCall(reply, ctx.seq)] };
  return {
    id: `chatcmpl-${ctx.seq}`,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.request.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: reply.kind === 'text' ? 'stop' : 'tool_calls',
      },
    ],
    usage: usage(ctx),
  };
}

function stream(reply: Reply, ctx: ReplyContext, sse: SseWriter): void {
  const base = {
    id: `chatcmpl-${ctx.seq}`,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.request.model,
    ...(ctx.request.includeUsage ? { usage: null } : {}),
  };
  const chunk = (delta: unknown, finish: string | null = null) =>
    sse.send({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  if (reply.kind === 'text') {
    chunk({ role: 'assistant', content: '', refusal: null });
    for (const piece of pieces(reply.text)) chunk({ content: piece });
    chunk({}, 'stop');
  } else {
    const call = toolCall(reply, ctx.seq);
    chunk({
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          index: 0,
          id: call.id,
          type: 'function',
          function: { name: call.function.name, arguments: '' },
        },
      ],
    });
    for (const piece of pieces(call.function.arguments)) {
      chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] });
    }
    chunk({}, 'tool_calls');
  }
  if (ctx.request.includeUsage) sse.send({ ...base, choices: [], usage: usage(ctx) });
  sse.send('[DONE]');
  sse.end();
}

export const chatCompletions: ModelEndpoint = { dialect: 'openai', read, whole, stream };
