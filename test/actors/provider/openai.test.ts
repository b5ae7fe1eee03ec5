/**
 * The OpenAI provider's side of sharing (actors/agent/openai.ts), through the real `openai`
 * SDK against the mock model server (bench/mock-model) on a loopback port: the reply's token
 * cap goes in the field the model family takes, and the answer's rate-limit headers reach
 * the shared client on replies and on errors. The mock's windows and the shared client run
 * on one simulated clock; the only real waits are the loopback round trips.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openAIModel, tokenLimitField } from '../../../actors/agent/openai.ts';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { ModelCallError } from '../../../actors/agent/types.ts';
import { startMockModel, type MockModel } from '../../../bench/mock-model/server.ts';
import type { MockModelOptions } from '../../../bench/mock-model/options.ts';
import { SimulatedClock } from '../../../testing.ts';
import { requestOf } from './fake-provider.ts';

const servers: MockModel[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function mock(options: MockModelOptions = {}) {
  const server = await startMockModel({ env: {}, ...options });
  servers.push(server);
  return server;
}

/** A fetch that keeps each request's JSON body. */
function recordingFetch() {
  const bodies: Record<string, unknown>[] = [];
  const f: typeof fetch = (input, init) => {
    if (typeof init?.body === 'string') bodies.push(JSON.parse(init.body) as never);
    return fetch(input, init);
  };
  return { fetch: f, bodies };
}

describe('the OpenAI provider, per model family', () => {
  it.each([
    ['o1', 'max_completion_tokens'],
    ['o3-mini', 'max_completion_tokens'],
    ['o4-mini-2025-04-16', 'max_completion_tokens'],
    ['gpt-5', 'max_completion_tokens'],
    ['gpt-5-mini', 'max_completion_tokens'],
    ['gpt-5.1', 'max_completion_tokens'],
    ['openai/o3', 'max_completion_tokens'],
    ['gpt-4o', 'max_tokens'],
    ['gpt-4.1-mini', 'max_tokens'],
    ['llama3.1:8b', 'max_tokens'],
    ['omni-moderation-latest', 'max_tokens'],
  ])('caps %s with %s', (model, field) => {
    expect(tokenLimitField(model)).toBe(field);
  });

  it('sends max_completion_tokens to o-series and GPT-5 models and max_tokens to others, through the SDK', async () => {
    const server = await mock();
    const recorder = recordingFetch();
    const model = openAIModel({
      baseURL: `${server.url}/v1`,
      apiKey: 'sk-test',
      fetch: recorder.fetch,
    });
    for (const name of ['o3-mini', 'gpt-5-mini', 'gpt-4o-mini'])
      await model.complete(requestOf('hello', { model: name, maxOutputTokens: 77 }));
    expect(recorder.bodies.map((b) => [b.model, b.max_completion_tokens, b.max_tokens])).toEqual([
      ['o3-mini', 77, undefined],
      ['gpt-5-mini', 77, undefined],
      ['gpt-4o-mini', undefined, 77],
    ]);
  });
});

describe('rate-limit headers from the OpenAI provider', () => {
  it('puts the x-ratelimit-* headers of a reply on it, and Retry-After on a 429 error', async () => {
    const clock = new SimulatedClock(0);
    const server = await mock({ clock, rateLimit: { requests: 1, windowMs: 60_000 } });
    const model = openAIModel({ baseURL: `${server.url}/v1`, apiKey: 'sk-test' });
    const reply = await model.complete(requestOf('hello'));
    expect(reply.rateLimitHeaders).toMatchObject({
      'x-ratelimit-limit-requests': '1',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m0s',
    });
    const e = await model.complete(requestOf('again')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e).toMatchObject({
      status: 429,
      retryable: true,
      rateLimitHeaders: { 'retry-after': '60', 'retry-after-ms': '60000' },
    });
  });

  it('lets a shared client learn the mock limit and wait it out, with no 429', async () => {
    const clock = new SimulatedClock(0);
    const server = await mock({ clock, rateLimit: { requests: 3, windowMs: 60_000 } });
    const model = sharedModel(openAIModel({ baseURL: `${server.url}/v1`, apiKey: 'k' }), {
      clock,
    });
    for (const id of ['a', 'b', 'c']) await model.complete(requestOf(id));
    expect(model.state().requestsPerMinute).toBe(3);
    let done = false;
    const fourth = model.complete(requestOf('d')).then((r) => {
      done = true;
      return r;
    });
    await clock.advance(59_000);
    expect(done).toBe(false);
    expect(server.stats().calls.chatCompletions).toBe(3);
    await clock.advance(1_000);
    await fourth;
    expect(server.stats().faults.rateLimit).toBe(0);
    expect(server.stats().calls.chatCompletions).toBe(4);
  });

  it("pauses a shared client that did not learn, on the mock's 429 Retry-After", async () => {
    const clock = new SimulatedClock(0);
    const server = await mock({ clock, rateLimit: { requests: 1, windowMs: 30_000 } });
    const model = sharedModel(openAIModel({ baseURL: `${server.url}/v1`, apiKey: 'k' }), {
      clock,
      learnLimits: false,
      random: () => 0,
    });
    await model.complete(requestOf('a'));
    let done = false;
    const second = model.complete(requestOf('b')).then(() => (done = true));
    for (let i = 0; i < 100 && model.state().pausedUntil === null; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(model.state().pausedUntil).toBe(30_000);
    expect(server.stats().faults.rateLimit).toBe(1);
    await clock.advance(29_999);
    expect(done).toBe(false);
    await clock.advance(1);
    await second;
    expect(server.stats().faults.rateLimit).toBe(1);
  });
});
