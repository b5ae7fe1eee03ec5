/**
 * Options of createSystem and spawn: their defaults in one place and one small validator per
 * field. A bad option throws InvalidOptionError naming its path (`options.mailbox.capacity`)
 * and the value given; an unknown option is refused the same way (a typo must not be ignored).
 */
import { extensionList, type Extension } from './extension.ts';
import { InvalidOptionError } from './error.ts';
import {
  DEFAULT_MAILBOX_CAPACITY,
  OVERFLOW_POLICIES,
  type MailboxOptions,
  type OverflowPolicy,
} from './mailbox.ts';
import { ASK_TIMEOUT_MS } from './ask.ts';
import { DEAD_LETTER_HISTORY } from './dead-letters.ts';
import { validateNodeId, type NodeId } from '../../protocol/address.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './logger.ts';
import type { PersistenceOptions, PersistenceStore } from './persistence.ts';
import type { TracerProvider } from '@opentelemetry/api';
import {
  OFFLOAD_IDLE_TIMEOUT_MS,
  OFFLOAD_MAX_QUEUE,
  OFFLOAD_MAX_THREADS,
  OFFLOAD_TIMEOUT_MS,
  type OffloadOptions,
  type ResolvedOffloadOptions,
} from './offload.ts';

/** Messages an actor handles per turn before the scheduler moves to the next actor. */
export const DEFAULT_THROUGHPUT = 64;
/** Milliseconds an actor gets to stop (children, then its stop hook) before it is killed. */
export const DEFAULT_SHUTDOWN_MS = 5_000;
/** Longest a scheduler turn runs before yielding to the event loop, in milliseconds. */
export const DEFAULT_TIME_SLICE_MS = 10;

/** The kernel's own options (runtime/options.ts adds the built-in parts' flat ones). */
export interface KernelOptions {
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

export interface ResolvedKernelOptions {
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
  readonly extensions: readonly Extension<unknown>[];
}

export function plainObject(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidOptionError(field, v, 'an object');
  return v as Record<string, unknown>;
}

export function onlyKnown(
  field: string,
  o: Record<string, unknown>,
  known: readonly string[],
): void {
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

export function withMethods(field: string, v: unknown, methods: readonly string[]): void {
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
export function resolveOffloadOptions(v: unknown): ResolvedOffloadOptions {
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

/** The kernel's options' names (a typo must not be ignored). */
export const KERNEL_OPTIONS = [
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
  'extensions',
] as const;

/**
 * The kernel's options, checked, defaults filled in; `known` are the option names accepted
 * (the kernel's, and those of the parts runtime/system.ts builds from flat options).
 */
export function resolveKernelOptions(
  v: unknown,
  known: readonly string[] = KERNEL_OPTIONS,
): ResolvedKernelOptions {
  const o = v === undefined ? {} : plainObject('options', v);
  onlyKnown('options', o, known);
  let nodeId: NodeId;
  try {
    nodeId = validateNodeId(o.nodeId === undefined ? 'local' : o.nodeId);
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
