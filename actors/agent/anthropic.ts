/**
 * Anthropic's Messages API through the official `@anthropic-ai/sdk`. The conversation goes
 * as anthropic-wire.ts writes it (system prompt in `system`, tool calls as `tool_use`
 * blocks, a step's tool results merged into one user message); `max_tokens` is the agent's
 * `maxOutputTokens`. Replies are streamed: text deltas go to the agent's `token` events as
 * they come, each `tool_use` block's input is put together from its JSON deltas, and usage
 * comes from `message_start` (input, cache writes and reads included) and `message_delta`
 * (output). The request's signal aborts the call.
 *
 * The SDK's own retries are off: the agent (and a shared client) retries what is retryable
 * here: connection errors, 408, 409, 429, 5xx and 529 (overloaded), and an error event in
 * the stream unless its type says the request itself is wrong. Every other error is not
 * retryable, and ends the agent's task (`stopReason: 'error'`). The answer's rate-limit
 * headers go on the reply and on a failed call's ModelCallError (`rateLimitHeaders`), mapped
 * onto OpenAI's names (anthropic-headers.ts) for a shared client to learn from.
 *
 * Credentials: `apiKey`, else what the SDK finds (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`,
 * a profile); none at all is a non-retryable ModelCallError at the first call.
 */
import Anthropic from '@anthropic-ai/sdk';
import { systemClock, type Clock } from '../../runtime/core/clock.ts';
import { anthropicRateLimitHeaders } from './anthropic-headers.ts';
import { toAnthropicTools, toAnthropicWire } from './anthropic-wire.ts';
import type { ModelProvider, ModelReply, ModelRequest } from './model.ts';
import type { RateLimitHeaders } from './provider/rate-limit-headers.ts';
import { ModelCallError, type ToolCallRequest, type Usage } from './types.ts';

export interface AnthropicModelOptions {
  /** Default: what the SDK finds (`ANTHROPIC_API_KEY`…). */
  readonly apiKey?: string;
  /** Without `/v1` (the SDK adds it). Default: the SDK's (`ANTHROPIC_BASE_URL`, else Anthropic's). */
  readonly baseURL?: string;
  /** Per request (ms). Default 120,000. */
  readonly timeoutMs?: number;
  /** The fetch the SDK sends with (a proxy's, a recording one in tests). Default: the global. */
  readonly fetch?: typeof fetch;
  /**
   * What a rate-limit reset (a time of day in Anthropic's headers) is measured from, to the
   * duration a shared client reads. Default: the system clock.
   */
  readonly clock?: Clock;
}

/** Error types of a stream's error event that no retry mends (the request itself is wrong). */
const REQUEST_ERROR_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'billing_error',
]);

function headersOf(headers: Headers | undefined, clock: Clock): RateLimitHeaders | undefined {
  return headers === undefined
    ? undefined
    : anthropicRateLimitHeaders((name) => headers.get(name), clock.now());
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function classify(e: unknown, clock: Clock): ModelCallError {
  if (e instanceof ModelCallError) return e;
  if (e instanceof Anthropic.APIConnectionError)
    return new ModelCallError(`the model server could not be reached: ${e.message}`, true);
  if (e instanceof Anthropic.APIError) {
    const status = typeof e.status === 'number' ? e.status : undefined;
    const retryable =
      status === undefined ? !REQUEST_ERROR_TYPES.has(e.type ?? '') : retryableStatus(status);
    const rateLimitHeaders = headersOf(e.headers, clock);
    return new ModelCallError(
      `the model server answered ${status ?? (e.type ? `an error event (${e.type})` : '?')}: ${e.message}`,
      retryable,
      status,
      rateLimitHeaders === undefined ? undefined : { rateLimitHeaders },
    );
  }
  if (e instanceof Anthropic.CredentialsError)
    return new ModelCallError(
      `no Anthropic credentials: pass anthropicModel({ apiKey }) or set ANTHROPIC_API_KEY (${e.message})`,
      false,
    );
  return new ModelCallError(e instanceof Error ? e.message : String(e), true);
}

/** A content block of the reply, as its deltas put it together. */
interface Block {
  readonly kind: 'text' | 'tool_use' | 'other';
  id: string;
  name: string;
  /** tool_use: the input's JSON text, from the deltas (or the start's input when none came) */
  json: string;
  start: unknown;
}

/** The reply's text, tool calls and usage, read from the stream's events. */
async function readStream(
  stream: AsyncIterable<Anthropic.RawMessageStreamEvent>,
  onToken: ((text: string) => void) | undefined,
): Promise<{ content: string; toolCalls: ToolCallRequest[]; usage: Usage }> {
  let content = '';
  const blocks: Block[] = [];
  let inputTokens = 0;
  let outputTokens = 0;
  for await (const event of stream) {
    switch (event.type) {
      case 'message_start': {
        const u = event.message.usage;
        inputTokens =
          (u.input_tokens ?? 0) +
          (u.cache_creation_input_tokens ?? 0) +
          (u.cache_read_input_tokens ?? 0);
        outputTokens = u.output_tokens ?? 0;
        break;
      }
      case 'content_block_start': {
        const b = event.content_block;
        blocks[event.index] =
          b.type === 'tool_use'
            ? { kind: 'tool_use', id: b.id, name: b.name, json: '', start: b.input }
            : { kind: b.type === 'text' ? 'text' : 'other', id: '', name: '', json: '', start: b };
        if (b.type === 'text' && b.text !== '') {
          content += b.text;
          onToken?.(b.text);
        }
        break;
      }
      case 'content_block_delta': {
        const d = event.delta;
        if (d.type === 'text_delta' && d.text !== '') {
          content += d.text;
          onToken?.(d.text);
        } else if (d.type === 'input_json_delta') {
          const b = blocks[event.index];
          if (b !== undefined) b.json += d.partial_json;
        }
        break;
      }
      case 'message_delta': {
        // cumulative counts; input_tokens is there when the server revises it
        const u = event.usage;
        if (typeof u.output_tokens === 'number') outputTokens = u.output_tokens;
        if (typeof u.input_tokens === 'number')
          inputTokens =
            u.input_tokens +
            (u.cache_creation_input_tokens ?? 0) +
            (u.cache_read_input_tokens ?? 0);
        break;
      }
      default:
        break;
    }
  }
  const toolCalls = blocks
    .filter((b) => b !== undefined && b.kind === 'tool_use')
    .map((b, i) => ({
      id: b.id === '' ? `toolu_${i}` : b.id,
      name: b.name,
      arguments: b.json !== '' ? b.json : startInput(b.start),
    }));
  return { content, toolCalls, usage: { inputTokens, outputTokens } };
}

/** The input a tool_use block started with, when no delta came (`{}` when it had none). */
function startInput(start: unknown): string {
  return typeof start === 'object' && start !== null && Object.keys(start).length > 0
    ? JSON.stringify(start)
    : '{}';
}

/** A model provider for Anthropic's Messages API (name `anthropic`). */
export function anthropicModel(options: AnthropicModelOptions = {}): ModelProvider {
  const clock = options.clock ?? systemClock;
  const client = new Anthropic({
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    maxRetries: 0,
    timeout: options.timeoutMs ?? 120_000,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  return {
    name: 'anthropic',
    async complete(request: ModelRequest): Promise<ModelReply> {
      try {
        const wire = toAnthropicWire(request.messages);
        const { data: stream, response } = await client.messages
          .create(
            {
              model: request.model,
              max_tokens: request.maxOutputTokens,
              ...(wire.system === undefined ? {} : { system: wire.system }),
              messages: wire.messages as Anthropic.MessageParam[],
              ...(request.tools.length === 0
                ? {}
                : { tools: toAnthropicTools(request.tools) as Anthropic.Tool[] }),
              stream: true,
            },
            request.signal === undefined ? {} : { signal: request.signal },
          )
          .withResponse();
        const reply = await readStream(stream, request.onToken);
        // the SDK ends an aborted stream quietly: what was read is not the whole reply
        if (request.signal?.aborted === true)
          throw new ModelCallError('the call was aborted before the reply ended', true);
        const rateLimitHeaders = headersOf(response.headers, clock);
        return { ...reply, ...(rateLimitHeaders === undefined ? {} : { rateLimitHeaders }) };
      } catch (e) {
        throw classify(e, clock);
      }
    },
  };
}
