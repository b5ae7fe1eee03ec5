/**
 * The shared client's concurrency cap (actors/agent/provider/gate.ts), through sharedModel:
 * at most maxConcurrent calls in flight, the rest wait FIFO, an aborted waiter leaves.
 */
import { describe, expect, it } from 'vitest';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { SimulatedClock } from '../../../testing.ts';
import { flush, handProvider, requestOf } from './fake-provider.ts';

describe('the concurrency cap of a shared client', () => {
  it('lets 64 calls in flight by default, and the 65th waits until one ends', async () => {
    const inner = handProvider();
    const model = sharedModel(inner, { clock: new SimulatedClock() });
    const results = Array.from({ length: 65 }, (_, i) => model.complete(requestOf(`c${i}`)));
    await flush();
    expect(inner.calls).toHaveLength(64);
    expect(model.state()).toMatchObject({ inFlight: 64, queued: 1 });
    inner.calls[0]!.reply();
    await flush();
    expect(inner.calls).toHaveLength(65);
    expect(inner.calls[64]!.id).toBe('c64');
    expect(model.state()).toMatchObject({ inFlight: 64, queued: 0 });
    for (const c of inner.calls) if (!c.settled) c.reply();
    await Promise.all(results);
    expect(model.state()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('starts waiting calls in the order they came', async () => {
    const inner = handProvider();
    const model = sharedModel(inner, { clock: new SimulatedClock(), maxConcurrent: 1 });
    const results = ['a', 'b', 'c', 'd'].map((id) => model.complete(requestOf(id)));
    for (let i = 0; i < 4; i++) {
      await flush();
      expect(inner.calls).toHaveLength(i + 1);
      inner.calls[i]!.reply();
    }
    await Promise.all(results);
    expect(inner.calls.map((c) => c.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('takes a waiting call whose signal aborts out of the queue, and it is never sent', async () => {
    const inner = handProvider();
    const model = sharedModel(inner, { clock: new SimulatedClock(), maxConcurrent: 1 });
    const abort = new AbortController();
    const a = model.complete(requestOf('a'));
    const b = model.complete(requestOf('b', { signal: abort.signal }));
    const c = model.complete(requestOf('c'));
    await flush();
    expect(model.state().queued).toBe(2);
    abort.abort();
    await expect(b).rejects.toMatchObject({ code: 'ERR_PROVIDER_ABORTED', retryable: false });
    expect(model.state().queued).toBe(1);
    inner.calls[0]!.reply();
    await flush();
    inner.calls[1]!.reply();
    await Promise.all([a, c]);
    expect(inner.calls.map((x) => x.id)).toEqual(['a', 'c']);
  });

  it('refuses a call past maxQueued with ProviderQueueFullError (retryable)', async () => {
    const inner = handProvider();
    const model = sharedModel(inner, {
      clock: new SimulatedClock(),
      maxConcurrent: 1,
      maxQueued: 1,
    });
    const a = model.complete(requestOf('a'));
    const b = model.complete(requestOf('b'));
    await expect(model.complete(requestOf('c'))).rejects.toMatchObject({
      code: 'ERR_PROVIDER_QUEUE_FULL',
      retryable: true,
      maxQueued: 1,
    });
    await flush();
    inner.calls[0]!.reply();
    await flush();
    inner.calls[1]!.reply();
    await Promise.all([a, b]);
  });

  it('aborts a running call with its signal and frees its slot', async () => {
    const inner = handProvider();
    const model = sharedModel(inner, { clock: new SimulatedClock(), maxConcurrent: 1 });
    const abort = new AbortController();
    const a = model.complete(requestOf('a', { signal: abort.signal }));
    const b = model.complete(requestOf('b'));
    await flush();
    abort.abort();
    await expect(a).rejects.toMatchObject({ code: 'ERR_PROVIDER_ABORTED' });
    await flush();
    expect(inner.calls.map((x) => x.id)).toEqual(['a', 'b']);
    inner.calls[1]!.reply();
    await b;
  });
});
