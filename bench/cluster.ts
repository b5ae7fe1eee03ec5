/**
 * A cluster on Redis (issue 8): implementation `troupe:receive@3nodes`. Each run starts three
 * node processes (bench/cluster/node.ts) in a fresh cluster on the machine's Redis
 * (REDIS_URL, default redis://127.0.0.1:6379), measures, stops them and deletes the
 * cluster's keys. Without a reachable Redis these benchmarks are not run (bench/main.ts
 * says so).
 *
 *   entity-activate  every node sends the first message (an ask) to a third of `entities`
 *                    new entities, `window` asks in flight per node, all three at once;
 *                    placement spreads them over the three nodes, so most first messages
 *                    cross a link. msgs/s is **activations per second** (entities over the
 *                    wall time until every node had all its answers); the run checks in
 *                    Redis that each entity was activated exactly once
 *   failover         30 entities placed over the three nodes; then, `kills` times: a node
 *                    holding one of them is killed with SIGKILL, and the time until that
 *                    entity answers from another node (asked every 100 ms, 250 ms timeout)
 *                    is one sample; a new node joins in its place. p50Us/p99Us are
 *                    percentiles of those times; msgs/s is kills per second of the run. The
 *                    default TTL (3 s) bounds it from below
 */
import { Redis } from 'ioredis';
import { clusterKeys } from '../runtime/cluster/keys.ts';
import { expectCount, percentile, secondsSince, type Benchmark, type Sample } from './harness.ts';
import { cleanup, startNode } from './cluster/nodes.ts';
import { clusterName, REDIS_URL } from './cluster/redis.ts';

export interface EntityActivateParams {
  readonly entities: number;
  /** Asks in flight per node. */
  readonly window: number;
}

async function entityActivate({ entities, window }: EntityActivateParams): Promise<Sample> {
  const cluster = clusterName();
  try {
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((n) => startNode(n, cluster)));
    const keys = Array.from({ length: entities }, (_, i) => `e${i}`);
    const t0 = performance.now();
    await Promise.all(
      nodes.map((n, i) =>
        n.activate(
          keys.filter((_, j) => j % nodes.length === i),
          window,
        ),
      ),
    );
    const seconds = secondsSince(t0);
    const redis = new Redis(REDIS_URL);
    try {
      const counts = Object.values(await redis.hgetall(clusterKeys(cluster).activations));
      expectCount('entities activated', counts.length, entities);
      expectCount('activations of each entity', counts.filter((c) => c !== '1').length, 0);
    } finally {
      redis.disconnect();
    }
    return { messages: entities, seconds };
  } finally {
    await cleanup();
  }
}

export const entityActivateBench: Benchmark<EntityActivateParams> = {
  name: 'entity-activate',
  describe: (p) =>
    `${p.entities.toLocaleString('en')} entities activated by their first message, across 3 nodes`,
  unit: 'activations/s',
  params: { full: { entities: 20_000, window: 256 }, quick: { entities: 2_000, window: 256 } },
  scale: (p, f) => ({ entities: Math.max(3, Math.round(p.entities * f)), window: p.window }),
  impls: { 'troupe:receive@3nodes': entityActivate },
};

export interface FailoverParams {
  readonly kills: number;
}

async function failover({ kills }: FailoverParams): Promise<Sample> {
  const cluster = clusterName();
  try {
    let spare = 3;
    const driver = await startNode('n0', cluster);
    const others = await Promise.all(['n1', 'n2'].map((n) => startNode(n, cluster)));
    const keys = Array.from({ length: 30 }, (_, i) => `f${i}`);
    const times = new Float64Array(kills);
    const t0 = performance.now();
    for (let i = 0; i < kills; i++) {
      // where each entity is now (asked through the driver, which is never killed)
      const where = new Map<string, string>();
      for (const k of keys) where.set(k, (await driver.ask(k, { type: 'add', n: 1 })).node);
      const victim = others.find((n) => [...where.values()].includes(n.name));
      if (victim === undefined) throw new Error('no entity on a node that may be killed');
      const key = keys.find((k) => where.get(k) === victim.name)!;
      const killed = performance.now();
      victim.child.kill('SIGKILL');
      for (;;) {
        const r = await driver.ask(key, { type: 'get' }, 250).catch(() => null);
        if (r !== null && r.node !== victim.name) break;
        if (performance.now() - killed > 30_000)
          throw new Error(`${key} did not come back within 30 s`);
        await new Promise((res) => setTimeout(res, 100));
      }
      times[i] = (performance.now() - killed) * 1000;
      others.splice(others.indexOf(victim), 1, await startNode(`n${spare++}`, cluster));
    }
    const seconds = secondsSince(t0);
    return {
      messages: kills,
      seconds,
      p50Us: Math.round(percentile(times, 50)),
      p99Us: Math.round(percentile(times, 99)),
    };
  } finally {
    await cleanup();
  }
}

export const failoverBench: Benchmark<FailoverParams> = {
  name: 'failover',
  describe: (p) => `${p.kills} nodes killed (SIGKILL), each until its entity answers elsewhere`,
  unit: 'kills/s',
  params: { full: { kills: 10 }, quick: { kills: 2 } },
  impls: { 'troupe:receive@3nodes': failover },
};

/** The benchmarks that need Redis. */
export const CLUSTER_BENCHMARKS: readonly string[] = ['entity-activate', 'failover'];
