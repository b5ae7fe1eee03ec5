/**
 * The errors of a shared provider client (shared-model.ts). Each is a ModelCallError, so an
 * agent treats it as any failed model call: the retryable ones (unavailable, timed out,
 * queue full) are retried by the agent with its own backoff, within its budget; an aborted
 * call is not.
 *
 * | class                       | code                       | retryable | when                                          |
 * | --------------------------- | -------------------------- | --------- | --------------------------------------------- |
 * | ProviderUnavailableError    | `ERR_PROVIDER_UNAVAILABLE` | yes       | the circuit breaker is open (or probing)      |
 * | ProviderTimeoutError        | `ERR_PROVIDER_TIMEOUT`     | yes       | one attempt took longer than `callTimeoutMs`  |
 * | ProviderQueueFullError      | `ERR_PROVIDER_QUEUE_FULL`  | yes       | `maxQueued` calls already wait for a slot     |
 * | ProviderCallAbortedError    | `ERR_PROVIDER_ABORTED`     | no        | the request's signal aborted while it waited  |
 */
import { ModelCallError } from './model-call-error.ts';

/** The provider's circuit breaker is open: the call was not sent. Retry after `retryInMs`. */
export class ProviderUnavailableError extends ModelCallError {
  readonly provider: string;
  /** Until the breaker lets a probe through (0: a probe is in flight now). */
  readonly retryInMs: number;
  constructor(provider: string, retryInMs: number, cause?: unknown) {
    super(
      `${provider} is unavailable (its circuit breaker is open after repeated failures): ` +
        `the call was not sent; retry in ${Math.ceil(retryInMs)} ms or use a fallback`,
      true,
      undefined,
      { code: 'ERR_PROVIDER_UNAVAILABLE', cause },
    );
    this.name = 'ProviderUnavailableError';
    this.provider = provider;
    this.retryInMs = retryInMs;
  }
}

/** One attempt of a call took longer than `callTimeoutMs`; it was aborted. */
export class ProviderTimeoutError extends ModelCallError {
  readonly provider: string;
  readonly timeoutMs: number;
  constructor(provider: string, timeoutMs: number) {
    super(
      `${provider} did not answer in ${timeoutMs} ms (callTimeoutMs): the attempt was aborted`,
      true,
      undefined,
      { code: 'ERR_PROVIDER_TIMEOUT' },
    );
    this.name = 'ProviderTimeoutError';
    this.provider = provider;
    this.timeoutMs = timeoutMs;
  }
}

/** `maxQueued` calls already wait for one of the `maxConcurrent` slots. */
export class ProviderQueueFullError extends ModelCallError {
  readonly provider: string;
  readonly maxQueued: number;
  constructor(provider: string, maxQueued: number) {
    super(
      `${provider} has ${maxQueued} calls waiting already (maxQueued): raise maxQueued or ` +
        `maxConcurrent, or send fewer calls at once`,
      true,
      undefined,
      { code: 'ERR_PROVIDER_QUEUE_FULL' },
    );
    this.name = 'ProviderQueueFullError';
    this.provider = provider;
    this.maxQueued = maxQueued;
  }
}

/** The request's signal aborted while the call waited (for a slot, a limit or a retry). */
export class ProviderCallAbortedError extends ModelCallError {
  readonly provider: string;
  constructor(provider: string, signal: AbortSignal) {
    super(`the call to ${provider} was aborted by its caller`, false, undefined, {
      code: 'ERR_PROVIDER_ABORTED',
      cause: signal.reason,
    });
    this.name = 'ProviderCallAbortedError';
    this.provider = provider;
  }
}
