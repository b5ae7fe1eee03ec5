/**
 * The shared client's circuit breaker (actors/agent/provider/breaker.ts), through
 * sharedModel on a simulated clock: it opens after N availability failures in a row, fails
 * fast while open, lets ONE probe through once half-open, and closes on its success.
 */
import { describe, expect, it } from 'vitest';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { ProviderUnavailableError } from '../../../actors/agent/provider/errors.ts';
import { ModelCallError } from '../../../actors/agent/types.ts';
import { SimulatedClock } from '../../../testing.ts';
import { flush, handProvider, outage, requestOf } from './fake-provider.ts';

/** A client that does not retry by itself, so each call is one attempt. */
function client(openAfterFailures = 5) {
  const clock = new SimulatedClock();
  const inner = handProvider();
  const model = sharedModel(inner, {
    clock,
    retry: { attempts: 1 },
    breaker: { openAfterFailures, resetMs: 10_000 },
  });
  /** Makes one call and answers it with `fail` (or a reply). */
  const once = async (fail?: unknown) => {
    const before = inner.calls.length;
    const call = model.complete(requestOf('x')).catch((e: unknown) => e);
    await flush();
    if (inner.calls.length > before) {
      if (fail === undefined) inner.calls.at(-1)!.reply();
      else inner.calls.at(-1)!.fail(fail);
    }
    return call;
  };
  return { clock, inner, model, once };
}

describe('the circuit breaker of a shared client', () => {
  it('opens after openAfterFailures availability failures in a row (5 by default)', async () => {
    const { model, once } = client();
    for (let i = 0; i < 4; i++) await once(outage());
    expect(model.state()).toMatchObject({ breaker: 'closed', failures: 4 });
    await once(outage());
    expect(model.state().breaker).toBe('open');
  });

  it('counts only failures in a row: a reply in between starts the count again', async () => {
    const { model, once } = client(3);
    await once(outage());
    await once(outage());
    await once();
    await once(outage());
    await once(outage());
    expect(model.state()).toMatchObject({ breaker: 'closed', failures: 2 });
  });

  it('does not count a refused request (400) or a rate limit (429) as an outage', async () => {
    const { model, once } = client(2);
    await once(outage());
    await once(new ModelCallError('limited', true, 429));
    expect(model.state().failures).toBe(1);
    await once(new ModelCallError('bad', false, 400));
    expect(model.state()).toMatchObject({ breaker: 'closed', failures: 0 });
  });

  it('fails fast while open, with ProviderUnavailableError (retryable), sending nothing', async () => {
    const { inner, once, clock } = client(2);
    await once(outage());
    await once(outage());
    await clock.advance(4_000, flush);
    const e = await once();
    expect(e).toBeInstanceOf(ProviderUnavailableError);
    expect(e).toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      retryable: true,
      provider: 'fake',
      retryInMs: 6_000,
    });
    expect(e).toBeInstanceOf(ModelCallError);
    expect(inner.calls).toHaveLength(2);
  });

  it('half-opens after resetMs and lets ONE probe through while the others fail fast', async () => {
    const { model, inner, clock } = client(1);
    const first = model.complete(requestOf('a')).catch((e: unknown) => e);
    await flush();
    inner.calls[0]!.fail(outage());
    await first;
    await clock.advance(10_000, flush);
    expect(model.state().breaker).toBe('half-open');
    const probe = model.complete(requestOf('probe'));
    const other = model.complete(requestOf('other')).catch((e: unknown) => e);
    await flush();
    expect(inner.calls.map((c) => c.id)).toEqual(['a', 'probe']);
    expect(await other).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE', retryInMs: 0 });
    inner.calls[1]!.reply();
    await probe;
    expect(model.state()).toMatchObject({ breaker: 'closed', failures: 0 });
    const after = model.complete(requestOf('after'));
    await flush();
    inner.calls[2]!.reply();
    await after;
  });

  it('opens again for resetMs when the probe fails', async () => {
    const { model, inner, clock, once } = client(1);
    await once(outage());
    await clock.advance(10_000, flush);
    await once(outage());
    expect(model.state().breaker).toBe('open');
    await clock.advance(9_999, flush);
    expect(await once()).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    await clock.advance(1, flush);
    await once();
    expect(model.state().breaker).toBe('closed');
    expect(inner.calls).toHaveLength(3);
  });

  it('lets the next call probe when a probe ends with no verdict (aborted)', async () => {
    const { model, inner, clock, once } = client(1);
    await once(outage());
    await clock.advance(10_000, flush);
    const abort = new AbortController();
    const probe = model.complete(requestOf('p', { signal: abort.signal })).catch((e: unknown) => e);
    await flush();
    abort.abort();
    expect(await probe).toMatchObject({ code: 'ERR_PROVIDER_ABORTED' });
    expect(model.state().breaker).toBe('half-open');
    await once();
    expect(model.state().breaker).toBe('closed');
    expect(inner.calls).toHaveLength(3);
  });

  it('stops a call retrying inside the client once the breaker opens', async () => {
    const clock = new SimulatedClock();
    const inner = handProvider();
    const model = sharedModel(inner, {
      clock,
      random: () => 0,
      retry: { attempts: 5 },
      breaker: { openAfterFailures: 2 },
    });
    const a = model.complete(requestOf('a')).catch((e: unknown) => e);
    const b = model.complete(requestOf('b')).catch((e: unknown) => e);
    await flush();
    inner.calls[0]!.fail(outage());
    inner.calls[1]!.fail(outage());
    await clock.advance(0, flush);
    expect(await a).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(await b).toMatchObject({ code: 'ERR_PROVIDER_UNAVAILABLE' });
    expect(((await a) as Error).cause).toMatchObject({ status: 503 });
    expect(inner.calls).toHaveLength(2);
  });
});
