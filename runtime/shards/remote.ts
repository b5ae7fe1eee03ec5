/**
 * Supervision across shards. A child placed on another shard than its parent has two halves:
 *
 * - On the parent's shard, a stand-in (RemoteChild) sits among the parent's children, so the
 *   parent's cell and its behaviour treat it like any child: the failure protocol's system
 *   messages (runtime/core/failure.ts) cross between the two shards — `failed` and `child-halted`
 *   and `child-terminated` come up, directives, `halt`, `start`, `stop` and `kill` go down.
 *   Each spawn has an id, so a notice from an earlier child at the same path is not taken for
 *   this one's.
 * - On the child's shard, the actor is an ordinary cell whose parent is a RemoteParent: what
 *   it sends its parent goes straight to the parent's shard.
 *
 * When the child's shard dies, the stand-in fails in its place (ShardLostError): the parent
 * decides as for any failure. Meanwhile messages for the child wait in the stand-in (under the
 * child's mailbox capacity; the node routes them there). A `restart` (or `resume`: its state
 * died with its thread) spawns it again, next incarnation, on the shard it was asked for if
 * that one runs, else on the least-loaded live shard, from its snapshot when it has
 * persistence; the waiting messages follow it, in order. A `stop` ends it: they go to dead
 * letters. A spawn whose module cannot load on the other shard is a failure the same way.
 *
 * When the parent's shard dies, its children on other shards are orphans: their shards kill
 * them (OTP: a supervisor's exit takes its children down). Their parent's supervisor, if it
 * restarts the parent, starts them again.
 */
import type { SystemMessage } from '../core/index.ts';
import {
  ActorCell,
  HALTED,
  RUNNING,
  STOPPED,
  SUSPENDED,
  type ParentLink,
  type RemoteKid,
} from '../core/index.ts';
import { LocalRef, type Delivery } from '../core/index.ts';
import { TroupeError } from '../core/index.ts';
import { directiveName } from '../core/index.ts';
import type { ActorPath } from '../../protocol/address.ts';
import type { Behaviour } from '../core/index.ts';
import type { ResolvedSpawnOptions, ShardChoice } from '../core/index.ts';
import type { StopReason, Terminated } from '../core/index.ts';
import { loadPortable, portableOrigin, type PortableOrigin } from './portable.ts';
import { resolveSpawnOptions, spawnDetached, SystemTerminatedError } from '../core/index.ts';
import { SHARD_PROTOCOL_VERSION, type ShardFrame, type SpawnFrameOptions } from './protocol.ts';
import { RemoteTarget, ShardLostError, type ShardRouter } from './router.ts';

/** A child's module could not be loaded (or its export was not portable) on its shard. */
export class RemoteSpawnError extends TroupeError {
  readonly path: ActorPath;
  readonly shard: number;
  constructor(path: ActorPath, shard: number, why: string) {
    super('ERR_REMOTE_SPAWN', `${path} could not be started on shard ${shard}: ${why}`);
    this.path = path;
    this.shard = shard;
  }
}

/** System messages a stand-in keeps for its child while none runs (watches, subscriptions). */
const MAX_HELD_SYSTEM = 1_000;

export class RemoteChild implements RemoteKid {
  readonly parent: ActorCell;
  readonly key: string | number;
  readonly path: ActorPath;
  readonly ref: LocalRef;
  readonly kind: string;
  /** Where it runs now (meaningless while detached). */
  shard = -1;
  spawnId = 0;
  incarnation = 0;
  readonly #router: ShardRouter;
  readonly #behaviour: Behaviour<any, any, any>;
  readonly #origin: PortableOrigin;
  readonly #options: ResolvedSpawnOptions;
  readonly #asked: ShardChoice | undefined;
  /** Its route to the actor on the other shard. */
  readonly #remote: RemoteTarget;
  #status = RUNNING;
  /**
   * No actor runs for it on another shard (its shard died, or its spawn failed): this
   * stand-in carries out its parent's directive, holding messages meanwhile.
   */
  #detached = false;
  /** Its parent told it to stop (or halt) and waits for it. */
  #stopping: { reason: StopReason; error: unknown } | null = null;
  #halting = false;
  #error: unknown = undefined;
  /** Messages held while detached: [message, meta] pairs, and system messages. */
  #held: unknown[] = [];
  #heldSystem: SystemMessage[] = [];

  constructor(
    router: ShardRouter,
    parent: ActorCell,
    key: string | number,
    path: ActorPath,
    behaviour: Behaviour<any, any, any>,
    options: ResolvedSpawnOptions,
  ) {
    this.#router = router;
    this.parent = parent;
    this.key = key;
    this.path = path;
    this.kind = behaviour.kind;
    this.#behaviour = behaviour;
    this.#origin = portableOrigin(behaviour)!;
    this.#options = options;
    this.#asked = options.shard;
    this.ref = new LocalRef(router.system, path, this);
    this.#remote = new RemoteTarget(router, path, router.system.addressOf(path));
  }

  get kidStatus(): number {
    return this.#status;
  }

  get gone(): boolean {
    return this.#status === STOPPED;
  }

  /** What it is given goes to another shard (unless it holds it here, detached). */
  get remote(): boolean {
    return !this.#detached && this.#status !== STOPPED;
  }

  /** Spawns (again) the actor it stands for on `shard`; what waited follows it. */
  spawnOn(shard: number): void {
    const r = this.#router;
    this.shard = shard;
    this.spawnId = r.nextSpawnId();
    this.#detached = false;
    this.#status = RUNNING;
    this.#error = undefined;
    r.post(shard, {
      v: SHARD_PROTOCOL_VERSION,
      k: 'spawn',
      path: this.path,
      parent: this.parent.path,
      spawnId: this.spawnId,
      incarnation: this.incarnation,
      origin: this.#origin,
      options: frameOptions(this.#options, this.path, r),
    });
    r.announce(this.path, shard);
    const held = this.#held;
    const heldSystem = this.#heldSystem;
    this.#held = [];
    this.#heldSystem = [];
    for (const m of heldSystem) this.#remote.sendSystem(m);
    for (let i = 0; i < held.length; i += 2) this.#remote.deliver(held[i], held[i + 1]);
  }

  // ---- Target: messages for the child ------------------------------------------------

  deliver(msg: unknown, meta: unknown): Delivery {
    if (this.#status === STOPPED) {
      this.#router.system.deadLetter(msg, this.ref, meta, 'stopped', undefined);
      return 'dead-letter';
    }
    if (!this.#detached) return this.#remote.deliver(msg, meta);
    if (this.#held.length / 2 >= this.#options.mailbox.capacity) {
      this.#router.system.deadLetter(msg, this.ref, meta, 'mailbox-full', undefined);
      return 'dropped';
    }
    this.#held.push(msg, meta);
    return 'enqueued';
  }

  sendSystem(m: SystemMessage): void {
    if (this.#status === STOPPED) {
      this.#answerStopped(m);
      return;
    }
    if (this.#detached) {
      this.#carryOut(m);
      return;
    }
    switch (m.type) {
      case 'directive': {
        const d = directiveName(m.directive);
        if (d === 'resume' || d === 'restart') this.#status = RUNNING;
        else if (d === 'halt') this.#halting = true;
        else if (d === 'stop' || d === 'escalate')
          this.#stopping = { reason: 'failed', error: undefined };
        break;
      }
      case 'stop':
        this.#stopping = { reason: m.reason, error: m.error };
        break;
      case 'halt':
        this.#halting = true;
        break;
      case 'start':
        this.#status = RUNNING;
        break;
    }
    this.#remote.sendSystem(m);
  }

  /** The parent's brutal stop: the actor is told to die; for the parent it is gone now. */
  kill(): void {
    if (this.#status === STOPPED) return;
    if (!this.#detached) this.#remote.sendSystem({ type: 'kill' });
    this.#finish('shutdown', undefined);
  }

  // ---- what the parent's cell learns -------------------------------------------------

  noteFailed(incarnation: number): void {
    this.#status = SUSPENDED;
    this.incarnation = incarnation;
  }

  noteHalted(): void {
    this.#status = HALTED;
    this.#halting = false;
  }

  noteTerminated(): void {
    if (this.#status === STOPPED) return;
    this.#status = STOPPED;
    this.#forget();
  }

  // ---- losing the other half ---------------------------------------------------------

  /** Its shard's thread died: the actor failed. */
  shardLost(shard: number): void {
    this.#detach(new ShardLostError(shard, this.path));
  }

  /** The other shard could not spawn it. */
  spawnFailed(spawnId: number, why: string): void {
    if (spawnId !== this.spawnId || this.#detached) return;
    this.#detach(new RemoteSpawnError(this.path, this.shard, why));
  }

  #detach(error: unknown): void {
    if (this.#detached || this.#status === STOPPED) return;
    this.#detached = true;
    this.#error = error;
    // what others send it comes here meanwhile
    this.#router.announce(this.path, this.#router.shard);
    if (this.#stopping !== null) {
      this.#finish(this.#stopping.reason, this.#stopping.error);
      return;
    }
    if (this.#halting) {
      this.noteHalted();
      this.parent.sendSystem({ type: 'child-halted', child: this.ref, spawn: this.spawnId });
      return;
    }
    if (this.#status === RUNNING) {
      this.#status = SUSPENDED;
      this.parent.sendSystem({
        type: 'failed',
        child: this.ref,
        incarnation: this.incarnation,
        error,
        spawn: this.spawnId,
      });
    }
    // suspended: the directive is on its way; halted: `start` will come
  }

  /** A parent's message while no actor runs for it elsewhere. */
  #carryOut(m: SystemMessage): void {
    switch (m.type) {
      case 'directive': {
        if (m.incarnation !== this.incarnation || this.#status !== SUSPENDED) return;
        const d = directiveName(m.directive);
        if (d === 'resume' || d === 'restart') {
          const delayMs = typeof m.directive === 'string' ? 0 : (m.directive.delayMs ?? 0);
          this.#status = RUNNING;
          if (delayMs > 0) this.#router.system.timers.schedule(() => this.#respawn(), delayMs);
          else this.#respawn();
        } else if (d === 'halt') {
          this.noteHalted();
          this.parent.sendSystem({ type: 'child-halted', child: this.ref, spawn: this.spawnId });
        } else this.#finish('failed', this.#error);
        return;
      }
      case 'stop':
        this.#finish(m.reason, m.error);
        return;
      case 'kill':
        this.#finish('shutdown', undefined);
        return;
      case 'halt':
        this.noteHalted();
        this.parent.sendSystem({ type: 'child-halted', child: this.ref, spawn: this.spawnId });
        return;
      case 'start':
        if (this.#status !== HALTED) return;
        this.#status = RUNNING;
        this.#respawn();
        return;
      case 'watch':
      case 'unwatch':
      case 'subscribe':
      case 'unsubscribe':
        if (this.#heldSystem.length < MAX_HELD_SYSTEM) this.#heldSystem.push(m);
        else this.#answerStopped(m);
        return;
      default:
        // notices for a parent: a stand-in has no children here
        return;
    }
  }

  /** The next incarnation, on a live shard (this one only when no other runs). */
  #respawn(): void {
    if (this.#status === STOPPED || !this.#detached) return;
    const r = this.#router;
    this.incarnation++;
    const asked = this.#asked;
    const shard =
      typeof asked === 'number' && asked !== r.shard && r.isLive(asked)
        ? asked
        : r.leastLoaded(r.shard);
    if (shard !== r.shard) {
      this.spawnOn(shard);
      return;
    }
    // no other shard runs: the child lives with its parent from now on
    this.#status = STOPPED;
    this.#forget();
    const cell = this.parent.respawnHere(this, this.#behaviour, this.#options, this.incarnation);
    const held = this.#held;
    const heldSystem = this.#heldSystem;
    this.#held = [];
    this.#heldSystem = [];
    for (const m of heldSystem) cell.sendSystem(m);
    for (let i = 0; i < held.length; i += 2) cell.deliver(held[i], held[i + 1]);
  }

  /** It has ended (no actor runs for it, or its parent no longer waits): tell its parent. */
  #finish(reason: StopReason, error: unknown): void {
    if (this.#status === STOPPED) return;
    this.#status = STOPPED;
    const sys = this.#router.system;
    const held = this.#held;
    const heldSystem = this.#heldSystem;
    this.#held = [];
    this.#heldSystem = [];
    for (let i = 0; i < held.length; i += 2)
      sys.deadLetter(held[i], this.ref, held[i + 1], 'stopped', undefined);
    for (const m of heldSystem) this.#answerStopped(m, reason, error);
    this.parent.dropKid(this);
    this.#forget();
    this.parent.sendSystem({
      type: 'child-terminated',
      child: this.ref,
      reason,
      spawn: this.spawnId,
    });
  }

  #forget(): void {
    const r = this.#router;
    if (r.remoteKids.get(this.path) === this) {
      r.remoteKids.delete(this.path);
      r.retract(this.path);
    }
  }

  #answerStopped(m: SystemMessage, reason: StopReason = 'normal', error?: unknown): void {
    if (m.type !== 'watch' && m.type !== 'subscribe') return;
    const t: Terminated = {
      type: 'troupe.terminated',
      ref: this.ref,
      reason,
      ...(error === undefined ? {} : { error }),
    };
    (m.type === 'watch' ? m.watcher : m.subscriber).tell(t);
  }
}

/** What crosses of a child's spawn options: its store is lent (runtime/shards/store.ts). */
function frameOptions(o: ResolvedSpawnOptions, path: string, r: ShardRouter): SpawnFrameOptions {
  const p = o.persistence;
  return {
    mailbox: { capacity: o.mailbox.capacity, overflow: o.mailbox.overflow },
    ...(o.shutdown === undefined ? {} : { shutdown: o.shutdown }),
    ...(p === null ? {} : { persistence: { ...r.stores.lend(p.store), key: p.key ?? path } }),
  };
}

/**
 * The parent of a placed root, seen from the root's shard: its notices (failed, halted,
 * terminated) go straight to the parent's shard, marked with the spawn they are about.
 */
export class RemoteParent implements ParentLink {
  readonly path: ActorPath;
  readonly shard: number;
  readonly spawnId: number;
  readonly #router: ShardRouter;
  /** The placed root's path (its stop is forgotten here). */
  readonly childPath: string;

  constructor(
    router: ShardRouter,
    path: ActorPath,
    shard: number,
    spawnId: number,
    childPath: string,
  ) {
    this.#router = router;
    this.path = path;
    this.shard = shard;
    this.spawnId = spawnId;
    this.childPath = childPath;
  }

  sendSystem(msg: SystemMessage): void {
    let m = msg;
    if (msg.type === 'failed' || msg.type === 'child-halted' || msg.type === 'child-terminated')
      m = { ...msg, spawn: this.spawnId };
    if (msg.type === 'child-terminated') this.#router.detachedStopped(this.childPath);
    this.#router.sendSystemTo(this.shard, this.path, m);
  }
}

/** A placed root running here, with the parent it reports to. */
export interface DetachedCell {
  readonly cell: ActorCell;
  readonly parentShard: number;
  /** Its parent's shard died: nobody supervises it; it is killed. */
  orphaned(): void;
}

export function detachedCell(
  router: ShardRouter,
  cell: ActorCell,
  parentShard: number,
): DetachedCell {
  return {
    cell,
    parentShard,
    orphaned() {
      // every shard forgets it first (its authority is gone), then it dies
      router.retract(cell.path);
      cell.kill();
    },
  };
}

/**
 * Runs here a placed root whose parent lives on shard `from`: its module loaded, its options
 * resolved, its cell made under a RemoteParent and kept among the router's detached cells.
 * Rejects when its module cannot be loaded or its options are refused.
 */
export async function spawnPlacedHere(
  router: ShardRouter,
  frame: Extract<ShardFrame, { k: 'spawn' }>,
  from: number,
): Promise<void> {
  const system = router.system;
  const behaviour = await loadPortable(frame.origin, system.refOf);
  if (system.state !== 'running') throw new SystemTerminatedError();
  // its parent's shard died while the module loaded: it would be an orphan at once
  if (!router.isLive(from)) throw new ShardLostError(from, frame.parent as ActorPath);
  const { persistence, ...rest } = frame.options;
  const o = resolveSpawnOptions(
    persistence === undefined
      ? rest
      : {
          ...rest,
          persistence: { store: router.stores.storeFor(persistence), key: persistence.key },
        },
    system.defaultMailbox,
  );
  const path = frame.path as ActorPath;
  const parent = new RemoteParent(router, frame.parent as ActorPath, from, frame.spawnId, path);
  const cell = spawnDetached(system, parent, path, behaviour, o, frame.incarnation);
  router.detached.set(path, detachedCell(router, cell, from));
}
