/**
 * Options of createSystem and spawn: their defaults in one place and one small validator per
 * field. A bad option throws InvalidOptionError naming its path (`options.mailbox.capacity`)
 * and the value given; an unknown option is refused the same way (a typo must not be ignored).
 */
import { extensionList, type Extension } from './core/extension.ts';
import { resolveNodesOptions, type NodesOptions } from './nodes/options.ts';
import {
  resolveGatewayOptions,
  type GatewayOptions,
  type ResolvedGatewayOptions,
} from './gateway/options.ts';
import {
  resolveClusterOptions,
  type ClusterOptions,
  type ResolvedCluster,
} from './cluster/options.ts';
import type { NetOptions } from './nodes/net.ts';
import { InvalidOptionError } from './core/error.ts';
import {
  DEFAULT_MAILBOX_CAPACITY,
  OVERFLOW_POLICIES,
  type MailboxOptions,
  type OverflowPolicy,
} from './core/mailbox.ts';
import { ASK_TIMEOUT_MS } from './core/ask.ts';
import { DEAD_LETTER_HISTORY } from './core/dead-letters.ts';
import { validateNodeId, type NodeId } from '../protocol/address.ts';
import type { Clock } from './core/clock.ts';
import type { Logger } from './core/logger.ts';
import type { PersistenceOptions, PersistenceStore } from './core/persistence.ts';
import type { TracerProvider } from '@opentelemetry/api';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ShardLimits } from './shards/node.ts';
import {
  OFFLOAD_IDLE_TIMEOUT_MS,
  OFFLOAD_MAX_QUEUE,
  OFFLOAD_MAX_THREADS,
  OFFLOAD_TIMEOUT_MS,
  type OffloadOptions,
  type ResolvedOffloadOptions,
} from './core/offload.ts';

/** Messages an actor handles per turn before the scheduler moves to the next actor. */
export const DEFAULT_THROUGHPUT = 64;
/** Milliseconds an actor gets to stop (children, then its stop hook) before it is killed. */
export const DEFAULT_SHUTDOWN_MS = 5_000;
/** Longest a scheduler turn runs before yielding to the event loop, in milliseconds. */
export const DEFAULT_TIME_SLICE_MS = 10;

export interface SystemOptions {
  /** This node's id, the host part of addresses. Default `local`. */
  readonly nodeId?: string;
  /** Time source for timers, deadlines and the scheduler's slice. Default: the real clock. */
  readonly clock?: Clock;
  /** Messages per actor per turn (fairness). Default DEFAULT_THROUGHPUT (64). */
  readonly throughput?: number;
  /** Milliseconds a scheduler turn may run before yielding. Default DEFAULT_TIME_SLICE_MS (10). */
  readonly timeSliceMs?: number;
  /** Default ask deadline in milliseconds. Default ASK_TIMEOUT_MS (5,000). */
  readonly askTimeoutMs?: number;
  /** Default mailbox of every actor. */
  readonly mailbox?: MailboxOptions;
  /** Recent dead letters kept for inspection. Default DEAD_LETTER_HISTORY (256). */
  readonly deadLetterHistory?: number;
  readonly logger?: Logger;
  /** Tracer provider; default: the globally registered one, if any. */
  readonly tracerProvider?: TracerProvider;
  /** The offload pool's limits (runtime/core/offload.ts). */
  readonly offload?: OffloadOptions;
  /**
   * Threads that run actors, the main thread being shard 0 (runtime/shards/node.ts); `'auto'`:
   * the machine's available parallelism. Default 1: every actor on the main thread.
   */
  readonly shards?: number | 'auto';
  /**
   * A module each worker shard imports before its actors start (a file URL or an absolute
   * path): register a tracer provider there, or anything else a thread needs.
   */
  readonly shardSetup?: string | URL;
  /**
   * Memory limits of each worker shard's thread, in MB (Node's Worker `resourceLimits`): a
   * shard past them dies (runtime/shards/node.ts says what follows). Default: Node's.
   */
  readonly shardLimits?: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
  };
  /**
   * This node among nodes (runtime/nodes): its name (the node id) and where it listens; with
   * `peers` (the nodes it dials), the cluster's `secret`, `tls` and `link` tuning. See
   * runtime/nodes/options.ts.
   */
  readonly node?: NodesOptions['node'];
  readonly peers?: NodesOptions['peers'];
  readonly secret?: NodesOptions['secret'];
  readonly tls?: NodesOptions['tls'];
  readonly link?: NodesOptions['link'];
  /**
   * A cluster on Redis (runtime/cluster): membership, the entities' directory and snapshots.
   * Needs `node` and `secret`. See runtime/cluster/options.ts.
   */
  readonly cluster?: ClusterOptions;
  /**
   * The client gateway (runtime/gateway): a WebSocket endpoint where browser and server apps
   * watch actors and talk to them. Needs `authenticate` and `authorize`. See
   * runtime/gateway/options.ts.
   */
  readonly gateway?: GatewayOptions;
  /**
   * Extensions made at start, in this order (runtime/core/extension.ts): `defineExtension(…)`
   * values; any other is reached later with `system.extension(ext)`.
   */
  readonly extensions?: readonly Extension<unknown>[];
}

export interface SpawnOptions {
  /** The actor's name, unique among its siblings. Default: a generated `$<n>`. */
  readonly name?: string;
  readonly mailbox?: MailboxOptions;
  /** Keep a snapshot after each message and start from it (runtime/core/persistence.ts). */
  readonly persistence?: PersistenceOptions;
  /**
   * Milliseconds it gets to stop (its children, then its stop hook) before what is left is
   * killed; `Infinity` waits as long as it takes; `brutal` kills at once, no hook. Default:
   * the behaviour's `defaultShutdownMs` (Infinity for supervisors), else DEFAULT_SHUTDOWN_MS.
   */
  readonly shutdown?: number | 'brutal';
  /**
   * The shard to run the actor on (runtime/shards/router.ts): a shard id (0: the main thread;
   * another needs a portable behaviour), `'least-loaded'` (the live shard with the fewest
   * placed actors) or `'round-robin'`. Default: for `system.spawn`, portable behaviours
   * round-robin and others on the main thread; for a child, its parent's shard.
   */
  readonly shard?: ShardChoice;
}

/** Where to place an actor: a shard id, or a policy. */
export type ShardChoice = number | 'least-loaded' | 'round-robin';

export interface ResolvedMailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
}

export interface ResolvedSystemOptions {
  readonly nodeId: NodeId;
  readonly clock: Clock | undefined;
  readonly throughput: number;
  readonly timeSliceMs: number;
  readonly askTimeoutMs: number;
  readonly mailbox: ResolvedMailbox;
  readonly deadLetterHistory: number;
  readonly logger: Logger | undefined;
  readonly tracerProvider: TracerProvider | undefined;
  readonly offload: ResolvedOffloadOptions;
  readonly shards: number;
  readonly shardSetup: string | undefined;
  readonly shardLimits: ShardLimits | undefined;
  /** The node's links (null: a node alone). */
  readonly nodes: NetOptions | null;
  /** The cluster on Redis (null: none; entities on this node alone). */
  readonly cluster: ResolvedCluster | null;
  /** The client gateway (null: none). */
  readonly gateway: ResolvedGatewayOptions | null;
  readonly extensions: readonly Extension<unknown>[];
}

function plainObject(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidOptionError(field, v, 'an object');
  return v as Record<string, unknown>;
}

function onlyKnown(field: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!known.includes(k))
      throw new InvalidOptionError(
        `${field}.${k}`,
        o[k],
        `absent (unknown option; known: ${known.join(', ')})`,
      );
}

export function positiveInteger(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new InvalidOptionError(field, v, 'a positive integer');
  return v;
}

export function nonNegativeNumber(field: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || v === Infinity)
    throw new InvalidOptionError(field, v, 'a finite number ≥ 0');
  return v;
}

function capacity(field: string, v: unknown): number {
  if (v === Infinity) return v;
  return positiveInteger(field, v);
}

function overflow(field: string, v: unknown): OverflowPolicy {
  if (!(OVERFLOW_POLICIES as readonly unknown[]).includes(v))
    throw new InvalidOptionError(field, v, `one of ${OVERFLOW_POLICIES.join(', ')}`);
  return v as OverflowPolicy;
}

function withMethods(field: string, v: unknown, methods: readonly string[]): void {
  const o = plainOrInstance(field, v);
  for (const m of methods)
    if (typeof o[m] !== 'function')
      throw new InvalidOptionError(`${field}.${m}`, o[m], 'a function');
}

function plainOrInstance(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null) throw new InvalidOptionError(field, v, 'an object');
  return v as Record<string, unknown>;
}

export function resolveMailbox(
  field: string,
  v: unknown,
  defaults: ResolvedMailbox,
): ResolvedMailbox {
  if (v === undefined) return defaults;
  const o = plainObject(field, v);
  onlyKnown(field, o, ['capacity', 'overflow']);
  return {
    capacity:
      o.capacity === undefined ? defaults.capacity : capacity(`${field}.capacity`, o.capacity),
    overflow:
      o.overflow === undefined ? defaults.overflow : overflow(`${field}.overflow`, o.overflow),
  };
}

/** `offload`: the pool's limits (runtime/core/offload.ts), defaults merged first. */
function resolveOffloadOptions(v: unknown): ResolvedOffloadOptions {
  const defaults: ResolvedOffloadOptions = {
    maxThreads: OFFLOAD_MAX_THREADS,
    maxQueue: OFFLOAD_MAX_QUEUE,
    timeoutMs: OFFLOAD_TIMEOUT_MS,
    idleTimeoutMs: OFFLOAD_IDLE_TIMEOUT_MS,
  };
  if (v === undefined) return defaults;
  const o = plainObject('options.offload', v);
  onlyKnown('options.offload', o, Object.keys(defaults));
  const int = (k: 'maxThreads' | 'maxQueue', min: number): number => {
    const x = o[k];
    if (x === undefined) return defaults[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min)
      throw new InvalidOptionError(`options.offload.${k}`, x, `an integer ≥ ${min}`);
    return x;
  };
  const ms = (k: 'timeoutMs' | 'idleTimeoutMs'): number => {
    const x = o[k];
    if (x === undefined) return defaults[k];
    if (x === Infinity) return x;
    if (typeof x !== 'number' || Number.isNaN(x) || x <= 0)
      throw new InvalidOptionError(`options.offload.${k}`, x, 'a number of milliseconds > 0');
    return x;
  };
  return {
    maxThreads: int('maxThreads', 1),
    maxQueue: int('maxQueue', 0),
    timeoutMs: ms('timeoutMs'),
    idleTimeoutMs: ms('idleTimeoutMs'),
  };
}

/** `shards`: a count from 1 to 256, or 'auto' (the machine's available parallelism). */
function resolveShards(v: unknown): number {
  if (v === undefined) return 1;
  if (v === 'auto') return availableParallelism();
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 256)
    throw new InvalidOptionError('options.shards', v, "an integer from 1 to 256, or 'auto'");
  return v;
}

/** `shardSetup`: a file URL. */
function resolveShardSetup(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v instanceof URL && v.protocol === 'file:') return v.href;
  if (typeof v === 'string' && v.startsWith('file:')) return v;
  if (typeof v === 'string' && isAbsolute(v)) return pathToFileURL(v).href;
  throw new InvalidOptionError('options.shardSetup', v, 'a file URL or an absolute path');
}

/** `shardLimits`: MB > 0 for each limit given. */
function resolveShardLimits(v: unknown): ShardLimits | undefined {
  if (v === undefined) return undefined;
  const o = plainObject('options.shardLimits', v);
  onlyKnown('options.shardLimits', o, ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb']);
  for (const [k, x] of Object.entries(o))
    if (x !== undefined && (typeof x !== 'number' || !Number.isFinite(x) || x <= 0))
      throw new InvalidOptionError(`options.shardLimits.${k}`, x, 'a number of MB > 0');
  return o as ShardLimits;
}

export function resolveSystemOptions(v: unknown): ResolvedSystemOptions {
  const o = v === undefined ? {} : plainObject('options', v);
  onlyKnown('options', o, [
    'nodeId',
    'clock',
    'throughput',
    'timeSliceMs',
    'askTimeoutMs',
    'mailbox',
    'deadLetterHistory',
    'logger',
    'tracerProvider',
    'offload',
    'shards',
    'shardSetup',
    'shardLimits',
    'node',
    'peers',
    'secret',
    'tls',
    'link',
    'cluster',
    'gateway',
    'extensions',
  ]);
  const nodes = resolveNodesOptions(o, o.nodeId as string | undefined);
  const cluster = resolveClusterOptions(o.cluster, nodes !== null);
  let nodeId: NodeId;
  try {
    nodeId = validateNodeId(nodes?.link.node ?? (o.nodeId === undefined ? 'local' : o.nodeId));
  } catch {
    throw new InvalidOptionError(
      'options.nodeId',
      o.nodeId,
      'letters, digits, "-", "_", "." or ":"',
    );
  }
  if (o.clock !== undefined)
    withMethods('options.clock', o.clock, ['now', 'setTimeout', 'clearTimeout']);
  if (o.logger !== undefined) withMethods('options.logger', o.logger, ['info', 'warn', 'error']);
  if (o.tracerProvider !== undefined)
    withMethods('options.tracerProvider', o.tracerProvider, ['getTracer']);
  return {
    nodeId,
    nodes,
    cluster,
    gateway: o.gateway === undefined ? null : resolveGatewayOptions(o.gateway),
    extensions: extensionList(o.extensions),
    clock: o.clock as Clock | undefined,
    throughput:
      o.throughput === undefined
        ? DEFAULT_THROUGHPUT
        : positiveInteger('options.throughput', o.throughput),
    timeSliceMs:
      o.timeSliceMs === undefined
        ? DEFAULT_TIME_SLICE_MS
        : nonNegativeNumber('options.timeSliceMs', o.timeSliceMs),
    askTimeoutMs:
      o.askTimeoutMs === undefined
        ? ASK_TIMEOUT_MS
        : nonNegativeNumber('options.askTimeoutMs', o.askTimeoutMs),
    mailbox: resolveMailbox('options.mailbox', o.mailbox, {
      capacity: DEFAULT_MAILBOX_CAPACITY,
      overflow: 'drop-newest',
    }),
    deadLetterHistory:
      o.deadLetterHistory === undefined
        ? DEAD_LETTER_HISTORY
        : o.deadLetterHistory === 0
          ? 0
          : positiveInteger('options.deadLetterHistory', o.deadLetterHistory),
    logger: o.logger as Logger | undefined,
    tracerProvider: o.tracerProvider as TracerProvider | undefined,
    offload: resolveOffloadOptions(o.offload),
    shards: resolveShards(o.shards),
    shardSetup: resolveShardSetup(o.shardSetup),
    shardLimits: resolveShardLimits(o.shardLimits),
  };
}

export interface ResolvedSpawnOptions {
  readonly name: string | undefined;
  readonly mailbox: ResolvedMailbox;
  readonly persistence: {
    readonly store: PersistenceStore;
    readonly key: string | undefined;
  } | null;
  readonly shutdown: number | 'brutal' | undefined;
  readonly shard: ShardChoice | undefined;
}

/** What `shard` must be. */
export const SHARD_CHOICE = "a shard id (an integer ≥ 0), 'least-loaded' or 'round-robin'";

/** An id ≥ 0 (checked against the system's shards at spawn) or a policy. */
export function isShardChoice(v: unknown): v is ShardChoice {
  return (
    v === 'least-loaded' ||
    v === 'round-robin' ||
    (typeof v === 'number' && Number.isInteger(v) && v >= 0)
  );
}

function shardChoice(field: string, v: unknown): ShardChoice {
  if (!isShardChoice(v)) throw new InvalidOptionError(field, v, SHARD_CHOICE);
  return v;
}

const NO_SPAWN_OPTIONS: Record<string, unknown> = {};

export function resolveSpawnOptions(v: unknown, defaults: ResolvedMailbox): ResolvedSpawnOptions {
  const o = v === undefined ? NO_SPAWN_OPTIONS : plainObject('options', v);
  if (o === NO_SPAWN_OPTIONS)
    return {
      name: undefined,
      mailbox: defaults,
      persistence: null,
      shutdown: undefined,
      shard: undefined,
    };
  onlyKnown('options', o, ['name', 'mailbox', 'persistence', 'shutdown', 'shard']);
  let persistence: ResolvedSpawnOptions['persistence'] = null;
  if (o.persistence !== undefined) {
    const p = plainObject('options.persistence', o.persistence);
    onlyKnown('options.persistence', p, ['store', 'key']);
    withMethods('options.persistence.store', p.store, ['load', 'save']);
    if (p.key !== undefined && (typeof p.key !== 'string' || p.key.length === 0))
      throw new InvalidOptionError('options.persistence.key', p.key, 'a non-empty string');
    persistence = { store: p.store as PersistenceStore, key: p.key };
  }
  if (o.name !== undefined && typeof o.name !== 'string')
    throw new InvalidOptionError('options.name', o.name, 'a string');
  return {
    name: o.name,
    mailbox: resolveMailbox('options.mailbox', o.mailbox, defaults),
    persistence,
    shutdown: o.shutdown === undefined ? undefined : shutdown('options.shutdown', o.shutdown),
    shard: o.shard === undefined ? undefined : shardChoice('options.shard', o.shard),
  };
}

export function shutdown(field: string, v: unknown): number | 'brutal' {
  if (v === 'brutal' || v === Infinity) return v;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0)
    throw new InvalidOptionError(field, v, "a number of milliseconds ≥ 0, Infinity or 'brutal'");
  return v;
}
