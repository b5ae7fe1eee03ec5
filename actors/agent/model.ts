/**
 * Model providers: one interface for every model an agent can call. `openAIModel`
 * (actors/agent/openai.ts) reaches any OpenAI-compatible chat completions server through the
 * official SDK; `scriptedModel` answers from a script, for tests and for running offline.
 */
import type { ChatMessage, ToolCallRequest, Usage } from './types.ts';
import { ModelCallError } from './types.ts';
import type { RateLimitHeaders } from './provider/rate-limit-headers.ts';

/** A tool as the model is told about it. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of its arguments. */
  readonly parameters: Readonly<Record<string, unknown>>;
}

export interface ModelRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens: number;
  /** Streamed text, as it comes (providers that stream call it). */
  readonly onToken?: (text: string) => void;
  readonly signal?: AbortSignal;
}

export interface ModelReply {
  readonly content: string;
  readonly toolCalls: readonly ToolCallRequest[];
  readonly usage: Usage;
  /**
   * The answer's rate-limit headers (`x-ratelimit-*`, `retry-after`; lower-case names), when
   * the provider reports them: a shared client (actors/agent/provider/) learns its limits
   * from them.
   */
  readonly rateLimitHeaders?: RateLimitHeaders;
}

export interface ModelProvider {
  /** A name for logs and snapshots (`openai`, `scripted`…). */
  readonly name: string;
  complete(request: ModelRequest): Promise<ModelReply>;
}

/** One step of a script: a reply, an error, or a function of the request. */
export type ScriptStep =
  | {
      readonly content?: string;
      readonly toolCalls?: readonly {
        readonly name: string;
        readonly arguments: unknown;
        readonly id?: string;
      }[];
      readonly usage?: Usage;
    }
  | { readonly error: string; readonly retryable?: boolean; readonly status?: number }
  | ((request: ModelRequest) => ScriptStep);

/**
 * A deterministic model: the n-th call answers the script's n-th step (the last repeats when
 * the script runs out, unless it is `{ error }`). Text is streamed word by word to `onToken`.
 * Usage counts are made up from lengths (4 characters a token) unless a step gives them.
 */
export function scriptedModel(
  script: readonly ScriptStep[],
): ModelProvider & { readonly calls: number } {
  let calls = 0;
  let ids = 0;
  const model = {
    name: 'scripted',
    get calls() {
      return calls;
    },
    complete(request: ModelRequest): Promise<ModelReply> {
      const i = Math.min(calls, script.length - 1);
      calls++;
      let step = script[i];
      if (step === undefined)
        return Promise.reject(new ModelCallError('the script is empty', false));
      while (typeof step === 'function') step = step(request);
      if ('error' in step)
        return Promise.reject(new ModelCallError(step.error, step.retryable ?? false, step.status));
      const content = step.content ?? '';
      for (const word of content.split(/(?<=\s)/)) if (word !== '') request.onToken?.(word);
      const toolCalls = (step.toolCalls ?? []).map((c) => ({
        id: c.id ?? `call_${++ids}`,
        name: c.name,
        arguments:
          typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}),
      }));
      const input = request.messages.reduce((n, m) => n + m.content.length, 0);
      const usage = step.usage ?? {
        inputTokens: Math.ceil(input / 4),
        outputTokens:
          Math.ceil((content.length + toolCalls.reduce((n, c) => n + c.arguments.length, 0)) / 4) +
          1,
      };
      return Promise.resolve({ content, toolCalls, usage });
    },
  };
  return model;
}
