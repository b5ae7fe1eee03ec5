/**
 * One shared client per endpoint and API key. Provider limits (RPM, TPM, concurrency) are
 * per API key, so every agent calling one endpoint with one key must go through one client;
 * `modelClients(make)` keeps them, keyed by (baseURL, API key) — the key is kept only as its
 * SHA-256, so a registry dumped in a log shows no secret.
 *
 * `make` builds the provider of an endpoint (`openAIModel`, or any function of options with
 * `baseURL` and `apiKey`). `clients.get(options, shared)` answers the client for `options`'
 * endpoint and key, making it on the first call as `sharedModel(make(options), shared)`.
 * Absent `baseURL` and `apiKey` are a key of their own (the provider's defaults, such as
 * OPENAI_BASE_URL and OPENAI_API_KEY). A later call for the same endpoint and key gets that
 * client; its `shared`, unless absent or the very same object, is refused with
 * InvalidOptionError (one client has one set of limits: change them where it is made).
 *
 * A registry is a value, not a global: make one per process (or per test) and hand it down.
 *
 * ```ts
 * const clients = modelClients(openAIModel);
 * const model = clients.get({ apiKey: process.env.OPENAI_API_KEY }, { maxConcurrent: 32 });
 * ```
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../../../runtime/core/error.ts';
import type { CallReply, CallRequest, Provider } from './call.ts';
import type { SharedModelOptions } from './options.ts';
import { sharedModel, type SharedModel } from './shared-model.ts';

/** What identifies an endpoint and its key. */
export interface Endpoint {
  readonly baseURL?: string;
  readonly apiKey?: string;
}

export interface ModelClients<O extends Endpoint, Q extends CallRequest, R extends CallReply> {
  get(options: O, shared?: SharedModelOptions<Q, R>): SharedModel<Q, R>;
  /** Clients made so far. */
  readonly size: number;
}

export function modelClients<O extends Endpoint, Q extends CallRequest, R extends CallReply>(
  make: (options: O) => Provider<Q, R>,
): ModelClients<O, Q, R> {
  if (typeof make !== 'function') throw new InvalidOptionError('make', make, 'a function');
  const clients = new Map<
    string,
    { client: SharedModel<Q, R>; shared: SharedModelOptions<Q, R> | undefined }
  >();
  return {
    get size() {
      return clients.size;
    },
    get(options, shared) {
      const baseURL = options.baseURL?.replace(/\/+$/, '') ?? '(default)';
      const key = options.apiKey === undefined ? '(default)' : sha256(options.apiKey);
      const id = `${baseURL}\n${key}`;
      const known = clients.get(id);
      if (known !== undefined) {
        if (shared !== undefined && shared !== known.shared)
          throw new InvalidOptionError(
            'shared',
            shared,
            `absent: the client for ${baseURL} and this key exists already, with its own options`,
          );
        return known.client;
      }
      const client = sharedModel(make(options), shared);
      clients.set(id, { client, shared });
      return client;
    },
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
