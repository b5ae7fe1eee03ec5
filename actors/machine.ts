/**
 * fromMachine: an XState v5 machine as a troupe behaviour.
 *
 * - Messages are the machine's events; one message is one `actor.send`.
 * - The machine's snapshot is its state; what persistence stores is
 *   `{ machine: actor.getPersistedSnapshot(), timers }`, refs in the context included.
 * - Failure: an action or guard that throws puts XState's actor in status `error`; troupe
 *   turns that into a failure of this actor (the supervisor decides). Reaching a final state
 *   stops the actor normally.
 * - Timers: the machine runs on troupe's clock (XState's `clock` option): every delayed
 *   transition (`after`) and delayed send is an entry in the system's timer heap, and fires as
 *   a message through this actor's mailbox, so it is handled in the actor's turn (snapshot
 *   saved, subscribers told) like any other message. Their due times are persisted with the
 *   snapshot and re-armed on restore, so a restored machine's pending `after` transitions fire
 *   when due (bare XState drops them: statelyai/xstate#5331). Timers of XState children
 *   invoked inside the machine are not persisted.
 * - Talking to troupe: `sendTo(ref, event)` works with troupe refs (they implement what XState
 *   calls on a target; `asTarget(ref)` gives the type XState expects); `reply(fn)` answers
 *   the ask being handled; `spawnActor(behaviour, options)` inside `assign` spawns a
 *   supervised troupe child. XState's own `spawnChild`/`invoke` stay internal to the machine.
 *
 * Pinned to xstate ~5.33: troupe relies on `target._send(event)` (how `sendTo` delivers), on
 * `actor.system.scheduler` and on `actor.eventListeners` (where emitted events are looked up);
 * test/actors/machine.test.ts and test/runtime/emit.test.ts fail if any changes.
 */
import {
  createActor,
  type Actor,
  type AnyActorRef,
  type AnyStateMachine,
  type EventFromLogic,
  type InputFrom,
} from 'xstate';
import { actorContext, enterActorContext, leaveActorContext } from './current.ts';
import { isActorRef, type ActorRef } from '../runtime/core/ref.ts';
import { deliverOwnTimer } from '../runtime/core/cell.ts';
import type { Behaviour, InOf, ReplyOf } from '../runtime/core/behaviour.ts';
import type { ActorContext } from '../runtime/core/context.ts';
import type { SpawnOptions } from '../runtime/options.ts';
import type { TimerEntry, TimerQueue } from '../runtime/core/timers.ts';

/** A machine timer that fired: travels through the mailbox, runs in the actor's turn. */
class TimerFire {
  fn: (() => void) | null;
  constructor(fn: () => void) {
    this.fn = fn;
  }
}

interface TimerHandle {
  readonly entry: TimerEntry;
  readonly fire: TimerFire;
}

interface ScheduledEvent {
  readonly source: unknown;
  readonly target: unknown;
  readonly event: unknown;
  readonly delay: number;
  readonly id: string;
  readonly startedAt: number;
}

function scheduledEvents(actor: Actor<AnyStateMachine>): Record<string, ScheduledEvent> {
  return (actor.system.getSnapshot() as { _scheduledEvents: Record<string, ScheduledEvent> })
    ._scheduledEvents;
}

interface PersistedTimer {
  readonly id: string;
  readonly event: unknown;
  /** null: the machine itself; else a troupe ref. */
  readonly to: ActorRef<unknown> | null;
  /** Due time on the system clock (epoch ms). */
  readonly due: number;
}

export interface MachineSnapshotRecord {
  readonly machine: unknown;
  readonly timers: readonly PersistedTimer[];
}

export interface MachineState<M extends AnyStateMachine = AnyStateMachine> {
  readonly actor: Actor<M>;
  readonly clock: MachineClock;
  /** Due times (system clock) of the machine's own scheduled events, made when first persisted. */
  dues: WeakMap<object, number> | null;
  lastSnapshot: unknown;
  lastView: unknown;
}

/** What snapshot subscribers see for a machine. */
export interface MachineView {
  readonly value: unknown;
  readonly context: unknown;
  readonly status: string;
  readonly output?: unknown;
}

export interface MachineOptions<M extends AnyStateMachine> {
  /** The machine's input at each start: a value or `(ctx) => value`. */
  readonly input?: InputFrom<M> | ((ctx: ActorContext<any, any>) => InputFrom<M>);
  readonly schemaVersion?: number;
  readonly migrate?: (snapshot: unknown, fromVersion: number) => unknown;
}

/**
 * The clock a machine runs on: XState's timers become entries of the system's timer heap,
 * and fire as a TimerFire message through the actor's mailbox. One per incarnation: a timer
 * of an incarnation that has ended (a restart that ran no stop hook, `brutal`) is a dead
 * letter, never an event of its successor (runtime/core/cell.ts, deliverOwnTimer).
 */
export class MachineClock {
  private readonly timers: TimerQueue;
  private readonly self: ActorRef<unknown>;
  private readonly incarnation: number;
  /**
   * The due time (this clock) of each timer XState armed and has not yet fired or cancelled,
   * in the order it armed them: the order of its scheduled events, so persist can read each
   * event's due time exactly (XState stamps events with Date.now(), which a simulated clock
   * does not follow and a busy thread drifts from).
   */
  readonly armed = new Map<TimerFire, number>();
  constructor(timers: TimerQueue, self: ActorRef<unknown>, incarnation: number) {
    this.timers = timers;
    this.self = self;
    this.incarnation = incarnation;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const fire = new TimerFire(fn);
    const self = this.self;
    const incarnation = this.incarnation;
    this.armed.set(fire, this.timers.clock.now() + ms);
    return {
      fire,
      entry: this.timers.schedule(() => deliverOwnTimer(self, fire, incarnation), ms),
    };
  }
  clearTimeout(h: TimerHandle): void {
    this.timers.cancel(h.entry);
    this.armed.delete(h.fire);
    h.fire.fn = null;
  }
  now(): number {
    return this.timers.clock.now();
  }
}

/** Emitted events of every machine go to the running actor's event subscribers. */
const FORWARD_EMITS: ReadonlySet<(event: unknown) => void> = new Set([
  (event: unknown) => actorContext('emit').emit(event),
]);

/** XState rethrows an actor's error when nobody observes it; troupe reads errors from the snapshot. */
const QUIET = { error: (): void => undefined };

export function fromMachine<M extends AnyStateMachine, Reply = unknown>(
  machine: M,
  options: MachineOptions<M> = {},
): Behaviour<EventFromLogic<M>, Reply, MachineState<M>> {
  const inputOf = (ctx: ActorContext<any, any>): unknown =>
    typeof options.input === 'function'
      ? (options.input as (c: ActorContext<any, any>) => unknown)(ctx)
      : options.input;

  const start = (
    ctx: ActorContext<any, any>,
    snapshot: unknown,
    timers: readonly PersistedTimer[],
  ): MachineState<M> => {
    const timerQueue = ctx.system.timers;
    const input = inputOf(ctx);
    const clock = new MachineClock(timerQueue, ctx.self as ActorRef<unknown>, ctx.incarnation);
    const actor: Actor<M> = createActor(machine, {
      clock,
      ...(snapshot === undefined ? {} : { snapshot: snapshot as never }),
      ...(input === undefined ? {} : { input: input as never }),
    });
    const state: MachineState<M> = {
      actor,
      clock,
      dues: null,
      lastSnapshot: undefined,
      lastView: undefined,
    };
    actor.subscribe(QUIET);
    // XState's `emit` action: to the actor's event subscribers (it runs inside a `send`, in the
    // turn). One listener set shared by every machine, put straight into the actor's listener
    // map: `actor.on('*', …)` would make a Set and a bound function per actor (about 300 bytes)
    (
      actor as unknown as { eventListeners: Map<string, ReadonlySet<(e: unknown) => void>> }
    ).eventListeners.set('*', FORWARD_EMITS);
    const saved = enterActorContext(ctx);
    try {
      actor.start();
      if (timers.length > 0) {
        // re-arm the timers a restored machine had pending, at their remaining time
        const dues = (state.dues = new WeakMap());
        const now = timerQueue.clock.now();
        for (const t of timers) {
          actor.system.scheduler.schedule(
            actor,
            (t.to ?? actor) as never,
            t.event as never,
            Math.max(0, t.due - now),
            t.id,
          );
          const ev = Object.values(scheduledEvents(actor)).find(
            (e) => e.source === actor && e.id === t.id,
          );
          if (ev !== undefined) dues.set(ev, t.due);
        }
      }
    } finally {
      leaveActorContext(saved);
    }
    settle(actor, ctx);
    return state;
  };

  return {
    kind: 'machine',
    ...(options.schemaVersion === undefined ? {} : { schemaVersion: options.schemaVersion }),
    ...(options.migrate === undefined ? {} : { migrate: options.migrate }),
    init: (ctx) => start(ctx, undefined, []),
    receive(state, msg, ctx) {
      const saved = enterActorContext(ctx);
      try {
        if ((msg as unknown) instanceof TimerFire) {
          const fire = msg as unknown as TimerFire;
          // only this incarnation's clock armed it: one armed before a restart (delivered, or
          // queued while the actor waited out a restart delay) is stale, never run
          if (!state.clock.armed.has(fire)) {
            if (fire.fn !== null)
              ctx.system.deadLetters.publish({
                message: msg,
                recipient: ctx.self.address,
                reason: 'stale-incarnation',
              });
          } else {
            const fn = fire.fn;
            fire.fn = null;
            state.clock.armed.delete(fire);
            if (fn !== null) fn();
          }
        } else state.actor.send(msg);
      } finally {
        leaveActorContext(saved);
      }
      settle(state.actor, ctx);
      return state;
    },
    stop(state) {
      state.actor.stop();
    },
    persist(state): MachineSnapshotRecord {
      const actor = state.actor;
      const events = scheduledEvents(actor);
      // each timer's due time on the system clock: as the clock recorded it when XState armed
      // it (armed, in the same order as the events); failing that (they do not line up), fixed
      // when first seen, from XState's Date.now() stamp
      const keys = Object.keys(events);
      const armed = [...state.clock.armed.values()];
      const aligned = armed.length === keys.length;
      const dues = (state.dues ??= new WeakMap());
      // XState's own time base: its startedAt stamps are Date.now(), so this reading must be too
      // eslint-disable-next-line no-restricted-properties -- compared with XState's Date.now() stamps
      const now = Date.now();
      const timers: PersistedTimer[] = [];
      for (let i = 0; i < keys.length; i++) {
        const ev = events[keys[i]!]!;
        if (ev.source !== actor) continue;
        const to = ev.target === actor ? null : isActorRef(ev.target) ? ev.target : undefined;
        if (to === undefined) continue; // aimed at an XState-internal child: not persisted
        let due = aligned ? armed[i] : dues.get(ev);
        if (due === undefined) {
          due = state.clock.now() + Math.max(0, ev.startedAt + ev.delay - now);
          dues.set(ev, due);
        }
        timers.push({ id: ev.id, event: ev.event, to, due });
      }
      return { machine: actor.getPersistedSnapshot(), timers };
    },
    restore(snapshot, ctx) {
      const rec = snapshot as MachineSnapshotRecord;
      return start(ctx, rec.machine, rec.timers ?? []);
    },
    view(state): MachineView {
      const snap = state.actor.getSnapshot() as {
        value: unknown;
        context: unknown;
        status: string;
        output?: unknown;
      };
      if (snap === state.lastSnapshot) return state.lastView as MachineView;
      state.lastSnapshot = snap;
      const view: MachineView =
        snap.output === undefined
          ? { value: snap.value, context: snap.context, status: snap.status }
          : { value: snap.value, context: snap.context, status: snap.status, output: snap.output };
      state.lastView = view;
      return view;
    },
  };
}

/** After a send: an error status is a failure; a final state stops the actor. */
function settle(actor: Actor<AnyStateMachine>, ctx: ActorContext<any, any>): void {
  const snap = actor.getSnapshot() as { status: string; error?: unknown };
  if (snap.status === 'active') return;
  if (snap.status === 'error') throw snap.error;
  if (snap.status === 'done') ctx.stop();
}

/**
 * An XState action that answers the ask being handled with `fn(args)`.
 * `actions: reply(({ context }) => context.count)`
 */
export function reply<A>(fn: (args: A) => unknown): (args: A) => void {
  return (args: A) => actorContext('reply()').reply(fn(args));
}

/**
 * Spawns a supervised troupe child of the running actor; use inside `assign`:
 * `assign({ worker: () => spawnActor(workerBehaviour, { name: 'worker' }) })`.
 */
export function spawnActor<B extends Behaviour<any, any, any>>(
  behaviour: B,
  options?: SpawnOptions,
): ActorRef<InOf<B>, ReplyOf<B>> {
  return actorContext('spawnActor()').spawn(behaviour, options);
}

/** A troupe ref typed as the target XState's `sendTo` expects (it works at run time as it is). */
export function asTarget(ref: ActorRef<any, any>): AnyActorRef {
  return ref as unknown as AnyActorRef;
}
