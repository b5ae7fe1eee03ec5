/**
 * What the mock has served since start or the last reset: `GET /stats` answers this object.
 * Every model request counts in `calls` (faulted or not); tokens count only for requests that
 * got a reply (a reply cut mid-stream included: the model "spent" them).
 */

export type Endpoint = 'chatCompletions' | 'responses' | 'messages' | 'embeddings';

export interface MockModelStats {
  calls: Record<Endpoint, number>;
  /** requests to a path the mock does not serve */
  notFound: number;
  streamed: number;
  toolCalls: number;
  textReplies: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  faults: {
    outage: number;
    rateLimit: number;
    badRequest: number;
    streamCut: number;
    /** malformed requests (bad JSON, missing fields, a body over maxBodyBytes) */
    invalidRequest: number;
    /** an exception inside the mock itself, answered 500 */
    internal: number;
  };
}

export function emptyStats(): MockModelStats {
  return {
    calls: { chatCompletions: 0, responses: 0, messages: 0, embeddings: 0 },
    notFound: 0,
    streamed: 0,
    toolCalls: 0,
    textReplies: 0,
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    faults: {
      outage: 0,
      rateLimit: 0,
      badRequest: 0,
      streamCut: 0,
      invalidRequest: 0,
      internal: 0,
    },
  };
}

export function addTokens(stats: MockModelStats, prompt: number, completion: number): void {
  stats.promptTokens += prompt;
  stats.completionTokens += completion;
  stats.totalTokens += prompt + completion;
}
