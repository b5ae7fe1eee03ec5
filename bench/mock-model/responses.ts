/**
 * `POST /v1/responses`, OpenAI's Responses API. Read: `input` (required: a string, or an
 * array of items: `{ role: 'user', content }` is a user turn, `{ type:
 * 'function_call_output', output }` a tool result), `instructions`, `tools` (`{ type:
 * 'function', name, parameters }`; other tool types are ignored), `tool_choice`, `stream`.
 *
 * The reply is one output item: `function_call` (`call_id`, `name`, `arguments`) or
 * `message` (one `output_text` part). Streamed as the API does, each event named by its
 * `type` with a `sequence_number`: response.created, response.in_progress,
 * response.output_item.added, then for text response.content_part.added,
 * response.output_text.delta…, response.output_text.done, response.content_part.done, or for
 * a call response.function_call_arguments.delta…, response.function_call_arguments.done;
 * then response.output_item.done and response.completed (with usage). No `[DONE]`.
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
  const input = body.input;
  const events: ConversationEvent[] = [];
  if (typeof input === 'string') events.push({ kind: 'user', text: input });
  else if (Array.isArray(input) && input.length > 0) {
    input.forEach((item, i) => {
      if (!isRecord(item))
        throw new MockRequestError(`input[${i}] must be an object`, `input[${i}]`);
      if (item.type === 'function_call_output') {
        events.push({ kind: 'toolResult', text: textOf(item.output) });
      } else if (item.role === 'user') {
        events.push({ kind: 'user', text: textOf(item.content) });
      }
    });
  } else {
    throw new MockRequestError('input must be a string or a non-empty array of items', 'input');
  }
  const tools = readTools(body, (tool, i) => {
    if (!isRecord(tool)) throw new MockRequestError(`tools[${i}] must be an object`, `tools[${i}]`);
    if (tool.type !== 'function') return undefined;
    return toolSpec(tool.name, tool.parameters, `tools[${i}]`);
  });
  return {
    model: optionalString(body, 'model', 'mock-model'),
    tools,
    toolChoice: choice(body.tool_choice),
    ...summarise(events),
    stream: body.stream === true,
    includeUsage: false,
    promptText: JSON.stringify([body.instructions ?? null, input, body.tools ?? null]),
  };
}

function choice(value: unknown): ToolChoice {
  if (value === 'none') return 'none';
  if (isRecord(value) && value.type === 'function' && typeof value.name === 'string') {
    return { name: value.name };
  }
  return 'auto';
}

function item(reply: Reply, seq: number, done: boolean) {
  const status = done ? 'completed' : 'in_progress';
  if (reply.kind === 'toolCall') {
    const args = done ? JSON.stringify(reply.arguments) : '';
    return {
      type: 'function_call',
      id: `fc_${seq}`,
      call_id: `call_${seq}`,
      name: reply.name,
      arguments: args,
      status,
    };
  }
  const content = done ? [outputText(reply.text)] : [];
  return { type: 'message', id: `msg_${seq}`, status, role: 'assistant', content };
}

function outputText(text: string) {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

function response(reply: Reply, ctx: ReplyContext, done: boolean) {
  const { promptTokens, completionTokens } = ctx.usage;
  return {
    id: `resp_${ctx.seq}`,
    object: 'response',
    created_at: ctx.created,
    status: done ? 'completed' : 'in_progress',
    error: null,
    incomplete_details: null,
    instructions: null,
    model: ctx.request.model,
    output: done ? [item(reply, ctx.seq, true)] : [],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    text: { format: { type: 'text' } },
    usage: done
      ? {
          input_tokens: promptTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: completionTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: promptTokens + completionTokens,
        }
      : null,
  };
}

function whole(reply: Reply, ctx: ReplyContext) {
  return response(reply, ctx, true);
}

function stream(reply: Reply, ctx: ReplyContext, sse: SseWriter): void {
  let sequence = 0;
  const send = (type: string, data: Record<string, unknown>) =>
    sse.send({ type, sequence_number: sequence++, ...data }, type);
  const itemId = reply.kind === 'toolCall' ? `fc_${ctx.seq}` : `msg_${ctx.seq}`;
  const at = { item_id: itemId, output_index: 0 };
  send('response.created', { response: response(reply, ctx, false) });
  send('response.in_progress', { response: response(reply, ctx, false) });
  send('response.output_item.added', { output_index: 0, item: item(reply, ctx.seq, false) });
  if (reply.kind === 'text') {
    const part = { ...at, content_index: 0 };
    send('response.content_part.added', { ...part, part: outputText('') });
    for (const delta of pieces(reply.text)) {
      send('response.output_text.delta', { ...part, delta, logprobs: [] });
    }
    send('response.output_text.done', { ...part, text: reply.text, logprobs: [] });
    send('response.content_part.done', { ...part, part: outputText(reply.text) });
  } else {
    const args = JSON.stringify(reply.arguments);
    for (const delta of pieces(args))
      send('response.function_call_arguments.delta', { ...at, delta });
    send('response.function_call_arguments.done', { ...at, name: reply.name, arguments: args });
  }
  send('response.output_item.done', { output_index: 0, item: item(reply, ctx.seq, true) });
  send('response.completed', { response: response(reply, ctx, true) });
  sse.end();
}

export const responses: ModelEndpoint = { dialect: 'openai', read, whole, stream };
