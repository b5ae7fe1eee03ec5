/**
 * A cluster under faults, nodes in processes of their own: a node paused (SIGSTOP) past its
 * TTL loses its entities and cannot write over their new owner (fencing); Redis restarted
 * under the cluster (a private redis-server on a free port, with an append-only file so what
 * it acknowledged survives); a node leaving gracefully (SIGTERM) under load loses no entity.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { clusterName } from '../../bench/cluster/redis.ts';
import { askUntil, cleanup, startNode, type ClusterNode } from '../../bench/cluster/nodes.ts';

afterEach(() => cleanup());

const keysOf = (n: number, p = 'k') => Array.from({ length: n }, (_, i) => `${p}${i}`);

/** Where each key's entity lives, by asking it through `via` (adds `n` to each). */
async function placeAll(via: ClusterNode, keys: string[], n: number): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  for (const k of keys) where.set(k, (await via.ask(k, { type: 'add', n })).node);
  return where;
}

describe('a cluster under faults', () => {
  it('a node paused past its TTL loses its entities: they move, and its stale state is never written or seen', async () => {
    const cluster = clusterName();
    const [a, b, c] = await Promise.all(['n1', 'n2', 'n3'].map((n) => startNode(n, cluster)));
    const keys = keysOf(30);
    const where = await placeAll(a!, keys, 5);
    const paused = [...where].filter(([, n]) => n === 'n3').map(([k]) => k);
    expect(paused.length).toBeGreaterThan(0);
    c!.child.kill('SIGSTOP');
    try {
      // past its TTL (3 s): its entities come back elsewhere, from their snapshots
      for (const k of paused) {
        const r = await askUntil(a!, k, { type: 'add', n: 100 }, 12_000);
        expect(r.node).not.toBe('n3');
        expect(r.sum).toBe(105);
      }
      // the paused node's own ask waits for it in its channel
      const stale = c!.ask(paused[0]!, { type: 'add', n: 1_000 }, 5_000).catch(() => null);
      c!.child.kill('SIGCONT');
      await stale;
    } finally {
      c!.child.kill('SIGCONT');
    }
    // whatever n3 did with its old activation (a write fenced off, or dropped on finding its
    // heartbeat gone), the state is the new owner's: 105, plus 1,000 at most once if n3's ask
    // went on to the new owner
    for (const k of paused) {
      const r = await askUntil(b!, k, { type: 'get' }, 10_000);
      expect(r.node).not.toBe('n3');
      expect(k === paused[0] ? [105, 1_105] : [105]).toContain(r.sum);
    }
    // n3 is a member again (a new incarnation) and serves asks, answered by the owners
    const again = await askUntil(c!, paused[0]!, { type: 'get' }, 10_000);
    expect(again.node).not.toBe('n3');
  }, 60_000);

  it('survives Redis restarting under it: nodes reconnect and resume, acknowledged snapshots are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-redis-'));
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const startRedis = async (): Promise<ChildProcess> => {
      const r = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      );
      const probe = new Redis(url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      for (let i = 0; ; i++) {
        try {
          await probe.connect();
          await probe.ping();
          break;
        } catch {
          if (i > 100) throw new Error('redis-server did not start');
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      probe.disconnect();
      return r;
    };
    let redis = await startRedis();
    try {
      const cluster = clusterName();
      const [a, b] = await Promise.all(
        ['n1', 'n2'].map((n) => startNode(n, cluster, { redis: url })),
      );
      const keys = keysOf(20);
      await placeAll(a!, keys, 7);
      // Redis dies (every acknowledged write was fsynced) and comes back on the same port
      redis.kill('SIGKILL');
      await new Promise((res) => redis.once('exit', res));
      await new Promise((res) => setTimeout(res, 500));
      redis = await startRedis();
      // the nodes reconnect; every entity answers with what was acknowledged, and takes more
      for (const k of keys) {
        const r = await askUntil(b!, k, { type: 'add', n: 1 }, 15_000);
        expect(r.sum).toBe(8);
      }
      for (const k of keys) expect((await askUntil(a!, k, { type: 'get' }, 10_000)).sum).toBe(8);
      await cleanup(url);
    } finally {
      redis.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a node leaving on SIGTERM under load hands its entities over: none lost, every acknowledged add kept', async () => {
    const cluster = clusterName();
    const [a, b, c] = await Promise.all(['n1', 'n2', 'n3'].map((n) => startNode(n, cluster)));
    const keys = keysOf(30);
    await placeAll(a!, keys, 1);
    const acked = new Map(keys.map((k) => [k, 1]));
    const tried = new Map(keys.map((k) => [k, 1]));
    let load = true;
    const loaders = [a!, b!].map(async (n) => {
      while (load)
        await Promise.all(
          keys.map(async (k) => {
            tried.set(k, tried.get(k)! + 1);
            try {
              await n.ask(k, { type: 'add', n: 1 }, 5_000);
              acked.set(k, acked.get(k)! + 1);
            } catch {
              // not acknowledged: may or may not have been applied
            }
          }),
        );
    });
    await new Promise((r) => setTimeout(r, 300));
    c!.child.kill('SIGTERM');
    expect(await c!.exited).toBe(0); // passivated, left, exited
    await new Promise((r) => setTimeout(r, 300));
    load = false;
    await Promise.all(loaders);
    for (const k of keys) {
      const r = await askUntil(a!, k, { type: 'get' }, 10_000);
      expect(r.node).not.toBe('n3');
      expect(r.sum).toBeGreaterThanOrEqual(acked.get(k)!);
      expect(r.sum).toBeLessThanOrEqual(tried.get(k)!);
    }
  }, 60_000);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
