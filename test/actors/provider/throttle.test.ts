/**
 * The shared client's rate limits (actors/agent/provider/throttle.ts, token-bucket.ts),
 * through sharedModel on a simulated clock: RPM and TPM buckets delay calls, the TPM
 * estimate is reconciled with usage, limits are learned from x-ratelimit-* headers, and a
 * Retry-After pauses every call.
 */
import { describe, expect, it } from 'vitest';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { estimateRequestTokens } from '../../../actors/agent/provider/estimate.ts';
import { ModelCallError } from '../../../actors/agent/types.ts';
import { SimulatedClock } from '../../../testing.ts';
import { flush, handProvider, outage, requestOf } from './fake-provider.ts';

describe('the RPM and TPM buckets of a shared client', () => {
  it('lets requestsPerMinute calls through at once, then one each 60,000 / RPM ms', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, requestsPerMinute: 2 });
    const calls = ['a', 'b', 'c'].map((id) => model.complete(requestOf(id)));
    await flush();
    expect(inner.calls).toHaveLength(2);
    await clock.advance(29_999, flush);
    expect(inner.calls).toHaveLength(2);
    await clock.advance(1, flush);
    expect(inner.calls).toHaveLength(3);
    for (const c of inner.calls) c.reply();
    await Promise.all(calls);
  });

  it('charges the estimate (characters / 4 with tool schemas, plus maxOutputTokens) before the call', () => {
    const request = requestOf('x'.repeat(40), {
      maxOutputTokens: 100,
      tools: [{ name: 'search', description: 'finds', parameters: { type: 'object' } }],
    });
    // 4 (role) + 40 + 6 + 5 + 17 characters, / 4, rounded up, + 100
    expect(estimateRequestTokens(request)).toBe(Math.ceil((4 + 40 + 6 + 5 + 17) / 4) + 100);
  });

  it('delays a call the tokens bucket cannot pay, until it has refilled', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, tokensPerMinute: 600 });
    const request = (id: string) => requestOf(id, { maxOutputTokens: 250 });
    const estimate = estimateRequestTokens(request('a'));
    expect(estimate).toBe(252);
    const a = model.complete(request('a'));
    const b = model.complete(request('b'));
    const c = model.complete(request('c'));
    await flush();
    // 600 - 2 × 252 = 96 left: c needs 156 more, at 10 a second
    expect(inner.calls).toHaveLength(2);
    await clock.advance(15_000, flush);
    expect(inner.calls).toHaveLength(2);
    await clock.advance(700, flush);
    expect(inner.calls).toHaveLength(3);
    for (const x of inner.calls) x.reply({ usage: { inputTokens: 2, outputTokens: 50 } });
    await Promise.all([a, b, c]);
  });

  it('gives back what the estimate overcharged once the reply reports its usage', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, tokensPerMinute: 600 });
    const request = (id: string) => requestOf(id, { maxOutputTokens: 250 });
    const a = model.complete(request('a'));
    const b = model.complete(request('b'));
    const c = model.complete(request('c'));
    await flush();
    expect(inner.calls).toHaveLength(2);
    // a used 52 of its 252: 200 come back, and c (252) can go with 96 + 200 left
    inner.calls[0]!.reply({ usage: { inputTokens: 2, outputTokens: 50 } });
    await flush();
    expect(inner.calls).toHaveLength(3);
    inner.calls[1]!.reply();
    inner.calls[2]!.reply();
    await Promise.all([a, b, c]);
  });

  it('learns the limits and what is left from the x-ratelimit-* headers of a reply', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock });
    expect(model.state()).toMatchObject({ requestsPerMinute: Infinity, tokensPerMinute: Infinity });
    const first = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.reply({
      rateLimitHeaders: {
        'x-ratelimit-limit-requests': '60',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '2s',
        'x-ratelimit-limit-tokens': '90000',
        'x-ratelimit-remaining-tokens': '89000',
        'x-ratelimit-reset-tokens': '6m0s',
      },
    });
    await first;
    expect(model.state()).toMatchObject({ requestsPerMinute: 60, tokensPerMinute: 90_000 });
    // nothing left until the reset (2 s), when the limit is whole again
    const next = model.complete(requestOf('b'));
    await clock.advance(1_999, flush);
    expect(inner.calls).toHaveLength(1);
    await clock.advance(1, flush);
    expect(inner.calls).toHaveLength(2);
    inner.calls[1]!.reply();
    await next;
  });

  it('keeps a learned limit at most the configured one', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, requestsPerMinute: 30 });
    const a = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.reply({ rateLimitHeaders: { 'x-ratelimit-limit-requests': '500' } });
    await a;
    expect(model.state().requestsPerMinute).toBe(30);
  });

  it('learns nothing with learnLimits: false', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, learnLimits: false });
    const a = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.reply({ rateLimitHeaders: { 'x-ratelimit-limit-requests': '5' } });
    await a;
    expect(model.state().requestsPerMinute).toBe(Infinity);
  });
});

describe('Retry-After on a shared client', () => {
  const rateLimited = (headers: Record<string, string>) =>
    new ModelCallError('the model server answered 429', true, 429, { rateLimitHeaders: headers });

  it('pauses every call, not only the one that was told, until Retry-After (seconds) ends', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, random: () => 0 });
    const a = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.fail(rateLimited({ 'retry-after': '3' }));
    await flush();
    expect(model.state().pausedUntil).toBe(clock.now() + 3_000);
    // a call made during the pause waits for it too
    const b = model.complete(requestOf('b'));
    await clock.advance(2_999, flush);
    expect(inner.calls).toHaveLength(1);
    await clock.advance(1, flush);
    expect(inner.calls.map((c) => c.id).sort()).toEqual(['a', 'a', 'b']);
    expect(model.state().pausedUntil).toBeNull();
    inner.calls[1]!.reply();
    inner.calls[2]!.reply();
    await Promise.all([a, b]);
  });

  it('reads Retry-After as an HTTP date on the client clock, and retry-after-ms first', async () => {
    const clock = new SimulatedClock(Date.parse('2026-01-01T00:00:00Z'));
    const inner = handProvider();
    const model = sharedModel(inner, { clock, random: () => 0 });
    const a = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.fail(outage({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }));
    await flush();
    expect(model.state().pausedUntil).toBe(clock.now() + 5_000);
    await clock.advance(5_000, flush);
    inner.calls[1]!.fail(rateLimited({ 'retry-after-ms': '1500', 'retry-after': '9' }));
    await flush();
    expect(model.state().pausedUntil).toBe(clock.now() + 1_500);
    await clock.advance(1_500, flush);
    inner.calls[2]!.reply();
    await a;
  });

  it('caps a pause at maxRetryAfterMs', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, maxRetryAfterMs: 10_000 });
    const a = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.fail(rateLimited({ 'retry-after': '3600' }));
    await flush();
    expect(model.state().pausedUntil).toBe(clock.now() + 10_000);
    await clock.advance(10_000, flush);
    inner.calls[1]!.reply();
    await a;
  });

  it('does not pause on a Retry-After sent with a status other than 429 or 503', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock });
    const a = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.fail(
      new ModelCallError('bad', false, 400, { rateLimitHeaders: { 'retry-after': '30' } }),
    );
    await expect(a).rejects.toMatchObject({ status: 400 });
    expect(model.state().pausedUntil).toBeNull();
  });
});
