/**
 * One shared client per endpoint and API key. Provider limits (RPM, TPM, concurrency) are
 * per API key, so every agent calling one endpoint with one key must go through one client;
 * `modelClients()` keeps them, keyed by (baseURL, API key) — the key is kept only as its
 * SHA-256, so a registry dumped in a log shows no secret.
 *
 * `clients.openAI(options, shared)` answers the client for `options`' endpoint and key
 * (OpenAIModelOptions, resolved as openAIModel resolves them: `OPENAI_API_KEY` and
 * `OPENAI_BASE_URL` from the environment when absent), making it on the first call with
 * `shared` (SharedModelOptions). A later call for the same endpoint and key gets that client;
 * its `shared`, unless absent or the very same object, is refused with InvalidOptionError
 * (one client has one set of limits: change them where it is made).
 *
 * A registry is a value, not a global: make one per process (or per test) and hand it down.
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../../../runtime/core/error.ts';
import { openAIModel, type OpenAIModelOptions } from '../openai.ts';
import type { SharedModelOptions } from './options.ts';
import { sharedModel, type SharedModel } from './shared-model.ts';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export interface ModelClients {
  openAI(options?: OpenAIModelOptions, shared?: SharedModelOptions): SharedModel;
  /** Clients made so far. */
  readonly size: number;
}

export function modelClients(): ModelClients {
  const clients = new Map<
    string,
    { client: SharedModel; shared: SharedModelOptions | undefined }
  >();
  return {
    get size() {
      return clients.size;
    },
    openAI(options = {}, shared) {
      const baseURL = (options.baseURL ?? process.env.OPENAI_BASE_URL ?? OPENAI_BASE_URL).replace(
        /\/+$/,
        '',
      );
      const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY ?? 'none';
      const key = `${baseURL}\n${createHash('sha256').update(apiKey).digest('hex')}`;
      const known = clients.get(key);
      if (known !== undefined) {
        if (shared !== undefined && shared !== known.shared)
          throw new InvalidOptionError(
            'shared',
            shared,
            `absent: the client for ${baseURL} and this key exists already, with its own options`,
          );
        return known.client;
      }
      const client = sharedModel(openAIModel({ ...options, baseURL, apiKey }), shared);
      clients.set(key, { client, shared });
      return client;
    },
  };
}
