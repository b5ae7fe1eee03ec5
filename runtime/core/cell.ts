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
 * Over 600 lines: the cell is one class (the turn loop, children and watches, restarts and
 * stops, persistence, the ActorContext), the hot path among them; its split into modules is
 * issue 23 item 3, to be done with the hot path measured before and after.
 */
import type { OffloadRunOptions, OffloadTask } from './offload.ts';
import { childPath, validateName, type ActorPath } from '../../protocol/address.ts';
import { InvalidOptionError, TroupeError } from './error.ts';
import { Mailbox, MailboxFullError } from './mailbox.ts';
import { LocalRef, type ActorRef, type Delivery, type Target } from './ref.ts';
import { MessageMeta } from './envelope.ts';
import { Outbox } from './outbox.ts';
import type { Snapshots, MessageTap } from './subscribers.ts';
import {
  emit,
  inspectView,
  publishView,
  setTap,
  subscribe,
  unsubscribe,
} from './cell-snapshots.ts';

export type { MessageTap } from './subscribers.ts';
import { AskDeliveryError, ReplyFailure } from './ask.ts';
import {
  ActorFailedError,
  DEFAULT_DIRECTIVE,
  EscalatedError,
  InvalidDirectiveError,
  directiveName,
  isDirective,
  type ChildFailure,
  type Directive,
  type Hook,
} from './failure.ts';
import { dropOutbox, load, save, type Persistence } from './cell-persistence.ts';
import { contextWithSpan } from './telemetry.ts';
import type { Behaviour, InOf, ReplyOf } from './behaviour.ts';
import type { ActorContext } from './context.ts';
import { STOP_NORMAL, STOP_SHUTDOWN, type SystemMessage } from './system-message.ts';
import type { StopReason, Terminated, DeliveryFailed } from './notices.ts';
import type { DeadLetterReason } from './dead-letters.ts';
import { DEFAULT_SHUTDOWN_MS, type ResolvedSpawnOptions, type SpawnOptions } from './options.ts';
import type { TimerEntry } from './timers.ts';
import type { Kernel } from './system.ts';
import type { Context } from '@opentelemetry/api';
import type { Principal } from './principal.ts';

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

/** What to do once the children have stopped and the stop hook has run. */
const AFTER_NOTHING = 0;
const AFTER_STOP = 1;
const AFTER_RESTART = 2;
const AFTER_HALT = 3;

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
  /** Its lifecycle as one of the constants above (a stand-in knows it from the protocol). */
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

/**
 * What a cell needs once it fails or winds down (stop, restart, halt). Most actors never
 * do, or once at their end: keeping it apart saves every idle actor nine fields.
 */
export class Ending {
  failure: unknown = undefined;
  escalated: Set<Kid> | null = null;
  after = AFTER_NOTHING;
  stopQueue: Kid[] | null = null;
  /** The child of `stopQueue` told to stop, whose `child-terminated` advances the queue. */
  stopping: Kid | null = null;
  /** Bumped at each wind-down; async steps of an older one are ignored. */
  epoch = 0;
  shutdownTimer: TimerEntry | null = null;
  pendingHook: { abandoned: boolean } | null = null;
  restartDelayMs = 0;
  stopReason: StopReason = 'normal';
  stopError: unknown = undefined;
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
  /** Its lifecycle (the constants above); this and the fields below to `end` are the cell's own
   * (runtime/core/cell-*.ts), not for other modules. */
  status = STARTING;
  private scheduled = false;
  /** Waiting for an async step (a load, a save, a stop hook): take no turn. */
  waiting = false;
  /** Persistence, subscribers: use the full path. */
  slow: boolean;
  private sysq: SystemMessage[] | null = null;
  /** Meta of the message being handled (null, the sending cell, or a MessageMeta). */
  private handling: unknown = null;
  /** Messages sent during the current message, held until its snapshot is saved. */
  outbox: Outbox | null = null;
  private kids: Map<string | number, Kid> | null = null;
  private nameSeq = 0;
  private watchers: Set<ActorRef<unknown>> | null = null;
  /**
   * The actors it watches (`ctx.watch`), by path: told `unwatch` when it stops, so a watcher
   * that is gone leaves no entry behind in the watched actor's set.
   */
  private watching: Map<string, ActorRef<unknown>> | null = null;
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
        : {
            store: persistence.store,
            key: persistence.key ?? this.path,
            version: null,
          };
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

  private ending(): Ending {
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
    if (mb.size >= mb.capacity) return this.onFull(msg, meta);
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
      this.answerWhenStopped(msg);
      return;
    }
    if ((msg as { spawn?: number }).spawn !== undefined) msg = this.fromRemoteChild(msg);
    if (this.sysq === null) this.sysq = [msg];
    else this.sysq.push(msg);
    this.wake();
  }

  /**
   * A notice from a child on another shard, as it arrives (before this actor's turn): its
   * stand-in learns at once. An end frees its name at once, as a same-thread child's does
   * (whoever waited for that end may spawn the name again before this actor's next turn); a
   * failure suspends the stand-in at once (if its shard then dies, the stand-in does not
   * report a second failure for the same one).
   */
  private fromRemoteChild(m: SystemMessage): SystemMessage {
    if (m.type !== 'child-terminated' && m.type !== 'failed') return m;
    const c = this.kid(nameOf(m.child.path));
    if (c === undefined || c instanceof ActorCell || (c as RemoteKid).spawnId !== m.spawn) return m;
    if (m.type === 'failed') {
      (c as RemoteKid).noteFailed(m.incarnation);
      return m;
    }
    this.kids!.delete(c.key);
    (c as RemoteKid).noteTerminated();
    return { ...m, child: c.ref };
  }

  /** Schedules a turn (system messages, start, mail). */
  wake(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
  }

  private onFull(msg: unknown, meta: unknown): Delivery {
    const mb = this.mailbox;
    switch (mb.overflow) {
      case 'drop-newest':
        return this.deadLetter(msg, meta, 'mailbox-full', undefined, 'dropped');
      case 'drop-oldest': {
        const old = mb.shift();
        const oldMeta = mb.meta;
        this.deadLetter(old, oldMeta, 'dropped-oldest', undefined, 'dropped');
        this.failAsk(oldMeta, 'dropped-oldest');
        mb.push(msg, meta);
        return 'enqueued';
      }
      case 'reject': {
        const error = new MailboxFullError(this.path, mb.capacity, 'reject');
        this.deadLetter(msg, meta, 'mailbox-full', error, 'rejected');
        const sender = senderOf(meta);
        if (sender !== undefined) {
          const notice: DeliveryFailed = {
            type: 'troupe.delivery-failed',
            to: this.ref,
            message: msg,
            error,
          };
          // sent by nobody: a notice that finds the sender's own mailbox full is a dead letter,
          // not the cause of another notice (which would recurse without end)
          (sender as LocalRef).deliverWithMeta(notice, null);
        }
        return 'rejected';
      }
      case 'fail': {
        const error = new MailboxFullError(this.path, mb.capacity, 'fail');
        this.deadLetter(msg, meta, 'mailbox-full', error, 'rejected');
        // the message being saved (if any) was handled: its outbox still goes once it is safe
        this.fail(error, false, undefined, null, null, true);
        return 'rejected';
      }
    }
  }

  /**
   * A message that was accepted and is now lost (the actor stopped with it queued, policy
   * `drop-oldest`, its sender failed): an ask of it fails now, not at its deadline.
   */
  private failAsk(meta: unknown, reason: DeadLetterReason, to: ActorPath = this.path): void {
    if (!(meta instanceof MessageMeta) || meta.replyTo === null) return;
    (meta.replyTo as LocalRef).deliverWithMeta(
      new ReplyFailure(new AskDeliveryError(to, 'dead-letter', reason)),
      null,
    );
  }

  private deadLetter<R extends Delivery>(
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
    if (this.status === STOPPED) return this.answerWhenStopped(m);
    switch (m.type) {
      case 'stop':
        this.beginStop(m.reason, m.error);
        return;
      case 'watch':
        (this.watchers ??= new Set()).add(m.watcher);
        return;
      case 'unwatch':
        this.watchers?.delete(m.watcher);
        return;
      case 'failed':
        this.childFailed(m);
        return;
      case 'directive':
        this.obey(m.incarnation, m.directive);
        return;
      case 'child-terminated':
        this.childTerminated(m.child, m.reason, m.spawn);
        return;
      case 'child-halted':
        this.childHalted(m.child, m.spawn);
        return;
      case 'kill':
        this.kill();
        return;
      case 'halt':
        this.haltSelf();
        return;
      case 'start':
        this.restartFromHalt();
        return;
      case 'subscribe':
        subscribe(this, m);
        return;
      case 'unsubscribe':
        unsubscribe(this, m);
        return;
    }
  }

  /** A system message reached this actor after it stopped. */
  private answerWhenStopped(m: SystemMessage): void {
    if (m.type === 'watch' || m.type === 'subscribe') {
      const e = this.ending();
      const t: Terminated = {
        type: 'troupe.terminated',
        ref: this.ref,
        reason: e.stopReason,
        error: e.stopError,
      };
      (m.type === 'watch' ? m.watcher : m.subscriber).tell(t);
    }
  }

  // ---- failure --------------------------------------------------------------------------

  /** This actor failed: suspend it and tell its parent (runtime/core/failure.ts). */
  fail(
    error: unknown,
    hasMessage: boolean,
    msg: unknown,
    meta: unknown,
    hook: Hook | null = null,
    keepOutbox = false,
  ): void {
    if (this.status !== RUNNING && this.status !== STARTING) return;
    this.status = SUSPENDED;
    this.ending().failure = error;
    // what the failing message sent never leaves; a failure after it was handled (a view, an
    // overflow while its snapshot is saved) keeps its outbox, released once the save is done
    if (!keepOutbox) dropOutbox(this);
    if (hasMessage) {
      this.system.deadLetter(msg, this.ref, meta, 'failed', error);
      if (meta instanceof MessageMeta && meta.replyTo !== null)
        (meta.replyTo as LocalRef).deliverWithMeta(
          new ReplyFailure(new ActorFailedError(this.path, error)),
          null,
        );
    }
    if (this.parent === null) {
      this.system.guardianFailed(this, error);
      return;
    }
    const failed: Extract<SystemMessage, { type: 'failed' }> = hasMessage
      ? {
          type: 'failed',
          child: this.ref,
          incarnation: this.incarnation,
          error,
          message: msg,
        }
      : {
          type: 'failed',
          child: this.ref,
          incarnation: this.incarnation,
          error,
        };
    this.parent.sendSystem(hook === null ? failed : { ...failed, hook });
  }

  private childFailed(m: Extract<SystemMessage, { type: 'failed' }>): void {
    const child = this.kidOf(m.child, m.spawn);
    if (child === undefined || this.status >= STOPPING) return;
    let failure: ChildFailure = m;
    if (!(child instanceof ActorCell)) {
      // a child on another shard: its stand-in learns, and the hook gets the parent's own ref
      (child as RemoteKid).noteFailed(m.incarnation);
      failure = {
        child: child.ref,
        incarnation: m.incarnation,
        error: m.error,
        ...(m.message === undefined ? {} : { message: m.message }),
        ...(m.hook === undefined ? {} : { hook: m.hook }),
      };
    }
    if (this.state === undefined && this.behaviour.onChildFailure !== undefined) {
      // its own init failed (or it is between incarnations): no state to decide with. The
      // child waits, suspended, as an escalated one does: resumed with this actor, stopped
      // with it or by its restart (never a hook called on a missing state, whose throw would
      // be lost)
      (this.ending().escalated ??= new Set()).add(child);
      return;
    }
    let directive: Directive = DEFAULT_DIRECTIVE;
    const decide = this.behaviour.onChildFailure;
    if (decide === undefined) {
      this.system.logger.warn(
        `troupe: ${child.path} failed and was stopped (its parent does not supervise):`,
        m.error,
      );
    } else {
      const sys = this.system;
      const saved = sys.current;
      sys.current = this;
      try {
        const d = decide.call(this.behaviour, failure, this.state as State, this);
        if (!isDirective(d)) throw new InvalidDirectiveError(d);
        directive = d;
      } catch (error) {
        sys.current = saved;
        // a supervisor that cannot decide has failed: its parent decides for it
        (this.ending().escalated ??= new Set()).add(child);
        this.fail(error, false, undefined, null, 'onChildFailure');
        return;
      } finally {
        sys.current = saved;
      }
    }
    if (directiveName(directive) === 'escalate') {
      (this.ending().escalated ??= new Set()).add(child);
      this.fail(new EscalatedError(child.path, m.error), false, undefined, null);
      return;
    }
    child.sendSystem({
      type: 'directive',
      incarnation: m.incarnation,
      directive,
    });
  }

  private obey(incarnation: number, directive: Directive): void {
    if (incarnation !== this.incarnation || this.status !== SUSPENDED) return;
    switch (directiveName(directive)) {
      case 'resume':
        this.status = RUNNING;
        this.ending().failure = undefined;
        this.resumeEscalated();
        this.wake();
        return;
      case 'restart':
        this.ending().restartDelayMs = typeof directive === 'string' ? 0 : (directive.delayMs ?? 0);
        this.windDown(AFTER_RESTART);
        return;
      case 'halt':
        this.windDown(AFTER_HALT);
        return;
      case 'stop':
      case 'escalate':
        this.beginStop('failed', this.ending().failure);
        return;
    }
  }

  private resumeEscalated(): void {
    const d = this.end;
    const e = d === null ? null : d.escalated;
    if (e === null) return;
    d!.escalated = null;
    for (const c of e)
      if (c.kidStatus === SUSPENDED)
        c.sendSystem({
          type: 'directive',
          incarnation: c.incarnation,
          directive: 'resume',
        });
  }

  /** A parent's `halt` (group restarts): wind down like a restart, then wait for `start`. */
  private haltSelf(): void {
    if (this.status === HALTED) {
      this.parent?.sendSystem({ type: 'child-halted', child: this.ref });
      return;
    }
    if (this.status <= SUSPENDED) this.windDown(AFTER_HALT);
  }

  /** A parent's `start` after a halt: the next incarnation starts from init or its snapshot. */
  private restartFromHalt(): void {
    if (this.status !== HALTED) return;
    this.incarnation++;
    this.status = STARTING;
    this.wake();
  }

  // ---- winding down: stop, restart, halt --------------------------------------------------

  private beginStop(reason: StopReason, error: unknown): void {
    if (this.status >= STOPPING) return;
    const inFlight = this.status === RESTARTING;
    const d = this.ending();
    d.stopReason = reason;
    d.stopError = error;
    if (inFlight) {
      // a restart or halt is already stopping children and running the hook: finish as a stop
      this.status = STOPPING;
      d.after = AFTER_STOP;
      return;
    }
    this.windDown(AFTER_STOP);
  }

  /**
   * Stops the children (one at a time, last started first), then runs the stop hook, then
   * continues per `after`. Bounded by this actor's `shutdown`: past it, what has not stopped
   * is killed (no hook) and the hook is abandoned, with a logged reason; `brutal` kills at once.
   */
  private windDown(after: number): void {
    this.status = after === AFTER_STOP ? STOPPING : RESTARTING;
    const d = this.ending();
    d.after = after;
    d.escalated = null;
    const epoch = ++d.epoch;
    if (this.shutdown === 'brutal') {
      this.killChildren();
      this.windDownDone(epoch);
      return;
    }
    if (this.kids !== null && this.kids.size > 0) {
      this.armShutdownTimer(epoch);
      d.stopQueue = this.stopOrder(this.kids);
      this.stopNextChild();
    } else this.childrenStopped(epoch);
  }

  private armShutdownTimer(epoch: number): void {
    const d = this.ending();
    if (d.shutdownTimer !== null || this.shutdown === Infinity || this.shutdown === 'brutal')
      return;
    const ms = this.shutdown;
    d.shutdownTimer = this.system.timers.schedule(() => {
      d.shutdownTimer = null;
      if (epoch !== d.epoch) return;
      this.system.logger.warn(
        `troupe: ${this.path} did not stop within its shutdown of ${ms} ms; its children are killed and its stop hook abandoned`,
      );
      this.system.events.publish({
        type: 'shutdown-timeout',
        actor: this.path,
        shutdownMs: ms,
        at: this.system.clock.now(),
      });
      d.stopQueue = null;
      d.stopping = null;
      this.killChildren();
      this.abandonHook();
      this.windDownDone(epoch);
    }, ms);
  }

  /**
   * The children in start order (the queue stops the last first): the behaviour's
   * `stopOrder` when it has one (a supervisor's child spec list), else spawn order. Children
   * it does not name come after (stop first), in spawn order.
   */
  private stopOrder(kids: Map<string | number, Kid>): Kid[] {
    const order = this.behaviour.stopOrder;
    const state = this.state;
    if (order === undefined || state === undefined) return [...kids.values()];
    let names: readonly string[];
    try {
      names = order.call(this.behaviour, state as State);
    } catch (error) {
      this.system.logger.error(
        `troupe: ${this.path}: stopOrder threw (hook stopOrder); its children stop in reverse spawn order`,
        error,
      );
      return [...kids.values()];
    }
    const queue: Kid[] = [];
    const named = new Set<Kid>();
    for (const n of names) {
      const c = this.kid(n);
      if (c !== undefined && !named.has(c)) {
        named.add(c);
        queue.push(c);
      }
    }
    for (const c of kids.values()) if (!named.has(c)) queue.push(c);
    return queue;
  }

  private stopNextChild(): void {
    const d = this.end;
    const q = d === null ? null : d.stopQueue;
    if (q === null) return;
    let next = q.pop();
    // a child that stopped by itself while queued needs no stop
    while (next !== undefined && next.kidStatus === STOPPED) next = q.pop();
    if (next === undefined) {
      d!.stopQueue = null;
      d!.stopping = null;
      this.childrenStopped(d!.epoch);
      return;
    }
    d!.stopping = next;
    next.sendSystem(STOP_SHUTDOWN);
  }

  private killChildren(): void {
    if (this.kids === null) return;
    for (const c of [...this.kids.values()].reverse()) c.kill();
  }

  /** Immediate stop: children killed first, no stop hook (`brutal`, or a shutdown overrun). */
  kill(): void {
    if (this.status === STOPPED) return;
    const d = this.ending();
    ++d.epoch;
    if (this.status !== STOPPING) {
      d.stopReason = 'shutdown';
      d.stopError = undefined;
    }
    this.status = STOPPING;
    d.stopQueue = null;
    d.stopping = null;
    this.killChildren();
    this.abandonHook();
    this.finishStop();
  }

  private abandonHook(): void {
    const d = this.end;
    const h = d === null ? null : d.pendingHook;
    if (h === null) return;
    d!.pendingHook = null;
    h.abandoned = true;
    this.waiting = false;
    this.system.pendingAsync--;
  }

  /**
   * The child a ref names: its own cell when same-thread (no path parsing); for a child on
   * another shard, its stand-in, when `spawnId` is that spawn's (a notice from an earlier
   * child at the same path is not about this one).
   */
  private kidOf(ref: ActorRef<unknown>, spawnId: number | undefined): Kid | undefined {
    const t = (ref as LocalRef).lastTarget;
    if (t instanceof ActorCell)
      // a notice marked with a spawn came from another shard: never about a cell of this thread
      return spawnId === undefined && t.parent === this && this.kids?.get(t.key) === t
        ? t
        : undefined;
    // the stand-in's own ref: found even once it has left the children (it ended here)
    if (t !== null && (t as Partial<RemoteKid>).parent === this)
      return (t as RemoteKid).spawnId === spawnId ? (t as RemoteKid) : undefined;
    const c = this.kid(nameOf(ref.path));
    if (c === undefined) return undefined;
    if (c instanceof ActorCell) return c.ref === ref ? c : undefined;
    return (c as RemoteKid).spawnId === spawnId && c.ref.path === ref.path ? c : undefined;
  }

  private childTerminated(
    child: ActorRef<unknown>,
    reason: StopReason,
    spawnId: number | undefined,
  ): void {
    // a child of this thread has left the children already (its name is free at once)
    const t = (child as LocalRef).lastTarget;
    const c =
      spawnId === undefined && t instanceof ActorCell && t.parent === this
        ? t
        : this.kidOf(child, spawnId);
    // from another shard, about a spawn that is not this child's (one killed before, whose
    // name another child took since): ignored
    if (c === undefined && spawnId !== undefined) return;
    if (c !== undefined) {
      if (this.kids?.get(c.key) === c) this.kids.delete(c.key);
      if (!(c instanceof ActorCell)) {
        (c as RemoteKid).noteTerminated();
        child = c.ref;
      }
    }
    const d = this.end;
    if (c !== undefined) d?.escalated?.delete(c);
    if (d !== null && d.stopQueue !== null) {
      // only the child told to stop advances the queue: one that stopped by itself (before
      // the wind-down, or while queued) leaves it, and the others still stop one at a time
      if (c !== undefined && c === d.stopping) this.stopNextChild();
      else if (c !== undefined) {
        const i = d.stopQueue.indexOf(c);
        if (i >= 0) d.stopQueue.splice(i, 1);
      }
      return;
    }
    const hook = this.behaviour.onChildTerminated;
    if (hook !== undefined && this.status === RUNNING)
      this.runHook('onChildTerminated', () =>
        hook.call(this.behaviour, child, reason, this.state as State, this),
      );
  }

  private childHalted(child: ActorRef<unknown>, spawnId: number | undefined): void {
    const c = this.kidOf(child, spawnId);
    if (c === undefined && spawnId !== undefined) return;
    if (c !== undefined && !(c instanceof ActorCell)) {
      (c as RemoteKid).noteHalted();
      child = c.ref;
    }
    const hook = this.behaviour.onChildHalted;
    if (hook !== undefined && this.status === RUNNING)
      this.runHook('onChildHalted', () =>
        hook.call(this.behaviour, child, this.state as State, this),
      );
  }

  /** Runs a behaviour hook in this actor's turn; a throw is this actor's failure. */
  private runHook(hook: Hook, run: () => void): void {
    const sys = this.system;
    const saved = sys.current;
    sys.current = this;
    try {
      run();
    } catch (error) {
      sys.current = saved;
      this.fail(error, false, undefined, null, hook);
    } finally {
      sys.current = saved;
    }
  }

  private childrenStopped(epoch: number): void {
    const d = this.ending();
    if (epoch !== d.epoch) return;
    const hook = this.behaviour.stop;
    const state = this.state;
    if (hook === undefined || state === undefined) return this.windDownDone(epoch);
    const sys = this.system;
    let result: void | Promise<void>;
    const saved = sys.current;
    sys.current = this;
    try {
      result = hook.call(this.behaviour, state, this);
    } catch (error) {
      sys.logger.error(`troupe: stop hook of ${this.path} threw (hook stop)`, error);
      result = undefined;
    } finally {
      sys.current = saved;
    }
    let then: unknown;
    try {
      then =
        result === undefined || result === null ? undefined : (result as { then?: unknown }).then;
    } catch (error) {
      // a getter on what the hook returned: as a throw of the hook
      sys.logger.error(`troupe: stop hook of ${this.path} threw (hook stop)`, error);
      then = undefined;
    }
    if (typeof then !== 'function') return this.windDownDone(epoch);
    const pending = { abandoned: false };
    d.pendingHook = pending;
    this.waiting = true;
    sys.pendingAsync++;
    this.armShutdownTimer(epoch);
    const settled = (error?: unknown): void => {
      if (pending.abandoned) return;
      d.pendingHook = null;
      sys.pendingAsync--;
      if (error !== undefined)
        sys.logger.error(`troupe: stop hook of ${this.path} rejected (hook stop)`, error);
      this.waiting = false;
      this.windDownDone(epoch);
      // a halted actor with nothing queued takes no turn: its parent's `start` schedules it,
      // so siblings of a group restart start in the order their parent starts them
      if (this.sysq !== null || this.status !== HALTED) this.wake();
    };
    try {
      (then as (ok: () => void, ko: (e: unknown) => void) => unknown).call(
        result,
        () => settled(),
        (error: unknown) => settled(error ?? new Error('rejected')),
      );
    } catch (error) {
      settled(error);
    }
  }

  private windDownDone(epoch: number): void {
    const d = this.ending();
    if (epoch !== d.epoch) return;
    if (d.shutdownTimer !== null) {
      this.system.timers.cancel(d.shutdownTimer);
      d.shutdownTimer = null;
    }
    const after = d.after;
    d.after = AFTER_NOTHING;
    if (this.status === STOPPING || after === AFTER_STOP) return this.finishStop();
    this.state = undefined;
    d.failure = undefined;
    this.status = HALTED;
    if (after === AFTER_HALT) {
      this.parent?.sendSystem({ type: 'child-halted', child: this.ref });
      return;
    }
    const delayMs = d.restartDelayMs;
    d.restartDelayMs = 0;
    if (delayMs > 0) this.system.timers.schedule(() => this.restartFromHalt(), delayMs);
    else this.restartFromHalt();
  }

  private finishStop(): void {
    this.status = STOPPED;
    const sys = this.system;
    const d = this.ending();
    // killed while its snapshot was being saved: what that message sent never follows the end
    if (this.outbox !== null) dropOutbox(this, 'stopped');
    if (this.mailbox.size > 0)
      this.mailbox.drain((msg, meta) => {
        sys.deadLetter(msg, this.ref, meta, 'stopped', undefined);
        this.failAsk(meta, 'stopped');
      });
    this.state = undefined;
    const watchers = this.watchers;
    const snapshots = this.snapshots;
    const subscribers = snapshots === null ? null : snapshots.subscribers;
    const eventSubscribers = snapshots === null ? null : snapshots.eventSubscribers;
    this.watchers = null;
    const watching = this.watching;
    this.watching = null;
    if (watching !== null)
      for (const r of watching.values())
        (r as LocalRef).sendSystem({ type: 'unwatch', watcher: this.ref });
    if (snapshots !== null) snapshots.subscribers = snapshots.eventSubscribers = null;
    this.slow = false;
    const parent = this.parent;
    // a parent on another shard hears first: its name there is free before any watcher knows
    if (parent !== null && !(parent instanceof ActorCell))
      parent.sendSystem({
        type: 'child-terminated',
        child: this.ref,
        reason: d.stopReason,
      });
    if (watchers !== null || subscribers !== null || eventSubscribers !== null) {
      const terminated: Terminated = {
        type: 'troupe.terminated',
        ref: this.ref,
        reason: d.stopReason,
        error: d.stopError,
      };
      if (watchers !== null)
        for (const w of watchers) {
          const wc = (w as LocalRef).lastTarget;
          if (wc instanceof ActorCell) wc.watchedStopped(this.ref);
          w.tell(terminated);
        }
      if (subscribers !== null)
        for (const s of subscribers) if (watchers === null || !watchers.has(s)) s.tell(terminated);
      if (eventSubscribers !== null)
        for (const s of eventSubscribers)
          if (
            (watchers === null || !watchers.has(s)) &&
            (subscribers === null || !subscribers.has(s))
          )
            s.tell(terminated);
    }
    // leftover system messages: answer watchers and subscribers as a stopped actor does
    const q = this.sysq;
    this.sysq = null;
    if (q !== null) for (const m of q) this.answerWhenStopped(m);
    if (parent === null) sys.guardianStopped(this);
    else if (parent instanceof ActorCell) {
      // the name is free as soon as the actor is gone (a same-thread parent's map is updated at once)
      if (parent.kids?.get(this.key) === this) parent.kids.delete(this.key);
      parent.sendSystem({
        type: 'child-terminated',
        child: this.ref,
        reason: d.stopReason,
      });
    }
  }

  // ---- ActorContext ---------------------------------------------------------------------

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
    const m = this.handling;
    if (m instanceof MessageMeta) return m.replyTo ?? m.from ?? undefined;
    if (m instanceof ActorCell) return m.ref as ActorRef<Reply>;
    if (m instanceof LocalRef) return m as ActorRef<Reply>;
    return undefined;
  }

  reply(value: Reply): void {
    const m = this.handling;
    if (m instanceof MessageMeta) {
      if (m.replyTo !== null) {
        m.replyTo.tell(value);
        return;
      }
      if (m.from !== null) {
        m.from.tell(value);
        return;
      }
    } else if (m instanceof ActorCell) {
      m.ref.tell(value);
      return;
    } else if (m instanceof LocalRef) {
      m.tell(value);
      return;
    }
    this.system.deadLetter(value, this.ref, this, 'no-reply-address', undefined);
  }

  spawn<B extends Behaviour<any, any, any>>(
    behaviour: B,
    options?: SpawnOptions,
  ): ActorRef<InOf<B>, ReplyOf<B>> {
    return this.spawnChild(behaviour, this.system.resolveSpawn(behaviour, options));
  }

  spawnChild<B extends Behaviour<any, any, any>>(
    behaviour: B,
    o: ResolvedSpawnOptions,
  ): LocalRef<InOf<B>, ReplyOf<B>> {
    if (this.status >= STOPPING) throw new ActorStoppedError(this.path, 'spawn children');
    const router = this.system.router;
    if (router === null && o.shard === undefined)
      return this.spawnKeyed(
        behaviour,
        o,
        o.name === undefined ? this.nameSeq++ : validateName(o.name),
      );
    // with shards, the child may be placed on another one (runtime/shards/router.ts)
    const shard =
      router === null ? noShards(o.shard) : router.chooseShard(behaviour, o.shard, this);
    const key = o.name === undefined ? this.nameSeq++ : validateName(o.name);
    if (router !== null && shard !== router.shard)
      return router.spawnRemote(this, behaviour, o, key, shard) as LocalRef<InOf<B>, ReplyOf<B>>;
    return this.spawnKeyed(behaviour, o, key);
  }

  /** Spawns a child of this thread under a key already chosen (a name, or a generated name's number). */
  spawnKeyed<B extends Behaviour<any, any, any>>(
    behaviour: B,
    o: ResolvedSpawnOptions,
    key: string | number,
  ): LocalRef<InOf<B>, ReplyOf<B>> {
    if (this.status >= STOPPING) throw new ActorStoppedError(this.path, 'spawn children');
    const kids = (this.kids ??= new Map());
    if (kids.has(key)) throw new NameTakenError(childPath(this.path, keyName(key)));
    const cell = new ActorCell(this.system, this, key, null, behaviour, o);
    kids.set(key, cell);
    cell.wake();
    return cell.ref as LocalRef<InOf<B>, ReplyOf<B>>;
  }

  stop(ref?: ActorRef<any, any>): void {
    if (ref === undefined || ref === this.ref) this.sendSystem(STOP_NORMAL);
    else (ref as LocalRef).sendSystem(STOP_NORMAL);
  }

  watch(ref: ActorRef<any, any>): void {
    if (this.status >= STOPPING) return;
    // an unbound ref to a live cell of this thread names that spawn
    const t = (ref as LocalRef).target;
    const r = t instanceof ActorCell ? t.ref : ref;
    (this.watching ??= new Map()).set(watchKey(r), r);
    (r as LocalRef).sendSystem({ type: 'watch', watcher: this.ref });
  }

  unwatch(ref: ActorRef<any, any>): void {
    const t = (ref as LocalRef).target;
    const r = t instanceof ActorCell ? t.ref : ref;
    const w = this.watching;
    if (w?.delete(watchKey(r)) === true && w.size === 0) this.watching = null;
    (r as LocalRef).sendSystem({ type: 'unwatch', watcher: this.ref });
  }

  /** A watched actor of this thread has stopped and told this one: nothing to unwatch later. */
  private watchedStopped(watched: ActorRef<unknown>): void {
    const w = this.watching;
    if (w?.delete(watchKey(watched)) === true && w.size === 0) this.watching = null;
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
    return this.kid(name)?.ref;
  }

  get children(): readonly ActorRef<unknown>[] {
    return this.kids === null ? [] : [...this.kids.values()].map((c) => c.ref);
  }

  /** The live child with this name: a cell of this thread, or the stand-in of one on another shard. */
  kid(name: string): Kid | undefined {
    const kids = this.kids;
    if (kids === null) return undefined;
    if (name.charCodeAt(0) !== DOLLAR) return kids.get(name);
    const n = generatedNumber(name);
    return n === null ? undefined : kids.get(n);
  }

  /** The live child cell with this name (same thread). */
  childCell(name: string): ActorCell | undefined {
    const c = this.kid(name);
    return c instanceof ActorCell ? c : undefined;
  }

  /** Live child cells (same thread), in start order. */
  childCells(): readonly ActorCell[] {
    return this.kids === null
      ? []
      : [...this.kids.values()].filter((c): c is ActorCell => c instanceof ActorCell);
  }

  /** Puts a child on another shard among this actor's children (runtime/shards/remote.ts). */
  adoptRemote(kid: RemoteKid): void {
    if (this.status >= STOPPING) throw new ActorStoppedError(this.path, 'spawn children');
    const kids = (this.kids ??= new Map());
    if (kids.has(kid.key)) throw new NameTakenError(kid.ref.path);
    kids.set(kid.key, kid);
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
    const kids = (this.kids ??= new Map());
    const cell = new ActorCell(this.system, this, standIn.key, null, behaviour, o);
    cell.incarnation = incarnation;
    kids.set(standIn.key, cell);
    cell.wake();
    return cell;
  }
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

/** The name a key stands for. */
export function keyName(key: string | number): string {
  return typeof key === 'number' ? generatedName(key) : key;
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

const DOLLAR = 0x24;

/** A watched actor's key among what a cell watches: its spawn and path (runtime/core/ref.ts). */
function watchKey(ref: ActorRef<unknown>): string {
  return `${(ref as LocalRef).uid} ${ref.path}`;
}

/** The name made for the child numbered `n`: `$` and `n` in base 36. */
function generatedName(n: number): string {
  return '$' + n.toString(36);
}

/** The number of a generated name (`$1z` → 71); null when `name` is no name made so. */
function generatedNumber(name: string): number | null {
  const n = parseInt(name.slice(1), 36);
  return Number.isSafeInteger(n) && n >= 0 && generatedName(n) === name ? n : null;
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
