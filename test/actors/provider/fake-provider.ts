/**
 * A provider the test answers by hand: each call waits until the test resolves or rejects
 * it; an aborted call rejects as the OpenAI provider does (retryable, no status).
 */
import type { ModelProvider, ModelReply, ModelRequest } from '../../../actors/agent/model.ts';
import { ModelCallError } from '../../../actors/agent/types.ts';

export interface PendingCall {
  readonly request: ModelRequest;
  readonly id: string;
  settled: boolean;
  reply(r?: Partial<ModelReply>): void;
  fail(e: unknown): void;
}

export function handProvider(name = 'fake'): ModelProvider & { readonly calls: PendingCall[] } {
  const calls: PendingCall[] = [];
  return {
    name,
    calls,
    complete(request) {
      return new Promise<ModelReply>((resolve, reject) => {
        const call: PendingCall = {
          request,
          id: String(request.messages[0]?.content ?? calls.length),
          settled: false,
          reply: (r) => {
            call.settled = true;
            resolve({
              content: 'ok',
              toolCalls: [],
              usage: { inputTokens: 1, outputTokens: 1 },
              ...r,
            });
          },
          fail: (e) => {
            call.settled = true;
            reject(e);
          },
        };
        request.signal?.addEventListener('abort', () =>
          call.fail(new ModelCallError('Request was aborted.', true)),
        );
        calls.push(call);
      });
    },
  };
}

/** A request whose first message says `id` (the hand provider's call id). */
export function requestOf(
  id: string,
  more: Partial<ModelRequest> = {},
): ModelRequest & { readonly signal?: AbortSignal } {
  return {
    model: 'm',
    messages: [{ role: 'user', content: id, source: { kind: 'user' } }],
    tools: [],
    maxOutputTokens: 10,
    ...more,
  };
}

/** A 503, as the OpenAI provider reports it. */
export const outage = (headers?: Record<string, string>) =>
  new ModelCallError(
    'the model server answered 503',
    true,
    503,
    headers ? { rateLimitHeaders: headers } : undefined,
  );

/** Lets promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A seeded random in [0, 1): mulberry32. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
