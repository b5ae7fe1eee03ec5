/**
 * The children of the model-based hook test (model-hooks.test.ts): behaviours whose every hook
 * can be made to throw, and a World that arms those faults and records what the behaviours see.
 * Three kinds: a fromReceive worker (with a grandchild for onChildTerminated), a fromMachine
 * child with an `after` timer, and a nested supervisor of one worker.
 *
 * - Faults are armed by the test, one-shot, by child label (a static child's id, a dynamic
 *   child's startChild label, `nestedLabel(label)` for a nested supervisor's worker): the next
 *   call of that hook by any spawn of that child throws (or, for the stop hook, rejects).
 *   Factory faults make the supervisor's factory throw, return IGNORE, or return something
 *   that is not a behaviour. Each fault that is a failure is recorded (`thrown`) to be matched
 *   with the ChildFailure its supervisor is told of (`reports`).
 * - Each spawn gets a token when its factory makes it (a restart reuses the behaviour and keeps
 *   the token; a new spawn at the same path gets a new one). Every message the test sends
 *   names the ref it was sent through (`via`, a cell's own ref: one spawn); a behaviour that
 *   handles a message sent through another ref, or keeps a state of an earlier incarnation, or
 *   a machine timer armed by another incarnation or spawn, records a violation. Behaviours
 *   never assert (a throw would be the actor's failure): the test reads `violations` after
 *   each step.
 */
import { assign, setup } from 'xstate';
import {
  actorContext,
  fromMachine,
  fromReceive,
  IGNORE,
  reply,
  supervise,
  type ActorContext,
  type ActorRef,
  type ActorSystem,
  type Behaviour,
  type ChildFailure,
} from '../../index.ts';

export type FaultHook =
  | 'init'
  | 'restore'
  | 'persist'
  | 'view'
  | 'stop-throw'
  | 'stop-reject'
  | 'onChildTerminated'
  | 'factory-throw'
  | 'factory-ignore'
  | 'factory-bad';

export const FAULT_HOOKS: readonly FaultHook[] = [
  'init',
  'restore',
  'persist',
  'view',
  'stop-throw',
  'stop-reject',
  'onChildTerminated',
  'factory-throw',
  'factory-ignore',
  'factory-bad',
];

/** The order in which `make` takes factory faults (restartChild predictions follow it). */
export const FACTORY_FAULTS = ['factory-throw', 'factory-ignore', 'factory-bad'] as const;

export class HookFault extends Error {
  readonly hook: string;
  readonly label: string;
  constructor(hook: string, label: string) {
    super(`induced ${hook} fault in ${label}`);
    this.hook = hook;
    this.label = label;
  }
}

/** A fault a child's hook threw, and what the runtime must make of it. */
export interface Thrown {
  readonly fault: HookFault;
  /** The hook ChildFailure must name. */
  readonly hook: string;
  readonly ref: ActorRef<unknown>;
  readonly incarnation: number;
  /** Its lifecycle when it threw: only a running or starting actor fails (again). */
  readonly lifecycle: string | undefined;
}

export type MsgKind = 'ping' | 'crash' | 'exit' | 'kid' | 'kill-kid' | 'arm' | 'get' | 'silent';

/**
 * What the test sends to children: `via` is the ref it was sent through (a cell's own ref: one
 * spawn), `spawn` that spawn's token when the test knew it (-1: it had not started yet).
 */
export interface TestMsg {
  readonly type: MsgKind;
  readonly id: number;
  readonly via: ActorRef<unknown>;
  readonly spawn: number;
}

/** A child's answer to `get`. */
export interface Answer {
  readonly spawn: number;
  readonly incarnation: number;
}

export type ChildKind = 'receive' | 'machine' | 'supervisor';

/** The fault label of the worker of a nested supervisor child labelled `label`. */
export function nestedLabel(label: string): string {
  return `${label}.w`;
}

/** startChild's argument for a simple-one-for-one template. */
export interface DynamicArg {
  readonly label: string;
  readonly boom?: boolean;
  readonly ignore?: boolean;
  readonly bad?: boolean;
}

export function isTestMsg(m: unknown): m is TestMsg {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as TestMsg).id === 'number' &&
    typeof (m as TestMsg).spawn === 'number' &&
    typeof (m as TestMsg).via === 'object' &&
    typeof (m as TestMsg).type === 'string'
  );
}

/** The spawn token in a child's view: a receive child's state, a machine's context. */
export function spawnOfView(view: unknown): number | undefined {
  const v = view as { spawn?: unknown; context?: { spawn?: unknown } } | null;
  const s = v?.spawn ?? v?.context?.spawn;
  return typeof s === 'number' ? s : undefined;
}

export class World {
  spawnSeq = 0;
  /** Each child ref (a cell's own ref) and the spawn token its init or restore recorded. */
  readonly tokens = new Map<ActorRef<unknown>, number>();
  readonly violations: string[] = [];
  /** Test message id → how many times a behaviour handled it (to completion). */
  readonly handled = new Map<number, number>();
  /** Faults that fired, by hook (coverage). */
  readonly fired = new Map<string, number>();
  timersRang = 0;
  /** The failures supervisors were told of (their onChildFailure, before they decide). */
  readonly reports: ChildFailure[] = [];
  /** Faults that child hooks threw (those that are failures: not stop, not factories). */
  readonly thrown: Thrown[] = [];
  private readonly armed = new Map<string, FaultHook[]>();
  /** The test's system: the lifecycle a faulting actor had is read from its cell. */
  private readonly system: ActorSystem;

  constructor(system: ActorSystem) {
    this.system = system;
  }

  /** Makes the fault a hook throws, recorded to be matched with its ChildFailure. */
  failure(ctx: ActorContext<any, any>, hook: string, label: string): HookFault {
    const fault = new HookFault(hook, label);
    this.thrown.push({
      fault,
      hook,
      ref: ctx.self,
      incarnation: ctx.incarnation,
      lifecycle: this.system.cellAt(ctx.path)?.lifecycle,
    });
    return fault;
  }

  violation(what: string): void {
    this.violations.push(what);
  }

  arm(label: string, hook: FaultHook): void {
    const list = this.armed.get(label);
    if (list === undefined) this.armed.set(label, [hook]);
    else list.push(hook);
  }

  isArmed(label: string, hook: FaultHook): boolean {
    return this.armed.get(label)?.includes(hook) ?? false;
  }

  /** Takes an armed fault: true once per arming. */
  take(label: string, hook: FaultHook): boolean {
    const list = this.armed.get(label);
    const i = list === undefined ? -1 : list.indexOf(hook);
    if (i < 0) return false;
    list!.splice(i, 1);
    this.fired.set(hook, (this.fired.get(hook) ?? 0) + 1);
    return true;
  }

  /** Takes an init or restore fault (also while the parent winds down). */
  takeStartFault(
    ctx: ActorContext<any, any>,
    label: string,
    hook: 'init' | 'restore',
    persistent: boolean,
  ): boolean {
    void ctx;
    void persistent;
    if (!this.isArmed(label, hook)) return false;
    return this.take(label, hook);
  }

  /** A spawn starts (init or restore): its ref is bound to its token for good. */
  started(ctx: ActorContext<any, any>, token: number): void {
    const prev = this.tokens.get(ctx.self);
    if (prev !== undefined && prev !== token)
      this.violation(`${ctx.path}: one ref started as spawn ${prev} and as spawn ${token}`);
    this.tokens.set(ctx.self, token);
  }

  /** A behaviour got a message: it must be for its spawn, and its state of this incarnation. */
  check(ctx: ActorContext<any, any>, token: number, stateInc: number | undefined, msg: TestMsg) {
    if (msg.via !== ctx.self || (msg.spawn !== -1 && msg.spawn !== token))
      this.violation(
        `${ctx.path}: message ${msg.id} (${msg.type}) sent through ${msg.via.path} (spawn ${msg.spawn}) reached spawn ${token}`,
      );
    if (stateInc !== ctx.incarnation)
      this.violation(
        `${ctx.path}: spawn ${token} incarnation ${ctx.incarnation} handles message ${msg.id} with the state of incarnation ${stateInc}`,
      );
  }

  done(msg: TestMsg): void {
    this.handled.set(msg.id, (this.handled.get(msg.id) ?? 0) + 1);
  }

  /** A machine timer fired: armed by this incarnation of this spawn, or a violation. */
  rang(ctx: ActorContext<any, any>, token: number, context: MachineCtx): void {
    this.timersRang++;
    if (context.armedInc !== ctx.incarnation || context.spawn !== token)
      this.violation(
        `${ctx.path}: a timer armed by spawn ${context.spawn} incarnation ${context.armedInc} fired in spawn ${token} incarnation ${ctx.incarnation}`,
      );
  }

  /** The supervisor's factory for child `label`: a new spawn each call, or a factory fault. */
  make(
    label: string,
    kind: ChildKind,
    persistent: boolean,
  ): Behaviour<any, any, any> | typeof IGNORE {
    if (this.take(label, 'factory-throw')) throw new HookFault('factory', label);
    if (this.take(label, 'factory-ignore')) return IGNORE;
    if (this.take(label, 'factory-bad')) return { kind: 'not-a-behaviour' } as never;
    const token = ++this.spawnSeq;
    if (kind === 'supervisor') return supervisorChild(this, label, token);
    return kind === 'machine'
      ? machineChild(this, label, token, persistent)
      : receiveChild(this, label, token, persistent);
  }

  /** A simple-one-for-one template's factory: the argument can make it throw by itself. */
  makeFromArg(
    arg: unknown,
    kind: ChildKind,
    persistent: boolean,
  ): Behaviour<any, any, any> | typeof IGNORE {
    // a null argument throws TypeError here: an argument that breaks the factory
    const a = arg as DynamicArg;
    if (a.boom === true) throw new HookFault('factory (argument)', a.label);
    if (a.ignore === true) return IGNORE;
    if (a.bad === true) return 42 as never;
    return this.make(a.label, kind, persistent);
  }
}

interface ReceiveState {
  readonly spawn: number;
  readonly inc: number;
  readonly n: number;
}

function stopHook(world: World, label: string): void | Promise<void> {
  if (world.take(label, 'stop-throw')) throw new HookFault('stop', label);
  if (world.take(label, 'stop-reject')) return Promise.reject(new HookFault('stop', label));
  return undefined;
}

/**
 * A fromReceive child; `kid` spawns a grandchild, `kill-kid` stops it (or a new one), which
 * calls onChildTerminated.
 */
function receiveChild(
  world: World,
  label: string,
  token: number,
  persistent: boolean,
): Behaviour<TestMsg, Answer, ReceiveState> {
  // the actor (its context) for the hooks that are not given it: view, persist
  let self: ActorContext<any, any> | null = null;
  return fromReceive<ReceiveState, TestMsg, Answer>(
    (ctx) => {
      self = ctx;
      world.started(ctx, token);
      if (world.takeStartFault(ctx, label, 'init', persistent))
        throw world.failure(ctx, 'init', label);
      return { spawn: token, inc: ctx.incarnation, n: 0 };
    },
    (s, msg, ctx) => {
      if (!isTestMsg(msg)) return s;
      world.check(ctx, token, s.inc, msg);
      let next = s;
      switch (msg.type) {
        case 'crash':
          throw world.failure(ctx, 'receive', label);
        case 'ping':
          next = { ...s, n: s.n + 1 };
          break;
        case 'exit':
          ctx.stop();
          break;
        case 'kid':
          ctx.spawn(fromReceive(null, (x) => x));
          break;
        case 'kill-kid':
          // its grandchild, or a new one, stops: onChildTerminated follows
          ctx.stop(ctx.children[0] ?? ctx.spawn(fromReceive(null, (x) => x)));
          break;
        case 'get':
          ctx.reply({ spawn: s.spawn, incarnation: ctx.incarnation });
          break;
        default:
          break;
      }
      world.done(msg);
      return next;
    },
    {
      view: (s) => {
        if (world.take(label, 'view')) throw world.failure(self!, 'view', label);
        return s;
      },
      stop: () => stopHook(world, label),
      persist: (s) => {
        if (world.take(label, 'persist')) throw world.failure(self!, 'persist', label);
        return { n: s.n };
      },
      restore: (snapshot, ctx) => {
        self = ctx;
        world.started(ctx, token);
        if (world.takeStartFault(ctx, label, 'restore', true))
          throw world.failure(ctx, 'restore', label);
        return { spawn: token, inc: ctx.incarnation, n: (snapshot as { n: number }).n };
      },
      onChildTerminated: (_child, _reason, _s, ctx) => {
        if (world.take(label, 'onChildTerminated'))
          throw world.failure(ctx, 'onChildTerminated', label);
      },
    },
  );
}

export interface MachineCtx {
  readonly spawn: number;
  /** The incarnation that entered `armed` (and armed its `after` timer). */
  readonly armedInc: number;
}

/** The delay of the machine's `after` timer. */
export const MACHINE_TIMER_MS = 300;

/**
 * A fromMachine child: `arm` enters `armed`, whose `after` timer goes back to `idle` and
 * records who armed it; `crash` throws in an action, `exit` reaches a final state (not when
 * persistent), `get` replies. Each hook is wrapped so that it can fault; a stop fault skips the machine's own
 * stop, so its timers stay armed (as after a brutal kill) and must dead-letter.
 */
function machineChild(
  world: World,
  label: string,
  token: number,
  persistent: boolean,
): Behaviour<any, any, any> {
  const machine = setup({
    types: {} as { input: { spawn: number }; context: MachineCtx; events: TestMsg },
  }).createMachine({
    id: 'timer',
    context: ({ input }) => ({ spawn: input.spawn, armedInc: -1 }),
    initial: 'idle',
    on: {
      crash: {
        actions: () => {
          throw world.failure(actorContext('crash'), 'receive', label);
        },
      },
      // a persistent machine would save its final state: each respawn of a permanent child
      // restores it and stops at once, a restart loop only intensity ends (and the test's
      // parent restarts the supervisor without end); it ignores `exit`
      ...(persistent ? {} : { exit: '.done' }),
      get: {
        actions: reply(({ context }: { context: MachineCtx }) => ({
          spawn: context.spawn,
          incarnation: actorContext('get').incarnation,
        })),
      },
    },
    states: {
      idle: { on: { arm: 'armed' } },
      armed: {
        entry: assign({ armedInc: () => actorContext('arm').incarnation }),
        after: {
          [MACHINE_TIMER_MS]: {
            target: 'idle',
            actions: ({ context }) => world.rang(actorContext('rang'), token, context),
          },
        },
      },
      done: { type: 'final' },
    },
  });
  const base = fromMachine(machine, { input: () => ({ spawn: token }) });
  const incOf = new WeakMap<object, number>();
  let self: ActorContext<any, any> | null = null;
  return {
    ...base,
    init(ctx) {
      self = ctx;
      world.started(ctx, token);
      if (world.takeStartFault(ctx, label, 'init', persistent))
        throw world.failure(ctx, 'init', label);
      const s = base.init(ctx);
      incOf.set(s, ctx.incarnation);
      return s;
    },
    receive(s, msg, ctx) {
      const test = isTestMsg(msg);
      if (test) world.check(ctx, token, incOf.get(s), msg);
      const next = base.receive(s, msg, ctx);
      if (test) world.done(msg);
      return next;
    },
    stop(s, ctx) {
      const faulty = stopHook(world, label);
      if (faulty !== undefined) return faulty;
      return base.stop!(s, ctx);
    },
    view(s) {
      if (world.take(label, 'view')) throw world.failure(self!, 'view', label);
      return base.view!(s);
    },
    persist(s) {
      if (world.take(label, 'persist')) throw world.failure(self!, 'persist', label);
      return base.persist!(s);
    },
    restore(snapshot, ctx) {
      self = ctx;
      world.started(ctx, token);
      if (world.takeStartFault(ctx, label, 'restore', true))
        throw world.failure(ctx, 'restore', label);
      // a snapshot at this path may be an earlier spawn's; restore re-arms its pending
      // timers in this incarnation: they are this incarnation's timers now
      const rec = snapshot as { machine: { context: { spawn: number; armedInc: number } } };
      rec.machine.context.spawn = token;
      rec.machine.context.armedInc = ctx.incarnation;
      const s = base.restore!(snapshot, ctx);
      incOf.set(s, ctx.incarnation);
      return s;
    },
  };
}

/**
 * A nested supervisor (one-for-one, intensity 1) of one receive worker, labelled
 * `nestedLabel(label)`. Its own hooks fault too (init, stop, onChildTerminated), and it
 * takes the test's messages: `crash` fails it, `exit` stops it, `get` answers.
 */
function supervisorChild(world: World, label: string, token: number): Behaviour<any, any, any> {
  const worker = nestedLabel(label);
  const base = supervise({
    intensity: 1,
    period: 1_000,
    children: [{ id: 'w', behaviour: () => world.make(worker, 'receive', false) }],
  });
  const incOf = new WeakMap<object, number>();
  const views = new WeakMap<object, { readonly spawn: number }>();
  return {
    ...base,
    init(ctx) {
      world.started(ctx, token);
      if (world.takeStartFault(ctx, label, 'init', false)) throw world.failure(ctx, 'init', label);
      const s = base.init(ctx);
      incOf.set(s, ctx.incarnation);
      return s;
    },
    receive(s, msg, ctx) {
      if (!isTestMsg(msg)) return base.receive(s, msg, ctx);
      world.check(ctx, token, incOf.get(s), msg);
      if (msg.type === 'crash') throw world.failure(ctx, 'receive', label);
      if (msg.type === 'exit') ctx.stop();
      if (msg.type === 'get') ctx.reply({ spawn: token, incarnation: ctx.incarnation });
      world.done(msg);
      return s;
    },
    // the state is mutated in place: one view object per state. No view fault: the test's
    // own whichChildren after each step would set it off
    view(s) {
      let v = views.get(s);
      if (v === undefined) views.set(s, (v = { spawn: token }));
      return v;
    },
    stop(s, ctx) {
      const faulty = stopHook(world, label);
      if (faulty !== undefined) return faulty;
      return base.stop!(s, ctx);
    },
    onChildFailure(f, s, ctx) {
      world.reports.push(f);
      return base.onChildFailure!(f, s, ctx);
    },
    onChildTerminated(child, reason, s, ctx) {
      if (world.take(label, 'onChildTerminated'))
        throw world.failure(ctx, 'onChildTerminated', label);
      base.onChildTerminated!(child, reason, s, ctx);
    },
  };
}
