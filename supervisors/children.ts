/**
 * A supervisor's children: one record per child spec (static) or per started child
 * (simple-one-for-one), where they are kept, and how one is started.
 *
 * Where they are kept: static children in a list, in spec order (small, and the order is the
 * start and stop order); the children of a simple-one-for-one supervisor in a Map keyed by
 * their name (`<template id>-<n>`, the last segment of their path), in insertion order, which
 * is their start order. An exit or a terminateChild finds its child by the name in the ref's
 * path and forgets it in O(1), however many children the supervisor has (a list scanned per
 * exit made retiring 20,000 children take seconds: bench/savina/supervisor-children.ts).
 *
 * Starting a child calls user code, and user code misbehaves: the factory may throw or return
 * something that is not a behaviour, and `spawn` may refuse (a bad mailbox option, no such
 * shard, a behaviour that is not portable to another shard). `startActor` catches all of it
 * and answers a StartOutcome; a throw never reaches the supervisor's turn. (A behaviour's own
 * `init` runs later, in the child's turn: a throw there is a failure of the child.)
 */
import { TroupeError, describe } from '../runtime/core/error.ts';
import type { ActorPath } from '../protocol/address.ts';
import type { ActorContext } from '../runtime/core/context.ts';
import type { ActorRef } from '../runtime/core/ref.ts';
import type { SpawnOptions } from '../runtime/options.ts';
import type { SupervisionEvent } from '../runtime/core/events.ts';
import { IGNORE, type AnyBehaviour, type ResolvedChildSpec } from './spec.ts';

/**
 * - `running`: its actor is alive (also while the runtime restarts it after a failure).
 * - `halting`: told to halt (a group restart, or a backoff), not halted yet.
 * - `halted`: halted, waiting for the supervisor to start it again.
 * - `terminating`: told to stop (terminateChild, a failed child not restarted, a temporary
 *   child in a group restart), not stopped yet.
 * - `dead`: no actor: it stopped, was ignored, or its start failed.
 */
export type ChildState = 'running' | 'halting' | 'halted' | 'terminating' | 'dead';

/** Why a `terminating` child was told to stop. */
export type StopCause = 'request' | 'failed' | 'group';

export interface Child {
  readonly spec: ResolvedChildSpec;
  /** Path segment: the spec id, or `<template id>-<n>` for dynamic children. */
  readonly name: string;
  readonly arg: unknown;
  readonly dynamic: boolean;
  ref: ActorRef<unknown> | null;
  state: ChildState;
  /**
   * Will not be restarted: terminated by request, ended and not to be restarted, ignored.
   * Pending restarts (a backoff timer, a group restart, a retried start) skip it.
   */
  final: boolean;
  /** Set while `terminating`. */
  stopCause: StopCause | null;
  /** Waits to be started again (backoff, group restart, a retry after a failed start). */
  restarting: boolean;
  /** One-for-one backoff: the delay to wait once the child has halted, else null. */
  backoffMs: number | null;
  /** Who asked terminate-child and waits for the answer. */
  terminateReplies: ActorRef<unknown>[] | null;
}

/** Where a supervisor keeps its children (part of SupervisorState). */
export interface ChildRegistry {
  /** Static children, in spec order. */
  children: Child[];
  /** simple-one-for-one children by name, in start order. */
  readonly dynamic: Map<string, Child>;
}

export function newChild(
  spec: ResolvedChildSpec,
  name: string,
  arg: unknown,
  dynamic: boolean,
): Child {
  return {
    spec,
    name,
    arg,
    dynamic,
    ref: null,
    state: 'dead',
    final: false,
    stopCause: null,
    restarting: false,
    backoffMs: null,
    terminateReplies: null,
  };
}

export function register(r: ChildRegistry, c: Child): void {
  if (c.dynamic) r.dynamic.set(c.name, c);
  else r.children.push(c);
}

export function unregister(r: ChildRegistry, c: Child): void {
  if (c.dynamic) {
    if (r.dynamic.get(c.name) === c) r.dynamic.delete(c.name);
  } else r.children = r.children.filter((x) => x !== c);
}

export function isRegistered(r: ChildRegistry, c: Child): boolean {
  return c.dynamic ? r.dynamic.get(c.name) === c : r.children.includes(c);
}

/** IGNORE: OTP keeps a static child's spec, not running, but not a temporary or dynamic one. */
export function ignored(r: ChildRegistry, c: Child): void {
  c.final = true;
  c.restarting = false;
  if (c.dynamic || c.spec.restart === 'temporary') unregister(r, c);
}

/** A static child by id, or a dynamic one by name. */
export function byName(r: ChildRegistry, name: string): Child | undefined {
  return r.dynamic.get(name) ?? r.children.find((c) => c.name === name);
}

/**
 * The live child a ref is about, found by the last segment of its path. Refs name addresses:
 * one revived from another shard's message is another object with the same address, so the
 * address decides when the object does not.
 */
export function byRef(r: ChildRegistry, ref: ActorRef<unknown>): Child | undefined {
  const path = ref.path;
  const c = byName(r, path.slice(path.lastIndexOf('/') + 1));
  if (c === undefined || c.ref === null) return undefined;
  if (c.ref === ref) return c;
  if (c.ref.path !== path) return undefined;
  // a ref bound to another spawn at that path (one that stopped) names no child of now
  const uid = (ref as { uid?: unknown }).uid;
  const current = (c.ref as { uid?: unknown }).uid;
  return typeof uid === 'number' &&
    uid !== 0 &&
    typeof current === 'number' &&
    current !== 0 &&
    uid !== current
    ? undefined
    : c;
}

/** Every child, static ones in spec order, then dynamic ones in start order. */
export function allChildren(r: ChildRegistry): Child[] {
  return r.dynamic.size === 0 ? r.children : [...r.children, ...r.dynamic.values()];
}

export function childPath(ctx: ActorContext<any, any>, c: Child): ActorPath {
  return `${ctx.path}/${c.name}` as ActorPath;
}

export function emit(ctx: ActorContext<any, any>, event: SupervisionEvent): void {
  if (ctx.system.events.observed) ctx.system.events.publish(event);
}

/**
 * Why a child could not start: its factory threw or made no behaviour, or spawn refused it
 * (`cause`). Not thrown: startChild and restartChild answer its code and message (and the
 * cause), and a start the supervisor makes itself reports it in a `child-failed` event.
 */
export class ChildStartError extends TroupeError {
  readonly child: ActorPath;
  constructor(child: ActorPath, message: string, cause?: unknown) {
    super('ERR_START_CHILD', message, cause === undefined ? undefined : { cause });
    this.child = child;
  }
}

export type StartOutcome =
  | { readonly kind: 'started' }
  | { readonly kind: 'ignored' }
  /** `error`: a ChildStartError whose `cause` is what was thrown (an Error) or described. */
  | { readonly kind: 'failed'; readonly error: ChildStartError };

const STARTED: StartOutcome = { kind: 'started' };
const IGNORED: StartOutcome = { kind: 'ignored' };

/**
 * Spawns the child's actor: calls its factory (with its argument) when it has one, then
 * `ctx.spawn`, both guarded. `started`: `c.ref` is set and `c.state` is `running`, and a
 * `child-started` event is out. `ignored` (the factory returned IGNORE) and `failed` leave it
 * `dead`, `ref` null.
 */
export function startActor(c: Child, ctx: ActorContext<any, any>): StartOutcome {
  const b = c.spec.behaviour;
  let behaviour: AnyBehaviour;
  if (typeof b === 'function') {
    let made: AnyBehaviour | typeof IGNORE;
    try {
      made = b(c.arg);
    } catch (error) {
      return failed(ctx, c, 'its behaviour factory threw', error);
    }
    if (made === IGNORE) return IGNORED;
    behaviour = made;
  } else behaviour = b;
  let ref: ActorRef<unknown>;
  try {
    ref = ctx.spawn(behaviour, spawnOptions(c)) as ActorRef<unknown>;
  } catch (error) {
    // InvalidBehaviourError (the factory made no behaviour), InvalidOptionError,
    // ShardPlacementError, NotPortableError…
    return failed(ctx, c, 'spawn refused it', error);
  }
  c.ref = ref;
  c.state = 'running';
  c.restarting = false;
  c.backoffMs = null;
  emit(ctx, {
    type: 'child-started',
    supervisor: ctx.path,
    child: ref.path,
    id: c.name,
    at: ctx.system.clock.now(),
  });
  return STARTED;
}

function failed(
  ctx: ActorContext<any, any>,
  c: Child,
  what: string,
  thrown: unknown,
): StartOutcome {
  const path = childPath(ctx, c);
  const detail = thrown instanceof Error ? thrown.message : describe(thrown);
  const cause = thrown instanceof Error ? thrown : new Error(describe(thrown));
  return {
    kind: 'failed',
    error: new ChildStartError(path, `child ${path} could not start: ${what}: ${detail}`, cause),
  };
}

function spawnOptions(c: Child): SpawnOptions {
  const s = c.spec;
  const o: { -readonly [K in keyof SpawnOptions]: SpawnOptions[K] } = { name: c.name };
  if (s.shutdown !== undefined) o.shutdown = s.shutdown;
  if (s.mailbox !== undefined) o.mailbox = s.mailbox;
  if (s.persistence !== undefined) o.persistence = s.persistence;
  if (s.shard !== undefined) o.shard = s.shard;
  return o;
}
