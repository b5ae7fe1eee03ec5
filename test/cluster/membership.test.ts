/**
 * Membership (runtime/cluster/membership.ts) against a real Redis, its timers on a simulated
 * clock: it beats every heartbeatMs of that clock, and a node whose name a live heartbeat holds
 * retries its join every 250 ms until ttlMs + heartbeatMs have passed.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Membership, NameTakenError, type MemberRecord } from '../../runtime/cluster/membership.ts';
import { clusterKeys } from '../../runtime/cluster/keys.ts';
import { SimulatedClock } from '../../testing.ts';
import { client, clusterName, dropCluster } from '../../bench/cluster/redis.ts';
import { until } from '../support/until.ts';

const redis = client();
const subs: ReturnType<typeof client>[] = [];
const names: string[] = [];
const members: Membership[] = [];
afterEach(async () => {
  for (const m of members.splice(0)) m.stop();
  for (const s of subs.splice(0)) s.disconnect();
  for (const n of names.splice(0)) await dropCluster(n);
});
afterAll(() => redis.disconnect());

function member(clock: SimulatedClock, load: () => number) {
  const name = clusterName();
  names.push(name);
  const sub = client();
  subs.push(sub);
  const keys = clusterKeys(name);
  const m = new Membership(
    redis,
    sub,
    keys,
    { node: 'n1', url: () => 'ws://127.0.0.1:1', load },
    { heartbeatMs: 1_000, ttlMs: 3_000, clock },
    { joined: () => undefined, left: () => undefined, lost: () => undefined, log: () => undefined },
  );
  members.push(m);
  return { m, keys };
}

/**
 * Lets a beat that has started end: it is three round trips on the one connection (the beat,
 * then the sweep's two reads, each sent when the one before answers), so four pings in a row
 * answer after it.
 */
async function beaten(): Promise<void> {
  for (let i = 0; i < 4; i++) await redis.ping();
}

async function record(keys: ReturnType<typeof clusterKeys>): Promise<MemberRecord> {
  return JSON.parse((await redis.hget(keys.members, 'n1'))!) as MemberRecord;
}

describe('membership on a simulated clock', () => {
  it('beats every heartbeatMs: each beat writes the record anew', async () => {
    const clock = new SimulatedClock();
    let load = 1;
    const { m, keys } = member(clock, () => load);
    await m.join();
    expect((await record(keys)).load).toBe(1);
    load = 2;
    await clock.advance(999);
    await beaten();
    expect((await record(keys)).load).toBe(1);
    await clock.advance(1);
    await beaten();
    expect((await record(keys)).load).toBe(2);
    load = 3;
    await clock.advance(1_000);
    await beaten();
    expect((await record(keys)).load).toBe(3);
  });

  it('retries a join while a live heartbeat holds its name, and gives up after ttlMs + heartbeatMs', async () => {
    const clock = new SimulatedClock();
    const { m, keys } = member(clock, () => 0);
    // a namesake's heartbeat, there for good
    await redis.set(keys.heartbeat('n1'), 'someone-else');
    let outcome: unknown = null;
    m.join().then(
      () => (outcome = 'joined'),
      (e: unknown) => (outcome = e),
    );
    // each retry waits 250 ms on the clock; the join still tries at 4,000 (not past it yet)
    for (let t = 0; t <= 4_000; t += 250) {
      await until(() => clock.pending === 1);
      expect(outcome).toBeNull();
      await clock.advance(250);
    }
    await until(() => outcome !== null);
    expect(outcome).toBeInstanceOf(NameTakenError);
  });

  it('joins once the namesake’s heartbeat is gone', async () => {
    const clock = new SimulatedClock();
    const { m, keys } = member(clock, () => 0);
    await redis.set(keys.heartbeat('n1'), 'someone-else');
    let joined = false;
    void m.join().then(() => (joined = true));
    await until(() => clock.pending === 1);
    await clock.advance(250);
    await until(() => clock.pending === 1);
    await redis.del(keys.heartbeat('n1'));
    expect(joined).toBe(false);
    await clock.advance(250);
    await until(() => joined);
    expect(await redis.get(keys.heartbeat('n1'))).toBe(m.incarnation());
  });
});
