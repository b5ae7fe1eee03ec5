/**
 * The `cluster` option, checked at `createSystem`, naming the field:
 *
 *   createSystem({
 *     node: { name: 'a', listen: 7400, advertise: 'ws://10.0.0.1:7400' },
 *     secret: process.env.TROUPE_SECRET,
 *     cluster: {
 *       redis: 'redis://127.0.0.1:6379',   // or ioredis options
 *       name: 'swarm',                      // the cluster (its keys' hash tag)
 *       heartbeatMs: 1_000,                 // membership heartbeat
 *       ttlMs: 3_000,                       // a node not heard from for this long is down
 *       commandTimeoutMs: 1_000,            // Redis commands fail after this
 *       leaveOnSigterm: true,               // SIGTERM: passivate, leave, exit
 *     },
 *   });
 */
import { InvalidOptionError } from '../core/index.ts';
import { isClusterName } from './keys.ts';
import type { ClusterSettings } from './cluster.ts';

export const DEFAULT_CLUSTER_HEARTBEAT_MS = 1_000;
export const DEFAULT_CLUSTER_TTL_MS = 3_000;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1_000;

export interface ClusterOptions {
  readonly redis: string | Record<string, unknown>;
  readonly name: string;
  readonly heartbeatMs?: number;
  readonly ttlMs?: number;
  readonly commandTimeoutMs?: number;
  readonly leaveOnSigterm?: boolean;
}

export interface ResolvedCluster extends ClusterSettings {
  readonly leaveOnSigterm: boolean;
}

const KEYS = ['redis', 'name', 'heartbeatMs', 'ttlMs', 'commandTimeoutMs', 'leaveOnSigterm'];

export function resolveClusterOptions(
  v: unknown,
  hasNode: boolean,
  p = 'options.cluster',
): ResolvedCluster | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidOptionError(p, v, 'an object');
  if (!hasNode)
    throw new InvalidOptionError(
      p,
      v,
      p === p ? 'given only with options.node (and options.secret)' : 'given with nodes(…)',
    );
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!KEYS.includes(k))
      throw new InvalidOptionError(`${p}.${k}`, o[k], `absent (known: ${KEYS.join(', ')})`);
  const redis = o.redis;
  if (
    !(typeof redis === 'string' && /^rediss?:\/\/./.test(redis)) &&
    !(typeof redis === 'object' && redis !== null && !Array.isArray(redis))
  )
    throw new InvalidOptionError(
      `${p}.redis`,
      redis,
      'a redis:// or rediss:// URL, or ioredis options',
    );
  if (!isClusterName(o.name))
    throw new InvalidOptionError(
      `${p}.name`,
      o.name,
      'letters, digits, "-", "_", "." or ":", 1 to 64',
    );
  const ms = (k: string, d: number): number => {
    const x = o[k] ?? d;
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0)
      throw new InvalidOptionError(`${p}.${k}`, x, 'a whole number of milliseconds > 0');
    return x;
  };
  const heartbeatMs = ms('heartbeatMs', DEFAULT_CLUSTER_HEARTBEAT_MS);
  const ttlMs = ms('ttlMs', Math.max(DEFAULT_CLUSTER_TTL_MS, heartbeatMs * 3));
  if (ttlMs < heartbeatMs * 2)
    throw new InvalidOptionError(
      `${p}.ttlMs`,
      ttlMs,
      `at least twice heartbeatMs (${heartbeatMs * 2})`,
    );
  const commandTimeoutMs = ms('commandTimeoutMs', DEFAULT_REDIS_COMMAND_TIMEOUT_MS);
  const leaveOnSigterm = o.leaveOnSigterm ?? true;
  if (typeof leaveOnSigterm !== 'boolean')
    throw new InvalidOptionError(`${p}.leaveOnSigterm`, leaveOnSigterm, 'a boolean');
  return {
    redis: redis as ClusterSettings['redis'],
    name: o.name,
    heartbeatMs,
    ttlMs,
    commandTimeoutMs,
    leaveOnSigterm,
  };
}
