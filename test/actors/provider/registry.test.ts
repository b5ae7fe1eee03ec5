/**
 * One shared client per endpoint and API key (actors/agent/provider/registry.ts).
 */
import { describe, expect, it } from 'vitest';
import { openAIModel } from '../../../actors/agent/openai.ts';
import { modelClients } from '../../../actors/agent/provider/registry.ts';

describe('the registry of shared clients', () => {
  it('answers the same client for the same endpoint and key, another for another', () => {
    const clients = modelClients(openAIModel);
    const a = clients.get({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k1' });
    expect(clients.get({ baseURL: 'http://127.0.0.1:1/v1/', apiKey: 'k1' })).toBe(a);
    expect(clients.get({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k2' })).not.toBe(a);
    expect(clients.get({ baseURL: 'http://127.0.0.1:2/v1', apiKey: 'k1' })).not.toBe(a);
    expect(clients.size).toBe(3);
  });

  it('refuses other options for a client that exists, naming shared', () => {
    const clients = modelClients(openAIModel);
    const options = { maxConcurrent: 8 };
    const a = clients.get({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k' }, options);
    expect(clients.get({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k' }, options)).toBe(a);
    expect(() =>
      clients.get({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k' }, { maxConcurrent: 16 }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', field: 'shared' }));
  });

  it('keys absent endpoint and key as the defaults, one client for them', () => {
    const clients = modelClients(openAIModel);
    expect(clients.get({})).toBe(clients.get({}));
    expect(clients.get({ apiKey: 'k' })).not.toBe(clients.get({}));
  });

  it('checks the shared options when it makes the client', () => {
    expect(() => modelClients(openAIModel).get({ apiKey: 'k' }, { maxConcurrent: 0 })).toThrow(
      expect.objectContaining({ field: 'options.maxConcurrent' }),
    );
  });
});
