/**
 * An ordered fallback list: the call goes to the primary; when that fails in a way another
 * provider may not (availability.ts `fallsBack`: breaker open, queue full, an outage or a
 * limit that outlived the retries, a 404), the first fallback is tried, then the next, in
 * order. A route's `model` replaces the request's model (a smaller model, another vendor's
 * name for it).
 *
 * Each route is called as it is: give a fallback endpoint its own shared client
 * (`sharedModel(openAIModel({ baseURL: … }))`) for its limits and breaker; its breaker being
 * open is then a ProviderUnavailableError, and the next route is tried.
 *
 * When every route fails so, the primary's error is thrown (retryable: the agent waits and
 * tries again); an error that does not fall back is thrown as it is, at once.
 */
import type { CallReply, CallRequest } from './call.ts';
import { fallsBack } from './availability.ts';
import type { FallbackRoute } from './options.ts';

export async function withFallbacks<Q extends CallRequest, R extends CallReply>(
  primary: (request: Q) => Promise<R>,
  routes: readonly FallbackRoute<Q, R>[],
  request: Q,
): Promise<R> {
  const aborted = () => request.signal?.aborted === true;
  let first: unknown;
  try {
    return await primary(request);
  } catch (e) {
    if (!fallsBack(e) || aborted()) throw e;
    first = e;
  }
  for (const route of routes) {
    try {
      return await route.provider.complete(
        route.model === undefined ? request : ({ ...request, model: route.model } as Q),
      );
    } catch (e) {
      if (!fallsBack(e) || aborted()) throw e;
    }
  }
  throw first;
}
