/**
 * What a failed attempt says about the provider, for the circuit breaker, the retries and
 * the fallbacks of a shared client:
 *
 * | verdict    | errors                                                         | breaker       |
 * | ---------- | -------------------------------------------------------------- | ------------- |
 * | `outage`   | 5xx, 408, a timeout, a retryable error with no status (network), an error that is no troupe error | a failure |
 * | `limited`  | 429, 409: the provider is up but will not take it now          | no verdict    |
 * | `answered` | any other error (400, 401, 403, 404, 422…): the provider is up | a success     |
 * | `aborted`  | the caller's signal aborted                                    | no verdict    |
 *
 * A call falls back to the next provider (`fallsBack`) when the shared client refused it
 * (breaker open, queue full), when it failed with an outage or a limit after the client's
 * own retries, or on a 404 (the model or the endpoint is not there). A request the provider
 * refused for what it is (400, 401, 403, 413, 422) does not: another provider would refuse it
 * too, or it needs fixing; nor does an aborted call.
 */
import { TroupeError } from '../../../runtime/core/error.ts';
import { ModelCallError } from './model-call-error.ts';
import {
  ProviderCallAbortedError,
  ProviderQueueFullError,
  ProviderUnavailableError,
} from './errors.ts';

export type Verdict = 'outage' | 'limited' | 'answered' | 'aborted';

export function verdictOf(e: unknown): Verdict {
  if (e instanceof ProviderCallAbortedError) return 'aborted';
  if (!(e instanceof ModelCallError)) return e instanceof TroupeError ? 'answered' : 'outage';
  const { status } = e;
  if (status === 429 || status === 409) return 'limited';
  if (status === 408 || (status !== undefined && status >= 500)) return 'outage';
  if (status === undefined) return e.retryable ? 'outage' : 'answered';
  return 'answered';
}

/** Whether the shared client tries a failed attempt again (the agent's rule: model-call.ts). */
export function retryable(e: unknown): boolean {
  if (e instanceof ProviderUnavailableError || e instanceof ProviderCallAbortedError) return false;
  return e instanceof ModelCallError ? e.retryable : !(e instanceof TroupeError);
}

/** Whether a call that failed so goes on to the next provider of the fallback list. */
export function fallsBack(e: unknown): boolean {
  if (e instanceof ProviderUnavailableError || e instanceof ProviderQueueFullError) return true;
  if (e instanceof ModelCallError && e.status === 404) return true;
  const verdict = verdictOf(e);
  return verdict === 'outage' || verdict === 'limited';
}
