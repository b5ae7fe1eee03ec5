/**
 * The shared client's buckets in Redis (actors/agent/provider/redis-limiter.ts), against the
 * machine's real Redis (127.0.0.1:6379): the Lua scripts do the in-memory store's sums, and
 * two clients (two processes, as far as Redis can tell) on one key draw from one pair of
 * buckets. Time is a simulated clock passed to every call; keys are prefixed per run and
 * deleted after.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  memoryLimiterStore,
  type LimiterStore,
} from '../../../actors/agent/provider/limiter-store.ts';
import { redisLimiterStore } from '../../../actors/agent/provider/redis-limiter.ts';
import { sharedModel } from '../../../actors/agent/provider/shared-model.ts';
import { client } from '../../../bench/cluster/redis.ts';
import { SimulatedClock } from '../../../testing.ts';
import { until } from '../../support/until.ts';
import { handProvider, requestOf } from './fake-provider.ts';

const PREFIX = `troupe-test:limits:${randomBytes(6).toString('hex')}`;
const clients: Redis[] = [];
function redis(): Redis {
  const r = client();
  clients.push(r);
  return r;
}
let n = 0;
const store = (r: Redis, key = `k${++n}`) => redisLimiterStore(r, { key, prefix: PREFIX });

afterAll(async () => {
  const r = redis();
  const keys = await r.keys(`${PREFIX}:*`);
  if (keys.length > 0) await r.del(...keys);
  expect(await r.keys(`${PREFIX}:*`)).toEqual([]);
  for (const c of clients) c.disconnect();
});

/** The same operations on a store, and what each answered. */
async function script(s: LimiterStore): Promise<unknown[]> {
  const limits = { requests: 3, tokens: 1_000 };
  const out: unknown[] = [];
  let t = 1_000_000;
  const take = async (tokens: number) =>
    out.push(['take', t, tokens, await s.take(t, tokens, limits)]);
  await take(400);
  await take(400);
  await take(400); // 200 tokens left: 200 more at 1,000 a minute
  t += 6_000;
  await take(400); // 300 left
  t += 6_000;
  await take(400);
  await take(10); // requests spent: 3 → 1 each 20 s
  await s.give(t, 0, 300, limits); // an estimate that overcharged
  t += 20_000;
  await take(10);
  await s.observe(t, 'tokens', 0, 30_000, limits); // the provider: nothing left for 30 s
  t += 29_000;
  await take(10);
  // a reply from the provider's next window (its reset a minute on): its 800 left are there
  // now, not after the 1 s left of the window before
  await s.observe(t, 'tokens', 800, 60_000, limits);
  await take(500);
  // the same window said again (its reset within a second of the known one) only cuts
  await s.observe(t, 'tokens', 250, 60_400, limits);
  await take(300);
  t += 1_000;
  await take(10); // whole again
  out.push(['big', await s.take(t, 5_000, { requests: Infinity, tokens: 1_000 })]);
  t += 1;
  out.push(['after big', await s.take(t, 1, { requests: Infinity, tokens: 1_000 })]);
  return out;
}

describe('a provider window that rolls over (memory store)', () => {
  it('takes the next window at its word, and cuts within the same window', async () => {
    const s = memoryLimiterStore();
    const limits = { requests: Infinity, tokens: 1_000 };
    let t = 5_000_000;
    expect(await s.take(t, 900, limits)).toBe(0);
    await s.observe(t, 'tokens', 100, 30_000, limits);
    t += 29_900;
    // the last window's 100 left: 500 must wait for its reset
    expect(await s.take(t, 500, limits)).toBeGreaterThan(0);
    // a call that reached the provider after its rollover: the new window has 950 left
    await s.observe(t, 'tokens', 950, 60_000, limits);
    expect(await s.take(t, 500, limits)).toBe(0);
    // the same new window reported again, lower: cut to it, never raised within a window
    await s.observe(t, 'tokens', 200, 60_300, limits);
    expect(await s.take(t, 300, limits)).toBeGreaterThan(0);
  });
});

describe('the Redis limiter store', () => {
  it('does the in-memory store sums: take, wait, give, observe, a reset, a cost over the capacity', async () => {
    const memory = await script(memoryLimiterStore());
    const shared = await script(store(redis()));
    expect(shared).toEqual(memory);
    // the script looks at something: some takes waited
    expect(
      memory.filter((x) => Array.isArray(x) && typeof x[3] === 'number' && x[3] > 0).length,
    ).toBeGreaterThan(2);
  });

  it('keeps both buckets under one hash tag, named by the prefix and key', () => {
    expect(store(redis(), 'openai-abc').keys).toEqual([
      `${PREFIX}:{openai-abc}:requests`,
      `${PREFIX}:{openai-abc}:tokens`,
    ]);
  });

  it('refuses a bad key, prefix or ttl, naming it', () => {
    const r = redis();
    expect(() => redisLimiterStore(r, { key: '' })).toThrow(
      expect.objectContaining({ field: 'options.key' }),
    );
    expect(() => redisLimiterStore(r, { key: 'a{b}' })).toThrow(
      expect.objectContaining({ field: 'options.key' }),
    );
    expect(() => redisLimiterStore(r, { key: 'a', idleTtlMs: 0 })).toThrow(
      expect.objectContaining({ field: 'options.idleTtlMs' }),
    );
    expect(() => redisLimiterStore({} as Redis, { key: 'a' })).toThrow(
      expect.objectContaining({ field: 'redis' }),
    );
  });

  it('lets two clients on one key send no more than the key RPM between them', async () => {
    const clock = new SimulatedClock();
    const key = `two-${randomBytes(3).toString('hex')}`;
    const innerA = handProvider('a');
    const innerB = handProvider('b');
    const a = sharedModel(innerA, { clock, requestsPerMinute: 2, limiter: store(redis(), key) });
    const b = sharedModel(innerB, { clock, requestsPerMinute: 2, limiter: store(redis(), key) });
    const first = a.complete(requestOf('a1'));
    await until(() => innerA.calls.length === 1);
    const second = b.complete(requestOf('b1'));
    await until(() => innerB.calls.length === 1);
    const third = b.complete(requestOf('b2'));
    // refused by Redis: b arms a timer for when the shared bucket has one request again
    await until(() => clock.nextDue() === clock.now() + 30_000);
    expect(innerA.calls.length + innerB.calls.length).toBe(2);
    await clock.advance(30_000);
    await until(() => innerB.calls.length === 2);
    for (const c of [...innerA.calls, ...innerB.calls]) c.reply();
    await Promise.all([first, second, third]);
  });

  it('shares what one client learned from the provider headers with the other', async () => {
    const clock = new SimulatedClock();
    const key = `learn-${randomBytes(3).toString('hex')}`;
    const innerA = handProvider('a');
    const innerB = handProvider('b');
    const a = sharedModel(innerA, { clock, requestsPerMinute: 100, limiter: store(redis(), key) });
    const b = sharedModel(innerB, { clock, requestsPerMinute: 100, limiter: store(redis(), key) });
    const first = a.complete(requestOf('a1'));
    await until(() => innerA.calls.length === 1);
    innerA.calls[0]!.reply({
      rateLimitHeaders: {
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '5s',
      },
    });
    await first;
    await new Promise((r) => setTimeout(r, 20)); // the observe is written without waiting
    const next = b.complete(requestOf('b1'));
    await until(() => clock.nextDue() === clock.now() + 5_000);
    expect(innerB.calls).toHaveLength(0);
    await clock.advance(5_000);
    await until(() => innerB.calls.length === 1);
    innerB.calls[0]!.reply();
    await next;
  });

  it('lets calls through when Redis cannot be reached, and counts the failures', async () => {
    const down = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    clients.push(down);
    const inner = handProvider();
    const model = sharedModel(inner, {
      clock: new SimulatedClock(),
      requestsPerMinute: 1,
      limiter: redisLimiterStore(down, { key: 'down', prefix: PREFIX }),
    });
    const call = model.complete(requestOf('a'));
    await until(() => inner.calls.length === 1);
    inner.calls[0]!.reply();
    await call;
    await until(() => model.state().limiterErrors >= 1);
  });
});
