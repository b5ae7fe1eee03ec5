/**
 * The shared client's own retries (actors/agent/provider/backoff.ts): full jitter in
 * [0, min(maxMs, baseMs · 2ⁿ)], from an injected random source, on the client's clock.
 */
import { describe, expect, it } from 'vitest';
import { fullJitterMs } from '../../../actors/agent/provider/backoff.ts';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { ModelCallError } from '../../../actors/agent/types.ts';
import { SimulatedClock } from '../../../testing.ts';
import { flush, handProvider, outage, requestOf, seeded } from './fake-provider.ts';

const retry = { attempts: 10, baseMs: 100, maxMs: 1_000 };

describe('full-jitter backoff', () => {
  it('waits a random time within [0, min(maxMs, baseMs · 2ⁿ)] for each retry', () => {
    const random = seeded(42);
    for (let n = 0; n < 8; n++) {
      const ceiling = Math.min(1_000, 100 * 2 ** n);
      const waits = Array.from({ length: 200 }, () => fullJitterMs(n, retry, random));
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...waits)).toBeLessThanOrEqual(ceiling);
      // spread over the window, not bunched at its end (exponential backoff without jitter)
      expect(Math.min(...waits)).toBeLessThan(ceiling * 0.1);
      expect(Math.max(...waits)).toBeGreaterThan(ceiling * 0.9);
    }
  });

  it('reaches both ends of the window: random 0 waits nothing, random → 1 the ceiling', () => {
    expect(fullJitterMs(3, retry, () => 0)).toBe(0);
    expect(fullJitterMs(3, retry, () => 0.999_999)).toBeCloseTo(800, 2);
    expect(fullJitterMs(9, retry, () => 0.5)).toBe(500);
  });

  it('retries a retryable failure after the jittered wait, on the client clock', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const random = seeded(7);
    const expected = seeded(7);
    const model = sharedModel(inner, { clock, random, retry });
    const call = model.complete(requestOf('a'));
    for (let n = 0; n < 3; n++) {
      await flush();
      expect(inner.calls).toHaveLength(n + 1);
      inner.calls[n]!.fail(outage());
      await flush();
      const wait = fullJitterMs(n, retry, expected);
      await clock.advance(Math.max(0, Math.ceil(wait) - 1), flush);
      expect(inner.calls).toHaveLength(wait >= 1 ? n + 1 : n + 2);
      await clock.advance(1, flush);
    }
    expect(inner.calls).toHaveLength(4);
    inner.calls[3]!.reply();
    await expect(call).resolves.toMatchObject({ content: 'ok' });
  });

  it('gives up after retry.attempts, with the last error', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, random: () => 0, retry: { attempts: 2 } });
    const call = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.fail(outage());
    await clock.advance(0, flush);
    inner.calls[1]!.fail(new ModelCallError('again', true, 502));
    await expect(call).rejects.toMatchObject({ code: 'ERR_MODEL_CALL', status: 502 });
    expect(inner.calls).toHaveLength(2);
  });

  it('never retries a failure that is not retryable', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock });
    const call = model.complete(requestOf('a'));
    await flush();
    inner.calls[0]!.fail(new ModelCallError('bad request', false, 400));
    await expect(call).rejects.toMatchObject({ status: 400, retryable: false });
    await clock.advance(60_000, flush);
    expect(inner.calls).toHaveLength(1);
  });

  it('aborts a call waiting out its backoff when its signal aborts', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, { clock, random: () => 0.5 });
    const abort = new AbortController();
    const call = model.complete(requestOf('a', { signal: abort.signal }));
    await flush();
    inner.calls[0]!.fail(outage());
    await flush();
    abort.abort();
    await expect(call).rejects.toMatchObject({ code: 'ERR_PROVIDER_ABORTED' });
    await clock.advance(60_000, flush);
    expect(inner.calls).toHaveLength(1);
    expect(model.state().inFlight).toBe(0);
  });

  it('abandons an attempt after callTimeoutMs (ProviderTimeoutError) and retries it', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, {
      clock,
      callTimeoutMs: 1_000,
      random: () => 0,
      retry: { attempts: 2 },
    });
    const call = model.complete(requestOf('a')).catch((e: unknown) => e);
    await clock.advance(999, flush);
    expect(inner.calls[0]!.request.signal?.aborted).toBe(false);
    await clock.advance(1, flush);
    expect(inner.calls[0]!.request.signal?.aborted).toBe(true);
    expect(inner.calls).toHaveLength(2);
    await clock.advance(1_000, flush);
    expect(await call).toMatchObject({
      code: 'ERR_PROVIDER_TIMEOUT',
      timeoutMs: 1_000,
      retryable: true,
    });
  });
});
