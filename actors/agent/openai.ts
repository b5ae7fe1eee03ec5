/**
 * An OpenAI-compatible model through the official `openai` SDK: OpenAI itself, or any server
 * that speaks chat completions (vLLM, Ollama, llama.cpp, LM Studio…) by its `baseURL`.
 * Replies are streamed: text goes to the agent's `token` events as it comes, tool calls are
 * put together from their deltas, usage comes with the last chunk. The SDK's own retries are
 * off: the agent retries (with backoff, within its budget) what is retryable here: connection
 * errors, 408, 409, 429 and 5xx.
 *
 * The answer's rate-limit headers (`x-ratelimit-*`, `retry-after`, `retry-after-ms`) are
 * copied onto the reply and onto the ModelCallError of a failed call (`rateLimitHeaders`),
 * for a shared client (actors/agent/provider/) to pause on and learn its limits from. The
 * reply's token cap goes in the field the model's family takes (`tokenLimitField`).
 */
import OpenAI from 'openai';
import type { ModelProvider, ModelReply, ModelRequest } from './model.ts';
import { pickRateLimitHeaders } from './provider/rate-limit-headers.ts';
import { ModelCallError, type ChatMessage, type ToolCallRequest } from './types.ts';

export interface OpenAIModelOptions {
  readonly apiKey?: string;
  /** e.g. http://127.0.0.1:11434/v1 for Ollama. Default: OpenAI's. */
  readonly baseURL?: string;
  /** Per request (ms). */
  readonly timeoutMs?: number;
  /** The fetch the SDK sends with (a proxy's, a recording one in tests). Default: the global. */
  readonly fetch?: typeof fetch;
}

/**
 * O-series reasoning models (o1, o3, o3-mini, o4-mini…) and GPT-5 models (gpt-5, gpt-5-mini,
 * gpt-5.1…) refuse `max_tokens`: they take `max_completion_tokens`. Every other model (and
 * every other chat-completions server: vLLM, Ollama, llama.cpp) takes `max_tokens`. A
 * provider prefix (`openai/o3-mini`, as routers write it) is looked through.
 */
const COMPLETION_TOKENS_MODELS = /^(?:o\d+|gpt-5)(?:$|[-.:])/i;

/** The request field that caps the reply's tokens for `model`. */
export function tokenLimitField(model: string): 'max_completion_tokens' | 'max_tokens' {
  const id = model.slice(model.lastIndexOf('/') + 1);
  return COMPLETION_TOKENS_MODELS.test(id) ? 'max_completion_tokens' : 'max_tokens';
}

/** The rate-limit headers of a Headers object (the SDK's), if any. */
/** A response's rate-limit headers, for the shared client (also the Responses provider's). */
export function rateLimitHeadersOf(headers: Headers | undefined) {
  return headers === undefined ? undefined : pickRateLimitHeaders((name) => headers.get(name));
}

type WireMessage =
  | { role: 'system' | 'user'; content: string }
  | {
      role: 'assistant';
      content: string | null;
      tool_calls?: {
        id: string;
        type: 'function';
        function: { name: string; arguments: string };
      }[];
    }
  | { role: 'tool'; tool_call_id: string; content: string };

/** The conversation as chat completions messages; other agents' words stay user data. */
export function toWire(messages: readonly ChatMessage[]): WireMessage[] {
  return messages.map((m): WireMessage => {
    switch (m.role) {
      case 'system':
        return { role: 'system', content: m.content };
      case 'user':
        return { role: 'user', content: m.content };
      case 'tool':
        return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
      case 'assistant':
        return m.toolCalls !== undefined && m.toolCalls.length > 0
          ? {
              role: 'assistant',
              content: m.content === '' ? null : m.content,
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : { role: 'assistant', content: m.content };
    }
  });
}

/** An error of the `openai` SDK as a ModelCallError (also the Responses provider's). */
export function classify(e: unknown): ModelCallError {
  if (e instanceof ModelCallError) return e;
  if (e instanceof OpenAI.APIConnectionError)
    return new ModelCallError(`the model server could not be reached: ${e.message}`, true);
  if (e instanceof OpenAI.APIError) {
    const status = typeof e.status === 'number' ? e.status : undefined;
    const retryable =
      status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    const rateLimitHeaders = rateLimitHeadersOf(e.headers as Headers | undefined);
    return new ModelCallError(
      `the model server answered ${status ?? '?'}: ${e.message}`,
      retryable,
      status,
      rateLimitHeaders === undefined ? undefined : { rateLimitHeaders },
    );
  }
  return new ModelCallError(e instanceof Error ? e.message : String(e), true);
}

/** The SDK's client for `options`, its own retries off (also the Responses provider's). */
export function openAIClient(options: OpenAIModelOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? process.env.OPENAI_API_KEY ?? 'none',
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    maxRetries: 0,
    timeout: options.timeoutMs ?? 120_000,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
}

export function openAIModel(options: OpenAIModelOptions = {}): ModelProvider {
  const client = openAIClient(options);
  return {
    name: 'openai',
    async complete(request: ModelRequest): Promise<ModelReply> {
      try {
        const { data: stream, response } = await client.chat.completions
          .create(
            {
              model: request.model,
              messages: toWire(request.messages) as never,
              ...(request.tools.length === 0
                ? {}
                : {
                    tools: request.tools.map((t) => ({
                      type: 'function' as const,
                      function: {
                        name: t.name,
                        description: t.description,
                        parameters: t.parameters as Record<string, unknown>,
                      },
                    })),
                  }),
              [tokenLimitField(request.model)]: request.maxOutputTokens,
              stream: true,
              stream_options: { include_usage: true },
            },
            request.signal === undefined ? {} : { signal: request.signal },
          )
          .withResponse();
        let content = '';
        const calls: { id: string; name: string; arguments: string }[] = [];
        let usage = { inputTokens: 0, outputTokens: 0 };
        for await (const chunk of stream) {
          if (chunk.usage)
            usage = {
              inputTokens: chunk.usage.prompt_tokens ?? 0,
              outputTokens: chunk.usage.completion_tokens ?? 0,
            };
          const delta = chunk.choices[0]?.delta;
          if (delta === undefined) continue;
          if (typeof delta.content === 'string' && delta.content !== '') {
            content += delta.content;
            request.onToken?.(delta.content);
          }
          for (const tc of delta.tool_calls ?? []) {
            // a delta without an index is the first call's; a name repeated in each chunk is set, not appended
            const c = (calls[typeof tc.index === 'number' ? tc.index : 0] ??= {
              id: '',
              name: '',
              arguments: '',
            });
            if (tc.id) c.id = tc.id;
            if (tc.function?.name) c.name = tc.function.name;
            if (tc.function?.arguments) c.arguments += tc.function.arguments;
          }
        }
        const toolCalls: ToolCallRequest[] = calls
          .filter((c) => c !== undefined)
          .map((c, i) => ({
            id: c.id === '' ? `call_${i}` : c.id,
            name: c.name,
            arguments: c.arguments === '' ? '{}' : c.arguments,
          }));
        const rateLimitHeaders = rateLimitHeadersOf(response.headers);
        return {
          content,
          toolCalls,
          usage,
          ...(rateLimitHeaders === undefined ? {} : { rateLimitHeaders }),
        };
      } catch (e) {
        throw classify(e);
      }
    },
  };
}
