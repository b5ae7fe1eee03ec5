/**
 * The kernel: the actor system of one thread, with nothing of the parts that plug into it
 * (runtime/core/extension.ts). It owns the scheduler, the timer heap, the guardians (every
 * live actor is found from them by path), the temporary receivers, dead letters:
 *
 *   /user     parent of every actor spawned with `system.spawn`
 *   /system   parent of troupe's own actors
 *   /temp     temporary receivers (ask replies, listeners), not actors
 *
 * Shutdown runs the parts' phases before the actors stop (runtime/core/shutdown-phases.ts),
 * stops `/user` (children before parents, last started first), then `/system`, then closes
 * the timers and runs the phases after; pending asks reject with SystemTerminatedError;
 * `whenTerminated` resolves with the report. A failure of a guardian (a failure escalated
 * to the top) ends the system the same way, with the error in the report.
 *
 * What the kernel asks of the parts is an interface each one implements: an address
 * resolver (entities, other nodes), the shard routes (runtime/core/routes.ts), an ask guard
 * (an ask to a node that goes down fails at once). The built-in parts are put together by
 * runtime/system.ts.
 *
 * Over 600 lines: spawning, lookup by path, asks, subscriptions, offloads and the
 * guardians' shutdown share the registry and the guardians; each is short.
 */
import { TroupeError, InvalidOptionError } from './error.ts';
import {
  formatAddress,
  parseAddress,
  type ActorPath,
  type Address,
  type NodeId,
} from '../../protocol/address.ts';
import { systemClock, type Clock } from './clock.ts';
import { TimerQueue, type TimerEntry } from './timers.ts';
import { Scheduler } from './scheduler.ts';
import { DeadLetters, type DeadLetterReason } from './dead-letters.ts';
import { ActorCell, senderOf, type RemoteKid } from './cell.ts';
import { LocalRef, type ActorRef, type Delivery, type Target } from './ref.ts';
import { TempReceiver } from './temp.ts';
import { MessageMeta } from './envelope.ts';
import { checkPrincipal, type Principal } from './principal.ts';
import {
  AskDeliveryError,
  AskTimeoutError,
  ASK_TOMBSTONES,
  ReplyFailure,
  type AskOptions,
} from './ask.ts';
import { Telemetry } from './telemetry.ts';
import { Extensions, type AddressResolver, type AskGuard, type Extension } from './extension.ts';
import { AFTER_STOP_PHASES, BEFORE_STOP_PHASES, PhasedShutdown } from './shutdown-phases.ts';
import { EventStream } from './events.ts';
import { consoleLogger, type Logger } from './logger.ts';
import {
  resolveSpawnOptions,
  resolveKernelOptions,
  type KernelOptions,
  type ResolvedMailbox,
  type ResolvedSpawnOptions,
  type SpawnOptions,
} from './options.ts';
import type { SystemCore } from './system-core.ts';
import { STOP_NORMAL, STOP_SHUTDOWN, type SystemMessage } from './system-message.ts';
import type { Behaviour, InOf, ReplyOf } from './behaviour.ts';
import type { EmittedEvent, SnapshotUpdate, Terminated } from './notices.ts';
import { tempPrefix, type ShardRoutes } from './routes.ts';
import {
  labelOf,
  OffloadPool,
  type Offloads,
  resolveRunTimeout,
  type OffloadError,
  type OffloadResult,
  type OffloadRunOptions,
  type OffloadTask,
} from './offload.ts';

/**
 * Where a kernel runs in its node: its shard (0: the main thread) and, on a worker shard,
 * how its offloaded tasks reach the main thread's pool (runtime/shard-host.ts).
 */
export interface KernelPlace {
  readonly shard: number;
  readonly offloads?: (kernel: Kernel) => Offloads;
}

export class ShardPlacementError extends TroupeError {
  constructor() {
    super(
      'ERR_SHARD_PLACEMENT',
      'top-level actors of a sharded system are spawned from the main thread (system.spawn there); an actor on a shard spawns children with ctx.spawn',
    );
  }
}

/** An actor's offloaded tasks in flight, aborted when it stops. */
interface ActorOffloads {
  readonly controllers: Set<AbortController>;
  unwatch: () => void;
}

export interface TerminationReport {
  /** `shutdown`: asked for; `failure`: a failure reached a guardian. */
  readonly reason: 'shutdown' | 'failure';
  readonly path?: ActorPath;
  readonly error?: unknown;
}

export class SystemTerminatedError extends TroupeError {
  constructor() {
    super('ERR_SYSTEM_TERMINATED', 'the actor system has terminated');
  }
}

export class InvalidBehaviourError extends TroupeError {
  readonly value: unknown;
  constructor(value: unknown, why: string) {
    super(
      'ERR_INVALID_BEHAVIOUR',
      `not a behaviour: ${why} (use fromReceive, fromStore or fromMachine)`,
    );
    this.value = value;
  }
}

export class ReminderUnavailableError extends TroupeError {
  readonly path: string;
  constructor(path: string) {
    super(
      'ERR_REMINDER_UNAVAILABLE',
      `ctx.remindAt of ${path}: reminders are kept for entities (system.define), and this system has none`,
    );
    this.path = path;
  }
}

export type SystemState = 'running' | 'terminating' | 'terminated';

export abstract class Kernel implements SystemCore {
  readonly nodeId: NodeId;
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly scheduler: Scheduler;
  readonly deadLetters: DeadLetters;
  /** Supervision and lifecycle events, as data. */
  readonly events: EventStream;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly throughput: number;
  /** Milliseconds a scheduler turn may run before yielding. */
  readonly timeSliceMs: number;
  readonly askTimeoutMs: number;
  readonly defaultMailbox: ResolvedMailbox;
  /**
   * Stateless CPU-heavy work (runtime/core/offload.ts): the node's pool, on the main thread; a
   * worker shard's link to it (runtime/shards/offload-link.ts).
   */
  readonly offloads: Offloads;
  private readonly actorOffloads = new Map<string, ActorOffloads>();
  /** What a spawn without options resolves to: made once, shared by every such spawn. */
  private readonly noSpawnOptions: ResolvedSpawnOptions;
  /** This thread's shard id (0: the main thread). */
  readonly shard: number;
  readonly tempPrefix: string;
  /**
   * How messages reach actors on other shards (runtime/core/routes.ts): null with one shard;
   * set once, at start, by the shards' extension (runtime/shards/extension.ts).
   */
  router: ShardRoutes | null = null;
  current: ActorCell | null = null;
  tracing = false;
  /** Loads, saves and stop hooks in flight. */
  pendingAsync = 0;
  /** Guardians and temporary receivers by path; actors are found by walking from a guardian. */
  private readonly registry = new Map<string, Target>();
  private readonly tombstones = new Set<string>();
  private seq = 0;
  /**
   * The last spawn uid given (runtime/core/ref.ts). It starts at a random point so that two
   * threads or two runs of a node rarely give the same uid to spawns at one path, below 2²⁹
   * so that uids stay small integers (V8 keeps them in the cell and the ref unboxed) for the
   * first half-billion spawns; past 2³⁰ they are still unique, only stored boxed.
   */
  private uidSeq = 1 + Math.floor(Math.random() * 2 ** 29);
  private readonly user: ActorCell;
  private readonly sys: ActorCell;
  private stateValue: SystemState = 'running';
  private report: TerminationReport | null = null;
  private resolveTerminated!: (r: TerminationReport) => void;
  /** Resolves once every actor has stopped, with why. */
  readonly whenTerminated: Promise<TerminationReport>;
  /** What each part does at shutdown, by phase (runtime/core/shutdown-phases.ts). */
  readonly shutdownPhases: PhasedShutdown;
  /**
   * Who resolves an address this thread does not hold (`foreignTarget`): each part that
   * reaches actors elsewhere (entities, nodes, the shard router) adds one. A resolver answers
   * undefined for an address that is not its kind, else the target (null: none).
   */
  private readonly resolvers: AddressResolver[] = [];
  /** This system's extensions (runtime/core/extension.ts), each made once. */
  private readonly extensions: Extensions;
  /** Who may fail an ask at once (an ask to a node that goes down): see AskGuard. */
  private readonly askGuards: AskGuard[] = [];
  /** What the parts do the moment the last actor has stopped, before the phases after. */
  private readonly onTerminated: (() => void)[] = [];
  /** False until the extensions given at start are made (setRoutes is refused after). */
  private started = false;
  /** `ctx.remindAt`, from the part that keeps reminders (setReminders). */
  private reminders: ((path: string, time: number | Date, msg: unknown) => void) | null = null;

  constructor(options?: KernelOptions, place?: KernelPlace) {
    const o = resolveKernelOptions(options);
    this.shard = place?.shard ?? 0;
    this.tempPrefix = tempPrefix(this.shard);
    this.nodeId = o.nodeId;
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger ?? consoleLogger;
    this.shutdownPhases = new PhasedShutdown((m, e) => this.logger.error(m, e));
    this.throughput = o.throughput;
    this.timeSliceMs = o.timeSliceMs;
    this.askTimeoutMs = o.askTimeoutMs;
    this.defaultMailbox = o.mailbox;
    this.noSpawnOptions = resolveSpawnOptions(undefined, o.mailbox);
    this.timers = new TimerQueue(this.clock);
    this.offloads =
      place?.offloads === undefined
        ? new OffloadPool(o.offload, this.timers)
        : place.offloads(this);
    this.telemetry = new Telemetry(o.tracerProvider);
    this.tracing = this.telemetry.active;
    this.scheduler = new Scheduler(this.clock, o.timeSliceMs, () => {
      this.tracing = this.telemetry.refresh();
    });
    this.deadLetters = new DeadLetters(o.deadLetterHistory, (e) =>
      this.logger.error('troupe: dead letter listener threw', e),
    );
    this.events = new EventStream((e) => this.logger.error('troupe: event listener threw', e));
    this.whenTerminated = new Promise((resolve) => (this.resolveTerminated = resolve));
    const guardianOptions: ResolvedSpawnOptions = {
      name: undefined,
      mailbox: { capacity: Infinity, overflow: 'drop-newest' },
      persistence: null,
      shutdown: Infinity,
      shard: undefined,
    };
    this.user = new ActorCell(
      this,
      null,
      'user',
      '/user' as ActorPath,
      this.guardian(),
      guardianOptions,
    );
    this.sys = new ActorCell(
      this,
      null,
      'system',
      '/system' as ActorPath,
      this.guardian(),
      guardianOptions,
    );
    this.register(this.user);
    this.register(this.sys);
    const started: (() => void)[] = [];
    this.extensions = new Extensions({
      system: this,
      clock: this.clock,
      timers: this.timers,
      logger: this.logger,
      shard: this.shard,
      onShutdown: (phase, name, task) => this.shutdownPhases.add(phase, name, task),
      addResolver: (resolve) => void this.resolvers.push(resolve),
      addAskGuard: (guard) => void this.askGuards.push(guard),
      onStarted: (task) => {
        if (this.started) task();
        else started.push(task);
      },
      onTerminated: (task) => void this.onTerminated.push(task),
      setReminders: (remind) => {
        this.reminders = remind;
      },
      setRoutes: (routes) => {
        if (this.started || this.router !== null)
          throw new InvalidOptionError(
            'extensions',
            'shards',
            'the shard routes set once, by an extension given at createSystem',
          );
        this.router = routes;
      },
    });
    try {
      for (const ext of o.extensions) this.extensions.get(ext);
      this.started = true;
      for (const task of started) task();
    } catch (error) {
      // the system is not made: what its parts started (a listening gateway, links) ends
      this.started = true;
      void this.shutdown();
      throw error;
    }
    this.user.process();
    this.sys.process();
  }

  /**
   * The guardians (`/user`, `/system`) stop a failed child and log it. A failed supervisor
   * (behaviour kind `supervisor`) at the top is the root of an application: its failure ends
   * the system, with the error in the termination report (OTP: a permanent application's top
   * supervisor exiting stops the node).
   */
  private guardian(): Behaviour<unknown, never, null> {
    return {
      kind: 'guardian',
      init: () => null,
      receive: (state) => state,
      onChildFailure: (failure) => {
        // a child on another shard: its stand-in knows its kind
        const target = (failure.child as LocalRef).lastTarget;
        const kind =
          target instanceof ActorCell
            ? target.behaviour.kind
            : (target as Partial<RemoteKid> | null)?.kind;
        const root = kind === 'supervisor';
        this.logger.error(
          root
            ? `troupe: the root supervisor ${failure.child.path} failed; the system terminates`
            : `troupe: ${failure.child.path} failed and was stopped (no supervisor above it):`,
          failure.error,
        );
        if (root && this.stateValue === 'running') {
          this.report ??= { reason: 'failure', path: failure.child.path, error: failure.error };
          queueMicrotask(() => void this.shutdown());
        }
        return 'stop';
      },
      // with shards: a top-level actor of the main thread that stops leaves the placement table
      onChildTerminated: (child) => {
        const r = this.router;
        if (r !== null && r.placements.get(child.path) === this.shard) r.retract(child.path);
      },
    };
  }

  get state(): SystemState {
    return this.stateValue;
  }

  /** No actor has work and nothing async (loads, saves, stop hooks) is in flight. */
  get isIdle(): boolean {
    return this.scheduler.idle && this.pendingAsync === 0;
  }

  // ---- public API -------------------------------------------------------------------------

  /**
   * Spawns a top-level actor under `/user`. Throws on a bad behaviour, option or name. With
   * shards, only the main thread spawns top-level actors, and places them (`options.shard`).
   */
  spawn<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>> {
    if (this.stateValue !== 'running') throw new SystemTerminatedError();
    const router = this.router;
    if (router === null)
      return this.user.spawnChild(behaviour, this.resolveSpawn(behaviour, options));
    if (this.shard !== 0) throw new ShardPlacementError();
    const ref = this.user.spawnChild(behaviour, this.resolveSpawn(behaviour, options));
    // every shard learns where a top-level actor of the main thread lives
    if (ref.lastTarget instanceof ActorCell) router.announce(ref.path, 0);
    return ref;
  }

  /**
   * `ctx.remindAt` of the actor at `ref`: the part that keeps reminders (entities,
   * runtime/entities/) answers it; without one, ReminderUnavailableError.
   */
  remindAt(ref: ActorRef<unknown>, time: number | Date, msg: unknown): void {
    if (this.reminders === null) throw new ReminderUnavailableError(ref.path);
    this.reminders(ref.path, time, msg);
  }

  /** `/user`: the parent of top-level actors. */
  get userGuardian(): ActorCell {
    return this.user;
  }

  /** Spawns one of troupe's own actors under `/system`. */
  spawnSystemActor<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>> {
    if (this.stateValue !== 'running') throw new SystemTerminatedError();
    return this.sys.spawnChild(behaviour, this.resolveSpawn(behaviour, options));
  }

  /**
   * Spawns one of a part's actors under `/system` (an entity's activation), also while the
   * system terminates: a part drains then, and may still need its actors until they stop.
   */
  spawnPart<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>> {
    return this.sys.spawnChild(behaviour, this.resolveSpawn(behaviour, options));
  }

  resolveSpawn(behaviour: unknown, options: SpawnOptions | undefined): ResolvedSpawnOptions {
    if (typeof behaviour !== 'object' || behaviour === null)
      throw new InvalidBehaviourError(behaviour, 'expected an object');
    const b = behaviour as Partial<Behaviour<unknown>>;
    if (
      typeof b.init !== 'function' ||
      typeof b.receive !== 'function' ||
      typeof b.kind !== 'string'
    )
      throw new InvalidBehaviourError(behaviour, 'it needs kind, init and receive');
    if (options === undefined) return this.noSpawnOptions;
    return resolveSpawnOptions(options, this.defaultMailbox);
  }

  /** Stops an actor (children first); resolves when it has stopped (at once if it was gone). */
  stop(ref: ActorRef<any, any>): Promise<void> {
    return new Promise((resolve) => {
      const target = ref as LocalRef;
      const w = new TempReceiver(
        this,
        'stop-' + ++this.seq,
        (msg) => {
          if ((msg as Terminated).type === 'troupe.terminated') {
            w.close();
            resolve();
          }
        },
        () => resolve(),
      );
      target.sendSystem({ type: 'watch', watcher: w.ref });
      target.sendSystem(STOP_NORMAL);
    });
  }

  /** Calls `listener` once when `ref` stops (at once if it is gone). Returns an unwatch function. */
  watch(ref: ActorRef<any, any>, listener: (t: Terminated) => void): () => void {
    const target = ref as LocalRef;
    const w = new TempReceiver(this, 'watch-' + ++this.seq, (msg) => {
      if ((msg as Terminated).type !== 'troupe.terminated') return;
      w.close();
      listener(msg as Terminated);
    });
    target.sendSystem({ type: 'watch', watcher: w.ref });
    return () => {
      if (w.gone) return;
      w.close();
      target.sendSystem({ type: 'unwatch', watcher: w.ref });
    };
  }

  /**
   * Subscribes to an actor's snapshots: `listener` gets the current one at once, then each
   * change (`troupe.snapshot`, version +1 each), and `troupe.terminated` when it stops.
   * Returns an unsubscribe function.
   */
  subscribe<S = unknown>(
    ref: ActorRef<any, any>,
    listener: (update: SnapshotUpdate<S> | Terminated) => void,
  ): () => void {
    const target = ref as LocalRef;
    const unsubscribe = (): void => {
      if (s.gone) return;
      s.close();
      target.sendSystem({ type: 'unsubscribe', subscriber: s.ref });
    };
    const s = new TempReceiver(this, 'sub-' + ++this.seq, (msg) => {
      if (!this.callListener(listener, msg, ref, 'snapshot', unsubscribe)) return;
      if ((msg as Terminated).type === 'troupe.terminated') s.close();
    });
    target.sendSystem({ type: 'subscribe', subscriber: s.ref });
    return unsubscribe;
  }

  /**
   * Subscribes to what an actor emits (`ctx.emit`, XState's `emit` action): `listener` gets
   * `troupe.event` for each, and `troupe.terminated` when it stops. Returns an unsubscribe
   * function.
   */
  subscribeEvents<E = unknown>(
    ref: ActorRef<any, any>,
    listener: (event: EmittedEvent<E> | Terminated) => void,
  ): () => void {
    const target = ref as LocalRef;
    const unsubscribe = (): void => {
      if (s.gone) return;
      s.close();
      target.sendSystem({ type: 'unsubscribe', subscriber: s.ref, events: true });
    };
    const s = new TempReceiver(this, 'ev-' + ++this.seq, (msg) => {
      if (!this.callListener(listener, msg, ref, 'event', unsubscribe)) return;
      if ((msg as Terminated).type === 'troupe.terminated') s.close();
    });
    target.sendSystem({ type: 'subscribe', subscriber: s.ref, events: true });
    return unsubscribe;
  }

  /**
   * Calls a subscriber's listener (user code). One that throws is unsubscribed and logged:
   * the actor and the other subscribers go on. False when it threw.
   */
  private callListener(
    listener: (msg: any) => void,
    msg: unknown,
    ref: ActorRef<unknown>,
    what: string,
    unsubscribe: () => void,
  ): boolean {
    try {
      listener(msg);
      return true;
    } catch (error) {
      unsubscribe();
      this.logger.error(
        `troupe: a ${what} subscriber of ${ref.path} threw; it is unsubscribed`,
        error,
      );
      return false;
    }
  }

  /** The guardians `/user` and `/system`, the roots of the tree (runtime/inspector reads it). */
  get guardians(): readonly [ActorCell, ActorCell] {
    return [this.user, this.sys];
  }

  /** A ref for an address (revived refs). Throws InvalidAddressError on a malformed one. */
  refOf = (address: Address, uid?: number): ActorRef<unknown> => {
    const parsed = parseAddress(address);
    // entity refs are location-free: never bound to a spawn
    if (parsed.type === 'entity')
      return new LocalRef(this, address as string as ActorPath, null, address, true);
    if (parsed.node !== this.nodeId)
      return new LocalRef(this, parsed.path, null, address, true, uid ?? 0);
    const t = this.lookup(parsed.path);
    if (t instanceof ActorCell && (uid === undefined || t.uid === uid)) return t.ref;
    return new LocalRef(this, parsed.path, null, undefined, false, uid ?? 0);
  };

  /** A uid for a new spawn (runtime/core/ref.ts): unique in this thread for the system's life. */
  nextUid(): number {
    return ++this.uidSeq;
  }

  /** The live actor at a path, if any. */
  actorAt(path: string): ActorRef<unknown> | undefined {
    const t = this.lookup(path as ActorPath);
    return t instanceof ActorCell && !t.gone ? t.ref : undefined;
  }

  /** Live actor cells of this thread (for tools and the inspector). */
  cellAt(path: string): ActorCell | undefined {
    const t = this.lookup(path as ActorPath);
    return t instanceof ActorCell ? t : undefined;
  }

  /**
   * Runs a task on the offload pool (runtime/core/offload.ts): resolves with its output, rejects
   * with an OffloadError (`code` says why). Inside an actor, `ctx.offload` delivers the
   * result as a message instead.
   */
  offload<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): Promise<O> {
    if (this.stateValue === 'terminated') return Promise.reject(new SystemTerminatedError());
    return this.offloads.run(task, input, options);
  }

  /**
   * `ctx.offload`: runs the task for the actor at `ref`, which receives an OffloadResult; its
   * tasks in flight are aborted when it stops (and deliver nothing). Throws
   * InvalidOptionError for bad options (in the actor's turn: its failure).
   */
  offloadFor<I, O>(
    ref: ActorRef<unknown>,
    task: OffloadTask<I, O>,
    input: I,
    options: OffloadRunOptions | undefined,
  ): number {
    const timeoutMs = resolveRunTimeout(options, this.offloads.options.timeoutMs);
    const id = ++this.seq;
    const label = labelOf(task);
    const controller = new AbortController();
    let mine = this.actorOffloads.get(ref.path);
    if (mine === undefined) {
      const entry: ActorOffloads = { controllers: new Set(), unwatch: () => undefined };
      this.actorOffloads.set(ref.path, entry);
      entry.unwatch = this.watch(ref, () => {
        if (this.actorOffloads.get(ref.path) === entry) this.actorOffloads.delete(ref.path);
        for (const c of entry.controllers) c.abort();
        entry.controllers.clear();
      });
      mine = entry;
    }
    const entry = mine;
    entry.controllers.add(controller);
    const done = (): boolean => {
      entry.controllers.delete(controller);
      if (entry.controllers.size === 0 && this.actorOffloads.get(ref.path) === entry) {
        this.actorOffloads.delete(ref.path);
        entry.unwatch();
      }
      // aborted by the actor's stop: nobody to tell
      return !controller.signal.aborted;
    };
    this.offloads.run(task, input, { timeoutMs, signal: controller.signal }).then(
      (value) => {
        if (done())
          ref.tell({
            type: 'troupe.offload.done',
            id,
            task: label,
            value,
          } satisfies OffloadResult<O>);
      },
      (error: OffloadError) => {
        if (done())
          ref.tell({
            type: 'troupe.offload.failed',
            id,
            task: label,
            error,
          } satisfies OffloadResult<O>);
      },
    );
    return id;
  }

  /**
   * The instance of extension `ext` in this system (runtime/core/extension.ts): made now, once,
   * if `options.extensions` did not make it at start.
   */
  extension<T>(ext: Extension<T, any>): T {
    return this.extensions.get(ext);
  }

  /** The instance of extension `ext` in this system, or undefined when none was made. */
  findExtension<T>(ext: Extension<T, any>): T | undefined {
    return this.extensions.find(ext);
  }

  /** Stops every actor; resolves when all have stopped. */
  shutdown(): Promise<TerminationReport> {
    if (this.stateValue === 'running') {
      this.stateValue = 'terminating';
      this.report ??= { reason: 'shutdown' };
      // the parts' phases (the gateway unbinds, entities drain, the cluster is left), then
      // the actors stop
      this.shutdownPhases.run(BEFORE_STOP_PHASES, () => this.user.sendSystem(STOP_SHUTDOWN));
    }
    return this.whenTerminated;
  }

  // ---- SystemCore -------------------------------------------------------------------------

  addressOf(path: ActorPath): Address {
    return formatAddress(this.nodeId, path);
  }

  /**
   * The target of an address this thread does not hold, from the resolvers the parts added
   * (an entity, an actor of another node); null when none of them knows it.
   */
  foreignTarget(address: Address): Target | null {
    for (const resolve of this.resolvers) {
      const t = resolve(address);
      if (t !== undefined) return t;
    }
    return null;
  }

  /**
   * The live target at a path: a temporary receiver, a guardian, an actor found from its
   * guardian, or (with shards) the route to an actor on another shard.
   */
  lookup(path: ActorPath): Target | null {
    const local = this.lookupHere(path);
    return local !== null || this.router === null ? local : this.router.targetFor(path);
  }

  /**
   * The target at a path in this thread: a temporary receiver, a guardian, an actor, or the
   * stand-in of a child placed on another shard (runtime/shards/remote.ts), which forwards.
   */
  lookupHere(path: ActorPath): Target | null {
    const t = this.registry.get(path);
    if (t !== undefined) return t;
    // /user/a/b: from the guardian `/user`, child `a`, its child `b`
    const second = path.indexOf('/', 1);
    if (second < 0) return null;
    let cell = this.registry.get(path.slice(0, second));
    let from = second + 1;
    while (cell instanceof ActorCell) {
      let next = path.indexOf('/', from);
      let child: Target | undefined = cell.kid(
        next < 0 ? path.slice(from) : path.slice(from, next),
      );
      if (child === undefined || (next >= 0 && !(child instanceof ActorCell))) {
        // a placed root whose parent lives on another shard may run here, deeper in the path
        const found = this.detachedBelow(path, next);
        if (found !== null) [child, next] = found;
        else if (child === undefined) return null;
        // below a child on another shard: it lives there
        else return this.router!.targetFor(path);
      }
      if (next < 0) return child;
      cell = child;
      from = next + 1;
    }
    return null;
  }

  /**
   * The deepest-first search for a placed root running here whose path is a prefix of `path`
   * ending at `end` or further (runtime/shards/remote.ts): its cell and where its path ends.
   */
  private detachedBelow(path: string, end: number): [ActorCell, number] | null {
    const detached = this.router?.detached;
    if (detached === undefined || detached.size === 0) return null;
    for (let next = end; ; next = path.indexOf('/', next + 1)) {
      const d = detached.get(next < 0 ? path : path.slice(0, next));
      if (d !== undefined) return [d.cell, next];
      if (next < 0) return null;
    }
  }

  private register(cell: ActorCell): void {
    this.registry.set(cell.path, cell);
  }

  registerTemp(t: TempReceiver): void {
    this.registry.set(t.path, t);
  }

  unregisterTemp(t: TempReceiver): void {
    if (this.registry.get(t.path) === t) this.registry.delete(t.path);
  }

  deadLetter(
    msg: unknown,
    to: ActorRef<unknown>,
    meta: unknown,
    reason: DeadLetterReason,
    error: unknown,
  ): void {
    const sender = senderOf(meta);
    this.deadLetters.publish({
      message: msg instanceof ReplyFailure ? msg.error : msg,
      recipient: to.address,
      ...(sender === undefined ? {} : { sender: sender.address }),
      reason,
      ...(error === undefined ? {} : { error }),
    });
  }

  undeliverable(ref: LocalRef, msg: unknown, meta: unknown): Delivery {
    this.deadLetter(
      msg,
      ref,
      meta,
      this.tombstones.has(ref.path) ? 'ask-timed-out' : 'unknown-actor',
      undefined,
    );
    return 'dead-letter';
  }

  systemUndeliverable(ref: LocalRef, msg: SystemMessage): void {
    if (msg.type === 'watch' || msg.type === 'subscribe') {
      const t: Terminated = { type: 'troupe.terminated', ref, reason: 'unknown-actor' };
      (msg.type === 'watch' ? msg.watcher : msg.subscriber).tell(t);
    }
  }

  sendMeta(cur: ActorCell | null): unknown {
    if (cur === null) return new MessageMeta(null, null, 0, this.telemetry.callerContext());
    return new MessageMeta(cur.ref, null, 0, this.tracing ? cur.traceContext : null, cur.principal);
  }

  ask(ref: LocalRef, msg: unknown, options: AskOptions | undefined): Promise<unknown> {
    let timeout = this.askTimeoutMs;
    let principal: Principal | null | undefined;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null)
        return Promise.reject(new InvalidOptionError('options', options, 'an object'));
      if (options.timeout !== undefined) {
        const t = options.timeout;
        if (typeof t !== 'number' || Number.isNaN(t) || t < 0)
          return Promise.reject(
            new InvalidOptionError('options.timeout', t, 'a number of milliseconds ≥ 0'),
          );
        timeout = t;
      }
      if (options.principal !== undefined)
        try {
          principal = checkPrincipal(options.principal);
        } catch (error) {
          return Promise.reject(error as Error);
        }
    }
    if (this.stateValue === 'terminated') return Promise.reject(new SystemTerminatedError());
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      let entry: TimerEntry | null = null;
      const rcv = new TempReceiver(
        this,
        'ask-' + id,
        (reply) => {
          rcv.close();
          if (entry !== null) this.timers.cancel(entry);
          forget?.();
          if (reply instanceof ReplyFailure) reject(reply.error);
          else resolve(reply);
        },
        (error) => {
          if (entry !== null) this.timers.cancel(entry);
          forget?.();
          reject(error);
        },
      );
      // an ask a part can fail sooner (to a node that goes down) fails at once
      const forget =
        this.askGuards.length === 0
          ? null
          : this.guardAsk(ref, (error) => {
              rcv.close();
              if (entry !== null) this.timers.cancel(entry);
              reject(error);
            });
      if (timeout !== Infinity)
        entry = this.timers.schedule(() => {
          forget?.();
          rcv.close();
          this.tombstone(rcv.path);
          reject(new AskTimeoutError(ref.path, timeout));
        }, timeout);
      const cur = this.current;
      const trace = this.tracing
        ? cur !== null
          ? cur.traceContext
          : this.telemetry.callerContext()
        : null;
      const meta = new MessageMeta(
        cur === null ? null : cur.ref,
        rcv.ref,
        id,
        trace,
        principal !== undefined ? principal : cur === null ? null : cur.principal,
      );
      if (cur !== null && cur.outbox !== null) {
        try {
          cur.deferWithMeta(ref, msg, meta);
        } catch (error) {
          // it cannot cross to the asked actor's shard: the ask fails now
          rcv.close();
          if (entry !== null) this.timers.cancel(entry);
          forget?.();
          reject(error as Error);
        }
        return;
      }
      let d: Delivery;
      try {
        d = ref.deliverWithMeta(msg, meta);
      } catch (error) {
        // it cannot cross (SerializationError, naming the field): nothing is kept for it
        rcv.close();
        if (entry !== null) this.timers.cancel(entry);
        forget?.();
        reject(error as Error);
        return;
      }
      if (d !== 'enqueued') {
        // not delivered (no link to its node, a full mailbox…): nothing is kept for it
        rcv.close();
        if (entry !== null) this.timers.cancel(entry);
        forget?.();
        reject(new AskDeliveryError(ref.path, d));
      }
    });
  }

  /**
   * Asks the parts' guards (ExtensionCore.addAskGuard) to watch an ask to `ref`: the first
   * that knows it can fail sooner calls `fail` then; returns how to forget it, null if none.
   */
  guardAsk(ref: ActorRef<unknown>, fail: (error: Error) => void): (() => void) | null {
    for (const guard of this.askGuards) {
      const forget = guard(ref, fail);
      if (forget !== null) return forget;
    }
    return null;
  }

  private tombstone(path: string): void {
    if (this.tombstones.size >= ASK_TOMBSTONES) {
      const oldest = this.tombstones.values().next().value;
      if (oldest !== undefined) this.tombstones.delete(oldest);
    }
    this.tombstones.add(path);
  }

  // ---- guardians --------------------------------------------------------------------------

  guardianFailed(cell: ActorCell, error: unknown): void {
    this.logger.error(
      `troupe: failure reached the guardian ${cell.path}; the system terminates`,
      error,
    );
    this.report ??= { reason: 'failure', path: cell.path, error };
    this.stateValue = 'terminating';
    cell.sendSystem({ type: 'directive', incarnation: cell.incarnation, directive: 'stop' });
    if (cell === this.sys) this.user.sendSystem(STOP_SHUTDOWN);
  }

  guardianStopped(cell: ActorCell): void {
    if (this.user.lifecycle !== 'stopped') {
      if (cell === this.sys) this.user.sendSystem(STOP_SHUTDOWN);
      return;
    }
    if (this.sys.lifecycle !== 'stopped') {
      this.sys.sendSystem(STOP_SHUTDOWN);
      return;
    }
    this.stateValue = 'terminated';
    this.timers.close();
    const error = new SystemTerminatedError();
    for (const t of [...this.registry.values()]) {
      if (t instanceof TempReceiver) {
        t.close();
        if (t.onAbort !== null) t.onAbort(error);
      }
    }
    const report = this.report ?? { reason: 'shutdown' };
    for (const task of this.onTerminated)
      try {
        task();
      } catch (error) {
        this.logger.error('troupe: a part failed as the system terminated', error);
      }
    if (!this.offloads.started && !this.shutdownPhases.has(AFTER_STOP_PHASES)) {
      void this.offloads.close();
      this.resolveTerminated(report);
      return;
    }
    // this thread's actors are gone: the parts disconnect (the shards stop theirs, links and
    // the gateway close) and release what they share, the offload pool's threads end, then
    // the report
    Promise.all([
      this.offloads.close(),
      new Promise<void>((done) => this.shutdownPhases.run(AFTER_STOP_PHASES, done)),
    ]).then(
      () => this.resolveTerminated(report),
      (error: unknown) => {
        this.logger.error('troupe: the offload pool did not close cleanly', error);
        this.resolveTerminated(report);
      },
    );
  }
}
