/**
 * A cell's children: spawning them (on this thread, or through the shard router on another),
 * finding them by name or ref, and what their ends and halts tell the parent.
 *
 * - A child's key among its siblings is its name, or for a generated name (`$` and a number
 *   in base 36) the number: spawning builds no string.
 * - A name is free again as soon as the child that held it is gone: a same-thread child
 *   leaves its parent's map when it stops, a stand-in of one on another shard when its end
 *   arrives (before the parent's turn).
 * - A notice about an earlier spawn at the same path (one from another shard carries its
 *   spawn id) is not about the child that holds the name now, and is ignored.
 * - Spawning from an actor that is stopping throws ActorStoppedError; a taken name throws
 *   NameTakenError.
 */
import { childPath, validateName, type ActorPath } from '../../protocol/address.ts';
import { InvalidOptionError, TroupeError } from './error.ts';
import type { ActorRef, LocalRef, Target } from './ref.ts';
import type { Behaviour, InOf, ReplyOf } from './behaviour.ts';
import type { Hook } from './failure.ts';
import type { StopReason } from './notices.ts';
import type { ResolvedSpawnOptions } from './options.ts';
import type { SystemMessage } from './system-message.ts';
import type { Kernel } from './system.ts';
import { stopNextChild } from './cell-winddown.ts';
import { ActorCell, RUNNING, STOPPING } from './cell.ts';

export class NameTakenError extends TroupeError {
  readonly path: ActorPath;
  constructor(path: ActorPath) {
    super(
      'ERR_NAME_TAKEN',
      `an actor already lives at ${path}; pick another name or stop it first`,
    );
    this.path = path;
  }
}

export class ActorStoppedError extends TroupeError {
  readonly path: ActorPath;
  constructor(path: ActorPath, what: string) {
    super('ERR_ACTOR_STOPPED', `${path} is stopping or stopped: cannot ${what}`);
    this.path = path;
  }
}

/**
 * A child as its parent's cell sees it: a cell of this thread, or the stand-in of one that
 * runs on another shard (runtime/shards/remote.ts), which the parent treats the same way.
 */
export interface Kid extends Target {
  readonly key: string | number;
  readonly ref: LocalRef;
  /** Its lifecycle as one of the constants of runtime/core/cell.ts (a stand-in knows it from the protocol). */
  readonly kidStatus: number;
  readonly incarnation: number;
  /** Stops it at once: its children killed, no stop hook (brutal, or a shutdown overrun). */
  kill(): void;
}

/** The stand-in of a child on another shard: what its parent's cell tells it. */
export interface RemoteKid extends Kid {
  readonly parent: ActorCell;
  /** Tells this spawn from an earlier child at the same path. */
  readonly spawnId: number;
  /** Its kind of behaviour (`supervisor`…), as it was spawned. */
  readonly kind: string;
  noteFailed(incarnation: number): void;
  noteHalted(): void;
  noteTerminated(): void;
}

/** A parent on another shard (runtime/shards/remote.ts): the child only sends it system messages. */
export interface ParentLink {
  readonly path: ActorPath;
  sendSystem(msg: SystemMessage): void;
}

// ---- spawning -----------------------------------------------------------------------------

/** `ctx.spawn` with its options resolved: here, or on the shard the router picks. */
export function spawnChild<B extends Behaviour<any, any, any>>(
  cell: ActorCell,
  behaviour: B,
  o: ResolvedSpawnOptions,
): LocalRef<InOf<B>, ReplyOf<B>> {
  if (cell.status >= STOPPING) throw new ActorStoppedError(cell.path, 'spawn children');
  const router = cell.system.router;
  if (router === null && o.shard === undefined)
    return spawnKeyed(
      cell,
      behaviour,
      o,
      o.name === undefined ? cell.nameSeq++ : validateName(o.name),
    );
  // with shards, the child may be placed on another one (runtime/shards/router.ts)
  const shard = router === null ? noShards(o.shard) : router.chooseShard(behaviour, o.shard, cell);
  const key = o.name === undefined ? cell.nameSeq++ : validateName(o.name);
  if (router !== null && shard !== router.shard)
    return router.spawnRemote(cell, behaviour, o, key, shard) as LocalRef<InOf<B>, ReplyOf<B>>;
  return spawnKeyed(cell, behaviour, o, key);
}

/** Spawns a child of this thread under a key already chosen (a name, or a generated name's number). */
export function spawnKeyed<B extends Behaviour<any, any, any>>(
  cell: ActorCell,
  behaviour: B,
  o: ResolvedSpawnOptions,
  key: string | number,
): LocalRef<InOf<B>, ReplyOf<B>> {
  if (cell.status >= STOPPING) throw new ActorStoppedError(cell.path, 'spawn children');
  const kids = (cell.kids ??= new Map());
  if (kids.has(key)) throw new NameTakenError(childPath(cell.path, keyName(key)));
  const child = new ActorCell(cell.system, cell, key, null, behaviour, o);
  kids.set(key, child);
  child.wake();
  return child.ref as LocalRef<InOf<B>, ReplyOf<B>>;
}

/** Puts a child on another shard among this actor's children (runtime/shards/remote.ts). */
export function adoptRemote(cell: ActorCell, kid: RemoteKid): void {
  if (cell.status >= STOPPING) throw new ActorStoppedError(cell.path, 'spawn children');
  const kids = (cell.kids ??= new Map());
  if (kids.has(kid.key)) throw new NameTakenError(kid.ref.path);
  kids.set(kid.key, kid);
}

/**
 * A child that ran on another shard starts again here, in place of its stand-in (no other
 * shard runs): same key and path, the next incarnation.
 */
export function respawnHere(
  cell: ActorCell,
  standIn: Kid,
  behaviour: Behaviour<any, any, any>,
  o: ResolvedSpawnOptions,
  incarnation: number,
): ActorCell {
  const kids = (cell.kids ??= new Map());
  const child = new ActorCell(cell.system, cell, standIn.key, null, behaviour, o);
  child.incarnation = incarnation;
  kids.set(standIn.key, child);
  child.wake();
  return child;
}

/**
 * Makes a placed root on this shard whose parent lives on another (runtime/shards/remote.ts)
 * and starts it.
 */
export function spawnDetached(
  system: Kernel,
  parent: ParentLink,
  path: ActorPath,
  behaviour: Behaviour<any, any, any>,
  o: ResolvedSpawnOptions,
  incarnation: number,
): ActorCell {
  const name = nameOf(path);
  const n = name.charCodeAt(0) === DOLLAR ? generatedNumber(name) : null;
  const cell = new ActorCell(system, parent, n ?? name, path, behaviour, o);
  cell.incarnation = incarnation;
  cell.wake();
  return cell;
}

/** Without shards, only shard 0 (or a policy, which can only pick it) is a valid choice. */
function noShards(shard: ResolvedSpawnOptions['shard']): number {
  if (shard !== undefined && typeof shard === 'number' && shard !== 0)
    throw new InvalidOptionError(
      'options.shard',
      shard,
      'a shard from 0 to 0 (the system has one shard)',
    );
  return 0;
}

// ---- finding them -------------------------------------------------------------------------

/** The live child with this name: a cell of this thread, or the stand-in of one on another shard. */
export function kid(cell: ActorCell, name: string): Kid | undefined {
  const kids = cell.kids;
  if (kids === null) return undefined;
  if (name.charCodeAt(0) !== DOLLAR) return kids.get(name);
  const n = generatedNumber(name);
  return n === null ? undefined : kids.get(n);
}

/** Live child cells (same thread), in start order. */
export function childCells(cell: ActorCell): readonly ActorCell[] {
  return cell.kids === null
    ? []
    : [...cell.kids.values()].filter((c): c is ActorCell => c instanceof ActorCell);
}

/**
 * The child a ref names: its own cell when same-thread (no path parsing); for a child on
 * another shard, its stand-in, when `spawnId` is that spawn's (a notice from an earlier
 * child at the same path is not about this one).
 */
export function kidOf(
  cell: ActorCell,
  ref: ActorRef<unknown>,
  spawnId: number | undefined,
): Kid | undefined {
  const t = (ref as LocalRef).lastTarget;
  if (t instanceof ActorCell)
    // a notice marked with a spawn came from another shard: never about a cell of this thread
    return spawnId === undefined && t.parent === cell && cell.kids?.get(t.key) === t
      ? t
      : undefined;
  // the stand-in's own ref: found even once it has left the children (it ended here)
  if (t !== null && (t as Partial<RemoteKid>).parent === cell)
    return (t as RemoteKid).spawnId === spawnId ? (t as RemoteKid) : undefined;
  const c = kid(cell, nameOf(ref.path));
  if (c === undefined) return undefined;
  if (c instanceof ActorCell) return c.ref === ref ? c : undefined;
  return (c as RemoteKid).spawnId === spawnId && c.ref.path === ref.path ? c : undefined;
}

// ---- what they tell their parent ------------------------------------------------------------

/**
 * A notice from a child on another shard, as it arrives (before this actor's turn): its
 * stand-in learns at once. An end frees its name at once, as a same-thread child's does
 * (whoever waited for that end may spawn the name again before this actor's next turn); a
 * failure suspends the stand-in at once (if its shard then dies, the stand-in does not
 * report a second failure for the same one).
 */
export function fromRemoteChild(cell: ActorCell, m: SystemMessage): SystemMessage {
  if (m.type !== 'child-terminated' && m.type !== 'failed') return m;
  const c = kid(cell, nameOf(m.child.path));
  if (c === undefined || c instanceof ActorCell || (c as RemoteKid).spawnId !== m.spawn) return m;
  if (m.type === 'failed') {
    (c as RemoteKid).noteFailed(m.incarnation);
    return m;
  }
  cell.kids!.delete(c.key);
  (c as RemoteKid).noteTerminated();
  return { ...m, child: c.ref };
}

/** A child ended: it leaves the children, advances a wind-down, or the behaviour hears. */
export function childTerminated(
  cell: ActorCell,
  child: ActorRef<unknown>,
  reason: StopReason,
  spawnId: number | undefined,
): void {
  // a child of this thread has left the children already (its name is free at once)
  const t = (child as LocalRef).lastTarget;
  const c =
    spawnId === undefined && t instanceof ActorCell && t.parent === cell
      ? t
      : kidOf(cell, child, spawnId);
  // from another shard, about a spawn that is not this child's (one killed before, whose
  // name another child took since): ignored
  if (c === undefined && spawnId !== undefined) return;
  if (c !== undefined) {
    if (cell.kids?.get(c.key) === c) cell.kids.delete(c.key);
    if (!(c instanceof ActorCell)) {
      (c as RemoteKid).noteTerminated();
      child = c.ref;
    }
  }
  const d = cell.end;
  if (c !== undefined) d?.escalated?.delete(c);
  if (d !== null && d.stopQueue !== null) {
    // only the child told to stop advances the queue: one that stopped by itself (before
    // the wind-down, or while queued) leaves it, and the others still stop one at a time
    if (c !== undefined && c === d.stopping) stopNextChild(cell);
    else if (c !== undefined) {
      const i = d.stopQueue.indexOf(c);
      if (i >= 0) d.stopQueue.splice(i, 1);
    }
    return;
  }
  const hook = cell.behaviour.onChildTerminated;
  if (hook !== undefined && cell.status === RUNNING)
    runHook(cell, 'onChildTerminated', () =>
      hook.call(cell.behaviour, child, reason, cell.state, cell),
    );
}

/** A child halted (group restarts): the behaviour hears. */
export function childHalted(
  cell: ActorCell,
  child: ActorRef<unknown>,
  spawnId: number | undefined,
): void {
  const c = kidOf(cell, child, spawnId);
  if (c === undefined && spawnId !== undefined) return;
  if (c !== undefined && !(c instanceof ActorCell)) {
    (c as RemoteKid).noteHalted();
    child = c.ref;
  }
  const hook = cell.behaviour.onChildHalted;
  if (hook !== undefined && cell.status === RUNNING)
    runHook(cell, 'onChildHalted', () => hook.call(cell.behaviour, child, cell.state, cell));
}

/** Runs a behaviour hook in this actor's turn; a throw is this actor's failure. */
function runHook(cell: ActorCell, hook: Hook, run: () => void): void {
  const sys = cell.system;
  const saved = sys.current;
  sys.current = cell;
  try {
    run();
  } catch (error) {
    sys.current = saved;
    cell.fail(error, false, undefined, null, hook);
  } finally {
    sys.current = saved;
  }
}

// ---- names --------------------------------------------------------------------------------

/** The name a key stands for. */
export function keyName(key: string | number): string {
  return typeof key === 'number' ? generatedName(key) : key;
}

/** The last segment of a path: the actor's name. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

const DOLLAR = 0x24;

/** The name made for the child numbered `n`: `$` and `n` in base 36. */
export function generatedName(n: number): string {
  return '$' + n.toString(36);
}

/** The number of a generated name (`$1z` → 71); null when `name` is no name made so. */
function generatedNumber(name: string): number | null {
  const n = parseInt(name.slice(1), 36);
  return Number.isSafeInteger(n) && n >= 0 && generatedName(n) === name ? n : null;
}
