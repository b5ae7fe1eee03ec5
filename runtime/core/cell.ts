/**
 * The actor cell: one actor's state, mailbox, system queue, children and lifecycle.
 *
 * Lifecycle: `starting` → `running` ⇄ `suspended` (after a failure, until its parent's
 * directive) → `restarting` (children stopped, stop hook run) → `halted` (waiting out a
 * restart delay, or for its parent's `start` in a group restart) → `starting` … →
 * `stopping` → `stopped`. Winding down (stop, restart, halt) is bounded by the actor's
 * `shutdown`: past it, what has not stopped is killed and the stop hook abandoned.
 *
 * One turn (process()): system messages first (stop, watch, directives, child events), then
 * at most `throughput` user messages, each handed to the behaviour. Two paths:
 * - the fast path (no persistence, no snapshot subscribers, no tracer): a tight loop with one
 *   try/catch around the batch, no allocation per message;
 * - the full path: one message at a time, with a span per message when tracing, snapshot
 *   publication to subscribers, and for persistent actors the save-then-release outbox.
 *
 * What happens to messages:
 * - While starting, suspended, restarting or halted: user messages queue (under the
 *   mailbox's capacity and policy) and are handled after.
 * - On failure: the message being handled goes to dead letters (`failed`); the rest stay.
 * - On restart: the mailbox is kept; the actor is the same actor (same path, same refs).
 * - On stop: the current message finishes; queued and later messages go to dead letters
 *   (`stopped`). Children stop first, one at a time in reverse start order; then the
 *   behaviour's `stop` hook runs; then watchers get `troupe.terminated`.
 *
 * The parts of the cell live beside it, as functions taking the cell (they read and write
 * its fields, which only runtime/core/cell*.ts may touch): its children (cell-children.ts),
 * watches (cell-watch.ts), failures and directives (cell-supervision.ts), winding down for a
 * stop, restart or halt (cell-winddown.ts), persistence (cell-persistence.ts) and snapshot
 * subscribers (cell-snapshots.ts). The hot path (deliver, the turn, the fast loop) stays
 * here, calling none of them per message.
 *
 * Over 600 lines: the class is the actor's Target and its ActorContext, whose public members
 * stay on it (one-line calls into the modules above), beside the hot path.
 */
import type { OffloadRunOptions, OffloadTask } from './offload.ts';
import { childPath, type ActorPath } from '../../protocol/address.ts';
import { Mailbox } from './mailbox.ts';
import { LocalRef, type ActorRef, type Delivery, type Target } from './ref.ts';
import { MessageMeta } from './envelope.ts';
import { Outbox } from './outbox.ts';
import type { Snapshots, MessageTap } from './subscribers.ts';
import type { Hook } from './failure.ts';
import { contextWithSpan } from './telemetry.ts';
import type { Behaviour, InOf, ReplyOf } from './behaviour.ts';
import type { ActorContext } from './context.ts';
import { STOP_NORMAL, type SystemMessage } from './system-message.ts';
import type { DeadLetterReason } from './dead-letters.ts';
import { DEFAULT_SHUTDOWN_MS, type ResolvedSpawnOptions, type SpawnOptions } from './options.ts';
import type { Kernel } from './system.ts';
import type { Context } from '@opentelemetry/api';
import type { Principal } from './principal.ts';
import {
  adoptRemote,
  childCells,
  childHalted,
  childTerminated,
  fromRemoteChild,
  generatedName,
  kid,
  respawnHere,
  spawnChild,
  spawnKeyed,
  type Kid,
  type ParentLink,
  type RemoteKid,
} from './cell-children.ts';
import { reply, replyTo } from './cell-context.ts';
import { onFull } from './cell-overflow.ts';
import { load, save, type Persistence } from './cell-persistence.ts';
import {
  emit,
  inspectView,
  publishView,
  setTap,
  subscribe,
  unsubscribe,
} from './cell-snapshots.ts';
import { childFailed, fail, haltSelf, obey, restartFromHalt } from './cell-supervision.ts';
import { answerWhenStopped, unwatch, watch } from './cell-watch.ts';
import { beginStop, Ending, kill } from './cell-winddown.ts';

export type { MessageTap } from './subscribers.ts';
export {
  ActorStoppedError,
  NameTakenError,
  keyName,
  spawnDetached,
  type Kid,
  type ParentLink,
  type RemoteKid,
} from './cell-children.ts';

export const STARTING = 0;
export const RUNNING = 1;
export const SUSPENDED = 2;
/** Winding down for a restart or a halt: stopping children, running the stop hook. */
export const RESTARTING = 3;
/** Halted by its parent (or waiting out a restart delay): takes no turn until `start`. */
export const HALTED = 4;
export const STOPPING = 5;
export const STOPPED = 6;

export type Lifecycle =
  'starting' | 'running' | 'suspended' | 'restarting' | 'halted' | 'stopping' | 'stopped';
const LIFECYCLE: readonly Lifecycle[] = [
  'starting',
  'running',
  'suspended',
  'restarting',
  'halted',
  'stopping',
  'stopped',
];

/** The lifecycle named by one of the status constants above (a Kid's `kidStatus`). */
export function lifecycleName(status: number): Lifecycle {
  return LIFECYCLE[status] ?? 'stopped';
}

/**
 * The cell extends Mailbox rather than holding one: one object per actor instead of two
 * (an allocation and 32 bytes less per actor). Only the cell's own code uses the mailbox,
 * through `this.mailbox`.
 */
export class ActorCell<In = any, Reply = any, State = any>
  extends Mailbox
  implements Target, ActorContext<In, Reply>
{
  readonly system: Kernel;
  /** Its parent: a cell of this thread, a parent on another shard, or null for a guardian. */
  readonly parent: ActorCell | ParentLink | null;
  /**
   * Its key among its parent's children: the name it was given, or for a generated name
   * (`$` and the number in base 36) the number, so that spawning builds no string; the name
   * and the path are made when first asked for.
   */
  readonly key: string | number;
  private pathValue: ActorPath | null;
  readonly ref: LocalRef<In, Reply>;
  readonly behaviour: Behaviour<In, Reply, State>;
  state: State | undefined = undefined;
  /**
   * Its lifecycle (the constants above). This and the fields below, to `end`, are the
   * cell's own (runtime/core/cell*.ts): no other module touches them.
   */
  status = STARTING;
  private scheduled = false;
  /** Waiting for an async step (a load, a save, a stop hook): take no turn. */
  waiting = false;
  /** Persistence, subscribers: use the full path. */
  slow: boolean;
  sysq: SystemMessage[] | null = null;
  /** Meta of the message being handled (null, the sending cell, or a MessageMeta). */
  handling: unknown = null;
  /** Messages sent during the current message, held until its snapshot is saved. */
  outbox: Outbox | null = null;
  kids: Map<string | number, Kid> | null = null;
  nameSeq = 0;
  watchers: Set<ActorRef<unknown>> | null = null;
  /**
   * The actors it watches (`ctx.watch`), by path: told `unwatch` when it stops, so a watcher
   * that is gone leaves no entry behind in the watched actor's set.
   */
  watching: Map<string, ActorRef<unknown>> | null = null;
  /** Snapshot subscribers and the last view sent: made at the first subscription. */
  snapshots: Snapshots | null = null;
  incarnation = 0;
  /** User messages handled so far (counted per turn; the inspector's message rates). */
  handled = 0;
  readonly persistence: Persistence | null;
  /** Failure and wind-down state: made the first time the actor fails or winds down. */
  end: Ending | null = null;
  /** Milliseconds this actor gets to stop (`Infinity`: unbounded), or `brutal`. */
  readonly shutdown: number | 'brutal';
  /** Trace context of the message being handled, when tracing. */
  traceContext: Context | null = null;

  constructor(
    system: Kernel,
    parent: ActorCell | ParentLink | null,
    key: string | number,
    path: ActorPath | null,
    behaviour: Behaviour<In, Reply, State>,
    options: ResolvedSpawnOptions,
  ) {
    super(options.mailbox.capacity, options.mailbox.overflow);
    const persistence = options.persistence;
    this.system = system;
    this.parent = parent;
    this.key = key;
    this.pathValue = path;
    this.behaviour = behaviour;
    this.persistence =
      persistence === null
        ? null
        : { store: persistence.store, key: persistence.key ?? this.path, version: null };
    this.slow = persistence !== null;
    this.shutdown = options.shutdown ?? behaviour.defaultShutdownMs ?? DEFAULT_SHUTDOWN_MS;
    this.ref = new LocalRef<In, Reply>(system, null, this, undefined, false, system.nextUid());
  }

  /** This spawn's uid (runtime/core/ref.ts): its own ref is bound to it (kept there, not twice). */
  get uid(): number {
    return this.ref.uid;
  }

  /** Its name among its siblings. */
  get name(): string {
    const k = this.key;
    return typeof k === 'number' ? generatedName(k) : k;
  }

  /** `/user/a/$3`: made from its parent's path on first use (guardians are given theirs). */
  get path(): ActorPath {
    return (this.pathValue ??= childPath(this.parent!.path, this.name));
  }

  ending(): Ending {
    return (this.end ??= new Ending());
  }

  get mailboxCapacity(): number {
    return this.capacity;
  }

  /** Nothing queued, no turn scheduled, no async step (a load, a save) under way. */
  get quiet(): boolean {
    return this.size === 0 && !this.scheduled && !this.waiting;
  }

  /** This actor's mailbox: the cell itself. */
  get mailbox(): Mailbox {
    return this;
  }

  // ---- Target ---------------------------------------------------------------------------

  get gone(): boolean {
    return this.status === STOPPED;
  }

  get lifecycle(): Lifecycle {
    return LIFECYCLE[this.status]!;
  }

  /** Messages waiting in its mailbox (tools). */
  get mailboxDepth(): number {
    return this.mailbox.size;
  }

  /** Whether anyone subscribes to its snapshots (tools: the inspector samples only then). */
  get hasSnapshotSubscribers(): boolean {
    return this.subscribed;
  }

  /** The tap recording its messages, or null (runtime/inspector). */
  get tap(): MessageTap | null {
    return this.snapshots?.tap ?? null;
  }

  /** Starts or stops recording the messages it handles (the slow path while on). */
  setTap(tap: MessageTap | null): void {
    setTap(this, tap);
  }

  /** Its live children (cells of this thread and stand-ins of ones on other shards), for tools. */
  kidsForInspection(): IterableIterator<Kid> | readonly Kid[] {
    return this.kids === null ? [] : this.kids.values();
  }

  /** What snapshot subscribers see now (its view), for tools; undefined before it starts. */
  inspectView(): unknown {
    return inspectView(this);
  }

  get kidStatus(): number {
    return this.status;
  }

  /** A user message arrives (hot path). */
  deliver(msg: unknown, meta: unknown): Delivery {
    const status = this.status;
    if (status >= STOPPING) return this.deadLetter(msg, meta, 'stopped', undefined, 'dead-letter');
    const mb = this.mailbox;
    if (mb.size >= mb.capacity) return onFull(this, msg, meta);
    mb.push(msg, meta);
    if (!this.scheduled && status === RUNNING && !this.waiting) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
    return 'enqueued';
  }

  /**
   * A timer this actor armed for itself fires (an XState `after`, a supervisor's backoff): it
   * joins the mailbox in order like any message, but its capacity does not drop it. The
   * actor's own timers are bounded by what it armed, and losing one would strand it (a child
   * never restarted, a state never left).
   */
  deliverOwnTimer(msg: unknown, incarnation?: number): Delivery {
    const status = this.status;
    if (status >= STOPPING) return this.deadLetter(msg, null, 'stopped', undefined, 'dead-letter');
    if (incarnation !== undefined && incarnation !== this.incarnation)
      return this.deadLetter(msg, null, 'stale-incarnation', undefined, 'dead-letter');
    this.mailbox.push(msg, null);
    if (!this.scheduled && status === RUNNING && !this.waiting) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
    return 'enqueued';
  }

  sendSystem(msg: SystemMessage): void {
    if (this.status === STOPPED) {
      answerWhenStopped(this, msg);
      return;
    }
    if ((msg as { spawn?: number }).spawn !== undefined) msg = fromRemoteChild(this, msg);
    if (this.sysq === null) this.sysq = [msg];
    else this.sysq.push(msg);
    this.wake();
  }

  /** Schedules a turn (system messages, start, mail). */
  wake(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
  }

  deadLetter<R extends Delivery>(
    msg: unknown,
    meta: unknown,
    reason: DeadLetterReason,
    error: unknown,
    result: R,
  ): R {
    this.system.deadLetter(msg, this.ref, meta, reason, error);
    return result;
  }

  // ---- the turn -------------------------------------------------------------------------

  /** Called by the scheduler. The common case (running, no system message) is kept short. */
  process(): void {
    this.scheduled = false;
    if (this.sysq !== null || this.status !== RUNNING || this.waiting) {
      this.processControl();
      return;
    }
    this.runUser();
  }

  /** System messages, starting, waiting; then user messages if the actor is running. */
  private processControl(): void {
    if (this.waiting) return;
    if (this.sysq !== null) this.drainSystem();
    if (this.status === STARTING && !this.waiting) this.start();
    if (this.status !== RUNNING || this.waiting) return;
    this.runUser();
  }

  private runUser(): void {
    const sys = this.system;
    const mb = this.mailbox;
    if (mb.size === 0) return;
    if (this.slow || sys.tracing) this.runFull(sys.throughput);
    else this.runFast(sys, mb);
    // a system message that came meanwhile has already woken the actor (wake())
    if (mb.size > 0 && !this.scheduled && this.status === RUNNING && !this.waiting) {
      this.scheduled = true;
      sys.scheduler.enqueue(this);
    }
  }

  private runFast(sys: Kernel, mb: Mailbox): void {
    const behaviour = this.behaviour;
    let n = sys.throughput;
    let msg: unknown;
    sys.current = this;
    try {
      do {
        msg = mb.shift();
        this.handling = mb.meta;
        this.state = behaviour.receive(this.state as State, msg as In, this);
      } while (--n > 0 && mb.size > 0 && this.sysq === null && this.status === RUNNING);
    } catch (error) {
      sys.current = null;
      this.handled += sys.throughput - n + 1;
      const meta = this.handling;
      this.handling = null;
      this.fail(error, true, msg, meta, 'receive');
      return;
    }
    this.handled += sys.throughput - n;
    sys.current = null;
    this.handling = null;
  }

  private runFull(throughput: number): void {
    const sys = this.system;
    const mb = this.mailbox;
    const behaviour = this.behaviour;
    const persistent = this.persistence !== null;
    for (let n = throughput; n > 0 && mb.size > 0; n--) {
      const msg = mb.shift();
      const meta = mb.meta;
      const span = sys.tracing
        ? sys.telemetry.startReceive(this.path, behaviour.kind, msg, traceOf(meta))
        : null;
      this.traceContext = span === null ? null : contextWithSpan(traceOf(meta), span);
      if (persistent) this.outbox = new Outbox();
      this.handling = meta;
      this.handled++;
      const tap = this.snapshots?.tap;
      if (tap !== null && tap !== undefined) tap.record(msg, senderOf(meta), sys.clock.now());
      sys.current = this;
      try {
        this.state = behaviour.receive(this.state as State, msg as In, this);
      } catch (error) {
        if (span !== null) sys.telemetry.endWithError(span, error);
        sys.current = null;
        this.handling = null;
        this.traceContext = null;
        this.fail(error, true, msg, meta, 'receive');
        return;
      }
      sys.current = null;
      this.handling = null;
      this.traceContext = null;
      span?.end();
      // the message is handled; a view that throws fails the actor after it (not with it)
      if (this.subscribed && !publishView(this)) return;
      if (persistent) {
        save(this);
        return;
      }
      if (this.sysq !== null || this.status !== RUNNING) return;
    }
  }

  private start(): void {
    if (this.persistence !== null) {
      load(this, this.persistence);
      return;
    }
    const sys = this.system;
    const saved = sys.current;
    sys.current = this;
    try {
      this.state = this.behaviour.init(this);
      this.status = RUNNING;
    } catch (error) {
      sys.current = saved;
      this.fail(error, false, undefined, null, 'init');
      return;
    } finally {
      sys.current = saved;
    }
    if (this.subscribed) publishView(this);
  }

  // ---- persistence (runtime/core/cell-persistence.ts) ----------------------------------

  /** A tell made during a persistent actor's message: held until the snapshot is saved. */
  deferTell(ref: LocalRef, msg: unknown): Delivery {
    const sys = this.system;
    this.outbox!.push(ref, msg, sys.tracing || this.principal !== null ? sys.sendMeta(this) : this);
    return 'enqueued';
  }

  /**
   * An ask made during a persistent actor's message (its meta is already made). Throws as
   * deferTell does.
   */
  deferWithMeta(ref: LocalRef, msg: unknown, meta: unknown): void {
    this.outbox!.push(ref, msg, meta);
  }

  // ---- snapshots for subscribers (runtime/core/cell-snapshots.ts) ----------------------

  get subscribed(): boolean {
    const s = this.snapshots;
    return s !== null && s.subscribers !== null;
  }

  // ---- system messages ------------------------------------------------------------------

  private drainSystem(): void {
    while (this.sysq !== null) {
      const q = this.sysq;
      this.sysq = null;
      for (const m of q) this.handleSystem(m);
      if (this.waiting) return;
    }
  }

  private handleSystem(m: SystemMessage): void {
    if (this.status === STOPPED) return answerWhenStopped(this, m);
    switch (m.type) {
      case 'stop':
        beginStop(this, m.reason, m.error);
        return;
      case 'watch':
        (this.watchers ??= new Set()).add(m.watcher);
        return;
      case 'unwatch':
        this.watchers?.delete(m.watcher);
        return;
      case 'failed':
        childFailed(this, m);
        return;
      case 'directive':
        obey(this, m.incarnation, m.directive);
        return;
      case 'child-terminated':
        childTerminated(this, m.child, m.reason, m.spawn);
        return;
      case 'child-halted':
        childHalted(this, m.child, m.spawn);
        return;
      case 'kill':
        kill(this);
        return;
      case 'halt':
        haltSelf(this);
        return;
      case 'start':
        restartFromHalt(this);
        return;
      case 'subscribe':
        subscribe(this, m);
        return;
      case 'unsubscribe':
        unsubscribe(this, m);
        return;
    }
  }

  // ---- failure and winding down (runtime/core/cell-supervision.ts, cell-winddown.ts) ----

  /** This actor failed: suspend it and tell its parent (runtime/core/failure.ts). */
  fail(
    error: unknown,
    hasMessage: boolean,
    msg: unknown,
    meta: unknown,
    hook: Hook | null = null,
    keepOutbox = false,
  ): void {
    fail(this, error, hasMessage, msg, meta, hook, keepOutbox);
  }

  /** Immediate stop: children killed first, no stop hook (`brutal`, or a shutdown overrun). */
  kill(): void {
    kill(this);
  }

  // ---- ActorContext (its longer parts: runtime/core/cell-context.ts) -----------------

  get self(): ActorRef<In, Reply> {
    return this.ref;
  }

  get sender(): ActorRef<unknown> | undefined {
    return senderOf(this.handling);
  }

  /**
   * Who the message being handled acts for (stamped by the gateway, runtime/core/principal.ts):
   * what this actor tells and asks while it handles it acts for the same principal.
   */
  get principal(): Principal | null {
    const m = this.handling;
    return m instanceof MessageMeta ? m.principal : null;
  }

  get replyTo(): ActorRef<Reply> | undefined {
    return replyTo(this);
  }

  reply(value: Reply): void {
    reply(this, value);
  }

  spawn<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>> {
    return spawnChild(this, behaviour, this.system.resolveSpawn(behaviour, options));
  }

  stop(ref?: ActorRef<any, any>): void {
    if (ref === undefined || ref === this.ref) this.sendSystem(STOP_NORMAL);
    else (ref as LocalRef).sendSystem(STOP_NORMAL);
  }

  watch(ref: ActorRef<any, any>): void {
    watch(this, ref);
  }

  unwatch(ref: ActorRef<any, any>): void {
    unwatch(this, ref);
  }

  halt(child: ActorRef<any, any>): void {
    (child as LocalRef).sendSystem({ type: 'halt' });
  }

  startHalted(child: ActorRef<any, any>): void {
    (child as LocalRef).sendSystem({ type: 'start' });
  }

  offload<I, O>(task: OffloadTask<I, O>, input: I, options?: OffloadRunOptions): number {
    return this.system.offloadFor(this.ref, task, input, options);
  }

  emit(event: unknown): void {
    emit(this, event);
  }

  remindAt(time: number | Date, msg: In): void {
    this.system.remindAt(this.ref, time, msg);
  }

  child(name: string): ActorRef<unknown> | undefined {
    return kid(this, name)?.ref;
  }

  get children(): readonly ActorRef<unknown>[] {
    return this.kids === null ? [] : [...this.kids.values()].map((c) => c.ref);
  }

  // ---- children (runtime/core/cell-children.ts) -------------------------------------------

  /** `spawn` with its options resolved: here, or on the shard the router picks. */
  spawnChild<B extends Behaviour<any, any, any>>(
    behaviour: B,
    o: ResolvedSpawnOptions,
  ): LocalRef<InOf<B>, ReplyOf<B>> {
    return spawnChild(this, behaviour, o);
  }

  /** Spawns a child of this thread under a key already chosen (a name, or a generated name's number). */
  spawnKeyed<B extends Behaviour<any, any, any>>(
    behaviour: B,
    o: ResolvedSpawnOptions,
    key: string | number,
  ): LocalRef<InOf<B>, ReplyOf<B>> {
    return spawnKeyed(this, behaviour, o, key);
  }

  /** The live child with this name: a cell of this thread, or the stand-in of one on another shard. */
  kid(name: string): Kid | undefined {
    return kid(this, name);
  }

  /** The live child cell with this name (same thread). */
  childCell(name: string): ActorCell | undefined {
    const c = kid(this, name);
    return c instanceof ActorCell ? c : undefined;
  }

  /** Live child cells (same thread), in start order. */
  childCells(): readonly ActorCell[] {
    return childCells(this);
  }

  /** Puts a child on another shard among this actor's children (runtime/shards/remote.ts). */
  adoptRemote(kid: RemoteKid): void {
    adoptRemote(this, kid);
  }

  /** A stand-in whose child ended leaves the children (its name is free). */
  dropKid(kid: Kid): void {
    if (this.kids?.get(kid.key) === kid) this.kids.delete(kid.key);
  }

  /**
   * A child that ran on another shard starts again here, in place of its stand-in (no other
   * shard runs): same key and path, the next incarnation.
   */
  respawnHere(
    standIn: Kid,
    behaviour: Behaviour<any, any, any>,
    o: ResolvedSpawnOptions,
    incarnation: number,
  ): ActorCell {
    return respawnHere(this, standIn, behaviour, o, incarnation);
  }
}

/**
 * The sender a message's meta names: the meta is the sending cell (same thread), a
 * MessageMeta (asks, traces), or the sender's ref (a tell from another shard).
 */
export function senderOf(meta: unknown): ActorRef<unknown> | undefined {
  if (meta instanceof ActorCell) return meta.ref;
  if (meta instanceof MessageMeta) return meta.from ?? undefined;
  if (meta instanceof LocalRef) return meta;
  return undefined;
}

function traceOf(meta: unknown): Context | null {
  if (meta instanceof MessageMeta) return meta.trace;
  if (meta instanceof ActorCell) return meta.traceContext;
  return null;
}

/**
 * Delivers a timer message an actor armed for itself (see ActorCell.deliverOwnTimer); to a
 * ref that is not a live cell of this thread it is an ordinary tell. With `incarnation` (the
 * arming incarnation's `ctx.incarnation`), a timer of an earlier incarnation is a dead letter
 * (`stale-incarnation`), never a message to the restarted actor; `self` being bound to its
 * spawn (runtime/core/ref.ts), a timer never reaches a new actor spawned at the same path.
 */
export function deliverOwnTimer(
  self: ActorRef<unknown>,
  msg: unknown,
  incarnation?: number,
): Delivery {
  const t = (self as LocalRef).target;
  return t instanceof ActorCell ? t.deliverOwnTimer(msg, incarnation) : self.tell(msg);
}
