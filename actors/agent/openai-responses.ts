/**
 * OpenAI's Responses API (`client.responses.create`) through the official `openai` SDK,
 * beside the chat-completions provider (openai.ts). The conversation goes as input items:
 *
 * - the leading `system` messages (the instructions) are the request's `instructions`; a
 *   later one (the agent's own note, such as the step cap's last call) stays in place as a
 *   `system` message item;
 * - a `user` message is a user message item; other agents' messages are user messages
 *   already (conversation.ts marks them as data), and stay so;
 * - an assistant message is its text as an assistant message item (none when empty), then
 *   one `function_call` item per tool call (`call_id`, `name`, `arguments`);
 * - a `tool` message is a `function_call_output` item (`call_id`, `output`).
 *
 * Tools are function tools, not strict (an agent's schemas need not meet strict mode's
 * rules). The reply's cap is `max_output_tokens` (every model family takes it here). Nothing
 * is stored on OpenAI's side (`store: false`): each request carries the whole conversation,
 * as the agent keeps it.
 *
 * Replies are streamed: text deltas (and a refusal's) go to the agent's `token` events as
 * they come, a function call's arguments are put together from their deltas (the finished
 * item wins), usage comes with `response.completed` (or `response.incomplete`, when the cap
 * cut the reply). A `response.failed` event is a ModelCallError, retryable when its code is
 * the server's (`server_error`, `rate_limit_exceeded`, `vector_store_timeout`). Other errors
 * are mapped as openai.ts maps them: retryable for connection errors, 408, 409, 429, 5xx
 * and an error with no status; the answer's rate-limit headers go on the reply and on the
 * error (`rateLimitHeaders`). The SDK's own retries are off. The request's signal aborts the
 * call.
 */
import OpenAI from 'openai';
import type { ModelProvider, ModelReply, ModelRequest, ToolSpec } from './model.ts';
import { classify, openAIClient, rateLimitHeadersOf, type OpenAIModelOptions } from './openai.ts';
import { ModelCallError, type ChatMessage, type ToolCallRequest, type Usage } from './types.ts';

export type OpenAIResponsesModelOptions = OpenAIModelOptions;

export type ResponsesInputItem =
  | { readonly role: 'user' | 'assistant' | 'system'; readonly content: string }
  | {
      readonly type: 'function_call';
      readonly call_id: string;
      readonly name: string;
      readonly arguments: string;
    }
  | { readonly type: 'function_call_output'; readonly call_id: string; readonly output: string };

/** The conversation as a Responses request's `instructions` and `input`. */
export function toResponsesInput(messages: readonly ChatMessage[]): {
  readonly instructions?: string;
  readonly input: readonly ResponsesInputItem[];
} {
  let lead = 0;
  while (messages[lead]?.role === 'system') lead++;
  const instructions = messages
    .slice(0, lead)
    .map((m) => m.content)
    .filter((c) => c !== '');
  const input = messages.slice(lead).flatMap((m): ResponsesInputItem[] => {
    switch (m.role) {
      case 'system':
      case 'user':
        return [{ role: m.role, content: m.content }];
      case 'tool':
        return [{ type: 'function_call_output', call_id: m.toolCallId ?? '', output: m.content }];
      case 'assistant':
        return [
          ...(m.content === '' ? [] : [{ role: 'assistant' as const, content: m.content }]),
          ...(m.toolCalls ?? []).map((c): ResponsesInputItem => ({
            type: 'function_call',
            call_id: c.id,
            name: c.name,
            arguments: c.arguments,
          })),
        ];
    }
  });
  return {
    ...(instructions.length === 0 ? {} : { instructions: instructions.join('\n\n') }),
    input,
  };
}

/** The agent's tools as Responses function tools. */
export function toResponsesTools(tools: readonly ToolSpec[]) {
  return tools.map((t) => ({
    type: 'function' as const,
    name: t.name,
    description: t.description,
    parameters: t.parameters as Record<string, unknown>,
    strict: false,
  }));
}

/** `response.failed` codes a retry can mend: the server's own trouble. */
const RETRYABLE_FAILURES = new Set(['server_error', 'rate_limit_exceeded', 'vector_store_timeout']);

/** The reply's text, function calls and usage, read from the stream's events. */
async function readStream(
  stream: AsyncIterable<OpenAI.Responses.ResponseStreamEvent>,
  onToken: ((text: string) => void) | undefined,
): Promise<{ content: string; toolCalls: ToolCallRequest[]; usage: Usage }> {
  let content = '';
  const calls: { id: string; name: string; arguments: string }[] = [];
  let usage: Usage = { inputTokens: 0, outputTokens: 0 };
  const call = (index: number) => (calls[index] ??= { id: '', name: '', arguments: '' });
  for await (const event of stream) {
    switch (event.type) {
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (event.delta !== '') {
          content += event.delta;
          onToken?.(event.delta);
        }
        break;
      case 'response.output_item.added':
      case 'response.output_item.done':
        if (event.item.type === 'function_call') {
          const c = call(event.output_index);
          c.id = event.item.call_id;
          c.name = event.item.name;
          if (event.type === 'response.output_item.done' || event.item.arguments !== '')
            c.arguments = event.item.arguments;
        }
        break;
      case 'response.function_call_arguments.delta':
        call(event.output_index).arguments += event.delta;
        break;
      case 'response.function_call_arguments.done':
        call(event.output_index).arguments = event.arguments;
        break;
      case 'response.completed':
      case 'response.incomplete':
        if (event.response.usage)
          usage = {
            inputTokens: event.response.usage.input_tokens,
            outputTokens: event.response.usage.output_tokens,
          };
        break;
      case 'response.failed': {
        const error = event.response.error;
        const code = error?.code ?? 'unknown';
        throw new ModelCallError(
          `the model failed the response (${code}): ${error?.message ?? 'no message'}`,
          RETRYABLE_FAILURES.has(code),
        );
      }
      default:
        break;
    }
  }
  const toolCalls = calls
    .filter((c) => c !== undefined)
    .map((c, i) => ({
      id: c.id === '' ? `call_${i}` : c.id,
      name: c.name,
      arguments: c.arguments === '' ? '{}' : c.arguments,
    }));
  return { content, toolCalls, usage };
}

/** A model provider for OpenAI's Responses API (name `openai-responses`). */
export function openAIResponsesModel(options: OpenAIResponsesModelOptions = {}): ModelProvider {
  const client = openAIClient(options);
  return {
    name: 'openai-responses',
    async complete(request: ModelRequest): Promise<ModelReply> {
      try {
        const { instructions, input } = toResponsesInput(request.messages);
        const { data: stream, response } = await client.responses
          .create(
            {
              model: request.model,
              ...(instructions === undefined ? {} : { instructions }),
              input: input as OpenAI.Responses.ResponseInput,
              ...(request.tools.length === 0 ? {} : { tools: toResponsesTools(request.tools) }),
              max_output_tokens: request.maxOutputTokens,
              store: false,
              stream: true,
            },
            request.signal === undefined ? {} : { signal: request.signal },
          )
          .withResponse();
        const reply = await readStream(stream, request.onToken);
        // the SDK ends an aborted stream quietly: what was read is not the whole reply
        if (request.signal?.aborted === true)
          throw new ModelCallError('the call was aborted before the reply ended', true);
        const rateLimitHeaders = rateLimitHeadersOf(response.headers);
        return { ...reply, ...(rateLimitHeaders === undefined ? {} : { rateLimitHeaders }) };
      } catch (e) {
        throw classify(e);
      }
    },
  };
}
