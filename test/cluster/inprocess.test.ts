/**
 * Two cluster nodes in this process (Redis: the machine's): a message for an entity on the
 * other node that is too big for a frame is a dead letter with its reason, and the node goes
 * on serving (it once rerouted such a message onto the same link without end).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSystem,
  fromReceive,
  type ActorRef,
  type ActorSystem,
  type DeadLetter,
} from '../../index.ts';
import { clusterName, dropCluster, REDIS_URL } from '../../bench/cluster/redis.ts';
import { until } from '../support/until.ts';

const SECRET = 'in-process-cluster-secret';
const systems: ActorSystem[] = [];
const clusters: string[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
  for (const c of clusters.splice(0)) await dropCluster(c);
});

type Msg = { type: 'add'; n: number; pad?: string } | { type: 'get' };
const tally = fromReceive<number, Msg, number>(
  0,
  (sum, m, ctx) => {
    if (m.type === 'add') return sum + m.n;
    ctx.reply(sum);
    return sum;
  },
  { persist: (s) => s, restore: (s) => s as number },
);

async function node(name: string, cluster: string): Promise<ActorSystem> {
  const s = createSystem({
    node: { name },
    secret: SECRET,
    link: { maxFrameBytes: 100_000 },
    cluster: { redis: REDIS_URL, name: cluster, heartbeatMs: 500, leaveOnSigterm: false },
  });
  systems.push(s);
  s.define('tally', tally);
  await s.nodeReady;
  return s;
}

describe('a cluster in one process', () => {
  it('dead-letters a message for a remote entity that is too big for a frame, and goes on', async () => {
    const cluster = clusterName();
    clusters.push(cluster);
    const a = await node('a', cluster);
    const b = await node('b', cluster);
    await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'), 5_000);
    // an entity that lives on b, reached from a
    let key = '';
    for (let i = 0; key === '' && i < 100; i++) {
      const e = a.entity('tally', `k${i}`) as ActorRef<Msg, number>;
      await e.ask({ type: 'get' });
      if (b.entities.activeCount > 0 && a.entities.activeCount === 0) key = `k${i}`;
      else if (a.entities.activeCount > 0)
        await a.entities.passivate(a.entity('tally', `k${i}`).address as never);
    }
    expect(key).not.toBe('');
    const dead: DeadLetter[] = [];
    a.deadLetters.subscribe((d) => dead.push(d));
    const e = a.entity('tally', key) as ActorRef<Msg, number>;
    e.tell({ type: 'add', n: 1, pad: 'x'.repeat(200_000) });
    await until(() => dead.length === 1, 5_000);
    expect(dead[0]!.reason).toBe('node-unreachable');
    expect(String(dead[0]!.error)).toMatch(/frame cap/);
    e.tell({ type: 'add', n: 2 });
    expect(await e.ask({ type: 'get' }, { timeout: 5_000 })).toBe(2);
  }, 30_000);
});
