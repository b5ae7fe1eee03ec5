/**
 * Redis for the cluster tests and benchmarks: the machine's (REDIS_URL, default
 * redis://127.0.0.1:6379), a cluster name unique to each test or run so keys never collide,
 * and a sweep of that cluster's keys afterwards (nothing is left behind).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh cluster name: `t-<random>`. */
export function clusterName(): string {
  return `t-${randomBytes(6).toString('hex')}`;
}

/** Deletes every key of cluster `name` (`troupe:{name}:*`); resolves with how many there were. */
export async function dropCluster(name: string, url = REDIS_URL): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `troupe:{${name}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await r.del(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    r.disconnect();
  }
}

/** A client for a test's own reads. */
export function client(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Whether Redis answers at `url` within `ms`. */
export async function redisReachable(url = REDIS_URL, ms = 1_000): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: ms,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
