/**
 * What a shared client needs of a provider, and nothing more: the contract is structural, so
 * the agent's ModelProvider (actors/agent/model.ts) is one, and a shared client over it is a
 * ModelProvider again (`sharedModel` keeps the request and reply types it is given). The
 * provider folder depends on no agent module: the agent toolkit sits above it and re-exports
 * what users need.
 */
import type { RateLimitHeaders } from './rate-limit-headers.ts';

/** A message, as far as the token estimate reads it. */
export interface CallMessage {
  readonly role: string;
  readonly content: string;
  readonly toolCalls?: readonly {
    readonly id: string;
    readonly name: string;
    readonly arguments: string;
  }[];
  readonly toolCallId?: string;
}

/** A request, as far as a shared client reads it. The agent's ModelRequest is one. */
export interface CallRequest {
  readonly model: string;
  readonly messages: readonly CallMessage[];
  readonly tools: readonly {
    readonly name: string;
    readonly description: string;
    readonly parameters: unknown;
  }[];
  readonly maxOutputTokens: number;
  readonly signal?: AbortSignal;
}

/** A reply, as far as a shared client reads it. The agent's ModelReply is one. */
export interface CallReply {
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
  readonly rateLimitHeaders?: RateLimitHeaders;
}

/** A provider of requests `Q` and replies `R`. The agent's ModelProvider is one. */
export interface Provider<Q extends CallRequest = CallRequest, R extends CallReply = CallReply> {
  readonly name: string;
  complete(request: Q): Promise<R>;
}
