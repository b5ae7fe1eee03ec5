/**
 * Reminders (runtime/cluster/reminders.ts) on a simulated clock: kept in the process, each is
 * sent at its due time and not before, a far one in steps of the longest timer; kept in Redis
 * (a real one), a due reminder is taken by the first poll at or after its time, once.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Address } from '../../protocol/address.ts';
import { LocalReminders, RedisReminders } from '../../runtime/cluster/reminders.ts';
import { clusterKeys } from '../../runtime/cluster/keys.ts';
import { SimulatedClock } from '../../testing.ts';
import { client, clusterName, dropCluster } from '../../bench/cluster/redis.ts';
import { until } from '../support/until.ts';

const ADDRESS = 'troupe+entity://tally/x' as Address;

describe('reminders kept in the process', () => {
  it('sends each at its due time, not a millisecond before, in due order', async () => {
    const clock = new SimulatedClock(0);
    const r = new LocalReminders(clock);
    const sent: [number, unknown][] = [];
    r.start((_address, body) => sent.push([clock.now(), body]));
    await r.add(ADDRESS, 500, 'b');
    await r.add(ADDRESS, 200, 'a');
    await clock.advance(199);
    expect(sent).toEqual([]);
    await clock.advance(1);
    expect(sent).toEqual([[200, 'a']]);
    await clock.advance(300);
    expect(sent).toEqual([
      [200, 'a'],
      [500, 'b'],
    ]);
    r.close();
  });

  it('sends one already due at once, and one past the longest timer (2^31-1 ms) at its time', async () => {
    const clock = new SimulatedClock(0);
    const r = new LocalReminders(clock);
    const sent: [number, unknown][] = [];
    r.start((_address, body) => sent.push([clock.now(), body]));
    const far = 2 ** 31 + 1_000;
    await r.add(ADDRESS, far, 'far');
    await r.add(ADDRESS, -5, 'late');
    await clock.advance(0);
    expect(sent).toEqual([[0, 'late']]);
    await clock.advance(far - 1);
    expect(sent).toHaveLength(1);
    await clock.advance(1);
    expect(sent).toEqual([
      [0, 'late'],
      [far, 'far'],
    ]);
    r.close();
  });

  it('sends nothing once closed', async () => {
    const clock = new SimulatedClock(0);
    const r = new LocalReminders(clock);
    const sent: unknown[] = [];
    r.start((_address, body) => sent.push(body));
    await r.add(ADDRESS, 100, 'x');
    r.close();
    await clock.advance(1_000);
    expect(sent).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});

describe('reminders kept in Redis', () => {
  const redis = client();
  const names: string[] = [];
  const open: RedisReminders[] = [];
  afterEach(async () => {
    for (const r of open.splice(0)) r.close();
    for (const n of names.splice(0)) await dropCluster(n);
  });
  afterAll(() => redis.disconnect());

  function reminders(clock: SimulatedClock, pollMs: number) {
    const name = clusterName();
    names.push(name);
    const logged: unknown[] = [];
    const r = new RedisReminders(
      redis,
      clusterKeys(name),
      pollMs,
      (m, e) => logged.push([m, e]),
      clock,
    );
    open.push(r);
    return { r, logged };
  }

  it('takes a reminder at the first poll at or after its due time, and only once', async () => {
    const clock = new SimulatedClock(1_000_000);
    const a = reminders(clock, 100);
    const sent: [number, unknown][] = [];
    await a.r.add(ADDRESS, 1_000_250, { n: 1 });
    a.r.start((address, body) => sent.push([clock.now(), body]));
    // polls at +100 and +200: not due yet
    await clock.advance(200);
    await redis.ping(); // the polls' commands have come back (one connection: in order)
    expect(sent).toEqual([]);
    // the poll at +300 takes it
    await clock.advance(100);
    await until(() => sent.length === 1);
    expect(sent).toEqual([[1_000_300, { n: 1 }]]);
    await clock.advance(500);
    await redis.ping();
    expect(sent).toHaveLength(1);
    expect(a.logged).toEqual([]);
  });

  it('polls no more once closed', async () => {
    const clock = new SimulatedClock(1_000_000);
    const a = reminders(clock, 100);
    const sent: unknown[] = [];
    a.r.start((_address, body) => sent.push(body));
    a.r.close();
    expect(clock.pending).toBe(0);
    await a.r.add(ADDRESS, 1_000_050, 'x');
    await clock.advance(1_000);
    expect(sent).toEqual([]);
  });
});
