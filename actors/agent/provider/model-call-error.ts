/**
 * ModelCallError: a model call failed. It lives with the providers (and is re-exported by
 * actors/agent/types.ts) because everything that calls a model raises it: a provider
 * (openai.ts), the shared client (shared-model.ts, whose own errors are its subclasses) and
 * the agent, which retries it when `retryable` (model-call.ts).
 */
import { TroupeError } from '../../../runtime/core/error.ts';
import type { RateLimitHeaders } from './rate-limit-headers.ts';

/** The model could not be reached (after its retries), or answered with an error. */
export class ModelCallError extends TroupeError {
  readonly retryable: boolean;
  readonly status?: number;
  /**
   * The answer's rate-limit headers (`retry-after`, `retry-after-ms`, `x-ratelimit-*`;
   * lower-case names), when the provider reports them: a shared client pauses on them and
   * learns its limits from them.
   */
  readonly rateLimitHeaders?: RateLimitHeaders;
  /**
   * `more.code`: a subclass's own code (default `ERR_MODEL_CALL`); `more.cause`: the error
   * behind this one; `more.rateLimitHeaders`: see the field.
   */
  constructor(
    message: string,
    retryable: boolean,
    status?: number,
    more?: {
      readonly code?: string;
      readonly cause?: unknown;
      readonly rateLimitHeaders?: RateLimitHeaders;
    },
  ) {
    super(
      more?.code ?? 'ERR_MODEL_CALL',
      message,
      more?.cause === undefined ? undefined : { cause: more.cause },
    );
    this.name = 'ModelCallError';
    this.retryable = retryable;
    if (status !== undefined) this.status = status;
    if (more?.rateLimitHeaders !== undefined) this.rateLimitHeaders = more.rateLimitHeaders;
  }
}
