/**
 * Model-based property test of the boundary around user code, under supervision. A supervisor
 * (random strategy: one-for-one, one-for-all, rest-for-one, simple-one-for-one; restart types;
 * intensity 0–3 or 1,000; backoff or not) runs under a parent that restarts it (at once or
 * after a delay) when it gives up. Its children (model-hooks-support.ts: fromReceive workers
 * with a grandchild, fromMachine children with an `after` timer, nested supervisors; some
 * persistent in an InMemoryStore, some `brutal`, some with a small mailbox that fails or drops
 * the oldest) throw at random from every hook: init, receive, view (snapshot subscribers
 * attached with system.subscribe), persist, restore, stop (a throw and a rejected promise),
 * onChildTerminated, and their factories (also through startChild's argument). Snapshot
 * listeners throw too. Random steps: tell, ask (finite timeouts), subscribe, unsubscribe,
 * startChild, terminateChild, restartChild, deleteChild, system.stop, ctx.watch from a watcher
 * actor (itself stopped and replaced now and then), arming a fault, advancing the simulated
 * clock.
 *
 * After every step (the system settled: a system still busy after SETTLE_TURNS scheduler
 * turns fails as a livelock) it checks:
 * 1. the process survives: no uncaught exception nor unhandled rejection (process listeners
 *    for the file's duration), `system.current` is null, the system and the supervisor run;
 * 2. every ask settles: one to a stopped actor at once (AskDeliveryError), every one by its
 *    deadline, none times out early, one rejected early names why its message was lost (the
 *    dead letter's reason), `get` answers from the spawn asked, `silent` never answers;
 * 3. whichChildren and countChildren (of the supervisor, and of each nested one running)
 *    match the live cells: each listed ref is the actor at its path (halted when `restarting`,
 *    else running, its type its behaviour's), a child listed down has no actor, every live
 *    child cell is listed, the counts add up; the specs kept follow the API (spec order, a
 *    terminated child stays down, a terminated dynamic or temporary one and a deleted one are
 *    gone, a temporary child is never listed down, a dynamic one only while it waits to
 *    restart), and startChild, restartChild, terminateChild and deleteChild answer what the
 *    last listing predicts;
 * 4. no message reaches a wrong spawn or incarnation: each message names the ref it was sent
 *    through, and only that spawn handles it, with its own incarnation's state; a stopped
 *    spawn's ref dead-letters; no machine timer fires in an incarnation or spawn that did not
 *    arm it; a subscriber never sees another spawn's view, nor anything after it threw, was
 *    unsubscribed or was told `terminated`, and a running actor's subscribers have its
 *    current view; a watcher is told `terminated` for each watched ref that stopped and for
 *    none that lives, and a watcher that stopped is told nothing;
 * 5. each hook's throw does what runtime/core/failure.ts says: a failure (init, receive, view,
 *    persist, restore, onChildTerminated) is reported to the supervisor once, naming the
 *    hook, the child and its incarnation; a stop hook's throw or rejection is logged
 *    `(hook stop)`; only the failing message is dead-lettered `failed`; no message is handled
 *    or dead-lettered twice;
 * and at the end (the clock past every deadline, then shutdown) that shutdown resolves and
 * every message sent was handled or dead-lettered exactly once.
 *
 * The bugs it found are fixed; each is kept, on its smallest case, at the end of this file.
 *
 * A failure prints fast-check's seed, path and shrunk counterexample; replay it with
 * TROUPE_HOOKS_SEED=<seed> TROUPE_HOOKS_PATH=<path>, or put the counterexample (the JSON
 * array) in a file and run TROUPE_HOOKS_CASE=<file>. TROUPE_HOOKS_RUNS sets the number of
 * runs (default 200, about 4 s), TROUPE_HOOKS_COVERAGE=1 prints what fired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { setup } from 'xstate';
import { readFileSync } from 'node:fs';
import {
  actorContext,
  AskDeliveryError,
  AskTimeoutError,
  countChildren,
  deleteChild,
  fromMachine,
  fromReceive,
  InMemoryStore,
  restartChild,
  startChild,
  supervise,
  terminateChild,
  whichChildren,
  type ActorRef,
  type ActorSystem,
  type ChildCounts,
  type ChildFailure,
  type ChildInfo,
  type ChildSpec,
  type PersistenceStore,
  type SnapshotUpdate,
  type SupervisorRef,
  type Terminated,
} from '../../index.ts';
import { nextTurn } from '../../testing.ts';
import { testSystem, type TestSystem } from '../support/system.ts';
import {
  FACTORY_FAULTS,
  FAULT_HOOKS,
  HookFault,
  isTestMsg,
  nestedLabel,
  spawnOfView,
  World,
  type ChildKind,
  type DynamicArg,
  type FaultHook,
  type MsgKind,
  type TestMsg,
} from './model-hooks-support.ts';

const RUNS = Number(process.env.TROUPE_HOOKS_RUNS ?? 200);
const SEED = process.env.TROUPE_HOOKS_SEED;
const PATH = process.env.TROUPE_HOOKS_PATH;

const SUP = '/user/top/sup';
const API = { timeout: 1_000 };
/**
 * restartChild and deleteChild on a simple-one-for-one supervisor: OTP's
 * `{error, simple_one_for_one}` (ERR_SIMPLE_ONE_FOR_ONE, supervisors/requests.ts), or, before
 * that code, ERR_CHILD_NOT_FOUND.
 */
const SIMPLE_REFUSALS = ['ERR_SIMPLE_ONE_FOR_ONE', 'ERR_CHILD_NOT_FOUND'];
/** The capacity of the children's small mailboxes (queued while they are halted). */
const MAILBOX_CAPACITY = 2;
/** Longest ask timeout the steps use: the final advance goes past it. */
const MAX_ASK_MS = 2_000;

/**
 * Runs the system to idle, as testing's `settle`, but gives up after SETTLE_TURNS scheduler
 * turns (the runs are small: a system still busy then is a livelock, a finding, not a slow
 * test; testing's `settle` would let it run 100,000 event-loop turns of up to 65,536 batches).
 */
const SETTLE_TURNS = 50_000;
async function settle(system: ActorSystem): Promise<void> {
  const start = system.scheduler.turns;
  for (;;) {
    await nextTurn();
    if (system.isIdle) return;
    if (system.scheduler.turns - start > SETTLE_TURNS)
      throw new Error(`the system is still busy after ${SETTLE_TURNS} turns (a livelock)`);
  }
}

// ---- the process must survive ---------------------------------------------------------------

const processErrors: unknown[] = [];
const onUncaught = (e: unknown): void => void processErrors.push(e);
beforeAll(() => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

// ---- generators ---------------------------------------------------------------------------

type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one' | 'simple-one-for-one';
type Restart = 'permanent' | 'transient' | 'temporary';
type Shutdown = 'default' | 'brutal' | 200;

interface ChildShape {
  readonly kind: ChildKind;
  readonly restart: Restart;
  readonly shutdown: Shutdown;
  readonly persistent: boolean;
  /** A mailbox of MAILBOX_CAPACITY that fails the actor or drops the oldest when full. */
  readonly mailbox: 'default' | 'fail' | 'drop-oldest';
}

interface Setup {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly backoff: boolean;
  /** The parent restarts the supervisor at once (0) or after a delay, halted meanwhile. */
  readonly restartDelayMs: number;
  /** Static children; for simple-one-for-one the first is the template. */
  readonly children: readonly ChildShape[];
}

const childShapeArb: fc.Arbitrary<ChildShape> = fc
  .record({
    kind: fc.constantFrom<ChildKind>('receive', 'receive', 'machine', 'machine', 'supervisor'),
    restart: fc.constantFrom<Restart>('permanent', 'transient', 'temporary'),
    shutdown: fc.constantFrom<Shutdown>('default', 'brutal', 200),
    persistent: fc.boolean(),
    mailbox: fc.constantFrom(
      'default' as const,
      'default' as const,
      'fail' as const,
      'drop-oldest' as const,
    ),
  })
  // a supervisor's state (functions, maps) is no snapshot, and the test's own requests
  // need room in its mailbox
  .map((c) =>
    c.kind === 'supervisor' ? { ...c, persistent: false, mailbox: 'default' as const } : c,
  );

const setupArb: fc.Arbitrary<Setup> = fc.record({
  strategy: fc.constantFrom<Strategy>(
    'one-for-one',
    'one-for-all',
    'rest-for-one',
    'simple-one-for-one',
  ),
  // 0–3: often reached (the parent restarts the supervisor); 1000: never
  intensity: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(1_000)),
  period: fc.constantFrom(1_000, 5_000),
  backoff: fc.boolean(),
  restartDelayMs: fc.constantFrom(0, 0, 150),
  children: fc.array(childShapeArb, { minLength: 1, maxLength: 4 }),
});

type StartMode = 'ok' | 'throw' | 'ignore' | 'bad' | 'null-arg' | 'dup' | 'bad-spec';

type Command =
  | { readonly op: 'tell'; readonly pick: number; readonly live: boolean; readonly kind: MsgKind }
  | {
      readonly op: 'ask';
      readonly pick: number;
      readonly live: boolean;
      readonly kind: 'get' | 'silent' | 'crash';
      readonly timeout: number;
    }
  | {
      readonly op: 'fault';
      readonly pick: number;
      readonly live: boolean;
      readonly hook: FaultHook;
    }
  | {
      readonly op: 'subscribe';
      readonly pick: number;
      readonly live: boolean;
      readonly mode: 'ok' | 'throw-first' | 'throw-second';
    }
  | { readonly op: 'unsubscribe'; readonly pick: number }
  | { readonly op: 'start-child'; readonly mode: StartMode; readonly shape: ChildShape }
  | { readonly op: 'terminate-child'; readonly pick: number; readonly byRef: boolean }
  | { readonly op: 'restart-child' | 'delete-child'; readonly pick: number }
  | { readonly op: 'stop'; readonly pick: number; readonly live: boolean }
  | { readonly op: 'watch'; readonly pick: number; readonly live: boolean }
  | { readonly op: 'restart-watcher' }
  | { readonly op: 'advance'; readonly ms: number };

const pick = fc.nat(1_000);
const live = fc.boolean();

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('tell' as const),
      pick,
      live,
      kind: fc.constantFrom<MsgKind>(
        'ping',
        'ping',
        'crash',
        'exit',
        'kid',
        'kid',
        'kill-kid',
        'kill-kid',
        'arm',
        'arm',
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('ask' as const),
      pick,
      live,
      kind: fc.constantFrom('get' as const, 'silent' as const, 'crash' as const),
      timeout: fc.constantFrom(50, 300, MAX_ASK_MS),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('fault' as const),
      pick,
      live,
      // the hooks that fire less often (they need a subscriber, a snapshot, a grandchild)
      // are armed more often
      hook: fc.constantFrom<FaultHook>(
        ...FAULT_HOOKS,
        'view',
        'view',
        'restore',
        'restore',
        'persist',
        'onChildTerminated',
        'onChildTerminated',
        'onChildTerminated',
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('subscribe' as const),
      pick,
      live,
      mode: fc.constantFrom('ok' as const, 'throw-first' as const, 'throw-second' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unsubscribe' as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('start-child' as const),
      mode: fc.constantFrom<StartMode>(
        'ok',
        'ok',
        'throw',
        'ignore',
        'bad',
        'null-arg',
        'dup',
        'bad-spec',
      ),
      shape: childShapeArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('terminate-child' as const),
      pick,
      byRef: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart-child' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete-child' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stop' as const), pick, live }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('watch' as const), pick, live }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart-watcher' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.constantFrom(0, 1, 50, 100, 299, 300, 301, 400, 1_000, 2_500),
    }),
  },
);

/**
 * A run that sets off every fault once (fast-check runs it first): the coverage check at the
 * end does not depend on the random runs.
 */
const EVERY_HOOK: [Setup, Command[]] = [
  {
    strategy: 'one-for-one',
    intensity: 1000,
    period: 1000,
    backoff: false,
    restartDelayMs: 0,
    children: [
      {
        kind: 'receive',
        restart: 'permanent',
        shutdown: 'default',
        persistent: true,
        mailbox: 'default',
      },
      {
        kind: 'machine',
        restart: 'permanent',
        shutdown: 'brutal',
        persistent: false,
        mailbox: 'default',
      },
    ],
  },
  [
    { op: 'subscribe', pick: 0, live: true, mode: 'ok' },
    { op: 'fault', pick: 0, live: true, hook: 'view' },
    { op: 'tell', pick: 0, live: true, kind: 'ping' },
    { op: 'tell', pick: 0, live: true, kind: 'ping' },
    { op: 'fault', pick: 0, live: true, hook: 'restore' },
    { op: 'tell', pick: 0, live: true, kind: 'crash' },
    { op: 'fault', pick: 0, live: true, hook: 'persist' },
    { op: 'tell', pick: 0, live: true, kind: 'ping' },
    { op: 'fault', pick: 0, live: true, hook: 'onChildTerminated' },
    { op: 'tell', pick: 0, live: true, kind: 'kill-kid' },
    { op: 'fault', pick: 0, live: true, hook: 'stop-throw' },
    { op: 'tell', pick: 0, live: true, kind: 'crash' },
    { op: 'fault', pick: 0, live: true, hook: 'stop-reject' },
    { op: 'ask', pick: 0, live: true, kind: 'crash', timeout: 300 },
    { op: 'fault', pick: 1, live: true, hook: 'init' },
    { op: 'tell', pick: 1, live: true, kind: 'arm' },
    { op: 'advance', ms: 300 },
    { op: 'tell', pick: 1, live: true, kind: 'crash' },
    { op: 'fault', pick: 1, live: true, hook: 'factory-throw' },
    { op: 'stop', pick: 1, live: true },
    {
      op: 'start-child',
      mode: 'ignore',
      shape: {
        kind: 'receive',
        restart: 'permanent',
        shutdown: 'default',
        persistent: false,
        mailbox: 'default',
      },
    },
    {
      op: 'start-child',
      mode: 'bad',
      shape: {
        kind: 'receive',
        restart: 'permanent',
        shutdown: 'default',
        persistent: false,
        mailbox: 'default',
      },
    },
    { op: 'ask', pick: 0, live: true, kind: 'get', timeout: 50 },
    { op: 'watch', pick: 0, live: true },
    { op: 'terminate-child', pick: 0, byRef: false },
    { op: 'restart-child', pick: 0 },
    { op: 'advance', ms: 1000 },
  ],
];

// ---- one run ------------------------------------------------------------------------------

interface AskRecord {
  readonly what: string;
  readonly msg: TestMsg;
  readonly deadline: number;
  /** The ref's actor had stopped when the ask was made: it must reject at once. */
  readonly toDead: boolean;
  settled: boolean;
  value?: unknown;
  error?: unknown;
  settledAt?: number;
}

interface SubRecord {
  readonly ref: ActorRef<unknown>;
  readonly unsubscribe: () => void;
  calls: number;
  threw: boolean;
  closed: boolean;
  terminated: boolean;
  lastVersion: number;
  /** The last snapshot it was sent. */
  last: unknown;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Watches a promise without awaiting it (the clock is simulated: an await could hang). */
function watch<T>(p: Promise<T>): () => Outcome<T> | undefined {
  let out: Outcome<T> | undefined;
  p.then(
    (value) => void (out = { ok: true, value }),
    (error: unknown) => void (out = { ok: false, error }),
  );
  return () => out;
}

const codeOf = (o: Outcome<unknown>): string | undefined =>
  o.ok ? undefined : (o.error as { code?: string }).code;

const nameOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

type WatcherMsg = { readonly type: 'watch'; readonly ref: ActorRef<unknown> };

class Run {
  readonly t: TestSystem;
  readonly world: World;
  readonly store = new InMemoryStore();
  readonly setup: Setup;
  readonly dynamic: boolean;
  sup!: SupervisorRef;
  watcher: ActorRef<WatcherMsg>;
  private watchers = 0;
  /** Watchers that stopped: no Terminated may be sent to them any more. */
  readonly stoppedWatchers = new Set<string>();
  /** Every child ref seen, stale ones included. */
  readonly refs: ActorRef<TestMsg>[] = [];
  private readonly refSet = new Set<ActorRef<unknown>>();
  /** Fault labels: static ids and dynamic labels. */
  readonly labels: string[] = [];
  /** A dynamic child's name (`job-3`) → its startChild label. */
  readonly labelOf = new Map<string, string>();
  readonly asks: AskRecord[] = [];
  readonly stops: { readonly what: string; readonly ref: ActorRef<unknown>; done: boolean }[] = [];
  readonly subs: SubRecord[] = [];
  /** What the current watcher watches, and the Terminated it was told, by ref. */
  watched = new Set<ActorRef<unknown>>();
  terminatedSeen = new Map<ActorRef<unknown>, number>();
  readonly sent = new Set<number>();
  readonly deadLettered = new Map<number, number>();
  /** The reason of each test message's (first) dead letter. */
  readonly deadReason = new Map<number, string>();
  /** The last whichChildren answer (the system was idle since). */
  listing: ChildInfo[] = [];
  supIncarnation = 0;
  /** The supervisor waits out its restart delay: no requests to it this step. */
  supHalted = false;
  /** Static ids in spec order, as the model expects them (temporary ones may have left). */
  order: string[] = [];
  /** Static ids that must be listed (not temporary, not deleted). */
  kept = new Set<string>();
  /** Static ids terminated by request: listed, not running, until restartChild. */
  down = new Set<string>();
  /** Ids terminated by request that must not be listed again (dynamic, temporary). */
  gone = new Set<string>();
  readonly temporary = new Set<string>();
  private msgSeq = 0;
  private newIds = 0;
  private dynLabels = 0;

  constructor(setup: Setup) {
    this.setup = setup;
    this.dynamic = setup.strategy === 'simple-one-for-one';
    this.t = testSystem();
    const { system } = this.t;
    this.world = new World(system);
    system.deadLetters.subscribe((l) => {
      const notice = l.message as Partial<Terminated> | null;
      if (notice?.type === 'troupe.terminated' && this.stoppedWatchers.has(l.recipient))
        this.world.violation(
          `${notice.ref?.path} stopped and told the watcher ${l.recipient}, which had stopped`,
        );
      if (isTestMsg(l.message)) {
        this.deadLettered.set(l.message.id, (this.deadLettered.get(l.message.id) ?? 0) + 1);
        if (!this.deadReason.has(l.message.id)) this.deadReason.set(l.message.id, l.reason);
        // only the message being handled when its actor fails is a `failed` dead letter
        if (l.reason === 'failed' && l.message.type !== 'crash')
          this.world.violation(
            `message ${l.message.id} (${l.message.type}) dead-lettered as failed`,
          );
      }
    });
    const children: ChildSpec[] = this.dynamic
      ? [this.templateSpec(setup.children[0]!)]
      : setup.children.map((shape, i) => this.staticSpec(`c${i}`, shape));
    if (!this.dynamic) for (const c of children) this.labels.push(c.id);
    const base = supervise({
      strategy: setup.strategy,
      intensity: setup.intensity,
      period: setup.period,
      ...(setup.backoff
        ? { backoff: { minMs: 100, maxMs: 400, jitter: 0.5 }, random: () => 0.5 }
        : {}),
      children,
    });
    // what the supervisor is told of each failure, recorded before it decides
    const sup: typeof base = {
      ...base,
      onChildFailure: (f, state, ctx) => {
        this.world.reports.push(f);
        return base.onChildFailure!(f, state, ctx);
      },
    };
    // the supervisor's parent restarts it when it gives up (a root supervisor would end the
    // system): its children are then new spawns at the same paths
    system.spawn(
      fromReceive<null, never>(
        (ctx) => {
          ctx.spawn(sup, { name: 'sup' });
          return null;
        },
        (s) => s,
        {
          onChildFailure: () =>
            setup.restartDelayMs === 0
              ? 'restart'
              : { name: 'restart', delayMs: setup.restartDelayMs },
        },
      ),
      { name: 'top' },
    );
    this.watcher = this.spawnWatcher();
    this.resetModel();
  }

  /** A static child's spec; `register`: the model learns its restart type and labels. */
  /** The actor that watches children (ctx.watch) and counts the Terminated it is told. */
  private spawnWatcher(): ActorRef<WatcherMsg> {
    const seen = (this.terminatedSeen = new Map());
    this.watched = new Set();
    return this.t.system.spawn(
      fromReceive<null, WatcherMsg | Terminated>(null, (s, msg, ctx) => {
        if (msg.type === 'watch') ctx.watch(msg.ref);
        else if (msg.type === 'troupe.terminated') seen.set(msg.ref, (seen.get(msg.ref) ?? 0) + 1);
        return s;
      }),
      { name: `watcher-${this.watchers++}` },
    );
  }

  private staticSpec(id: string, shape: ChildShape, register = true): ChildSpec {
    if (register && shape.restart === 'temporary') this.temporary.add(id);
    if (register && shape.kind === 'supervisor') this.labels.push(nestedLabel(id));
    return {
      id,
      behaviour: () => this.world.make(id, shape.kind, shape.persistent),
      ...(shape.kind === 'supervisor' ? { type: 'supervisor' as const } : {}),
      restart: shape.restart,
      ...(shape.shutdown === 'default' ? {} : { shutdown: shape.shutdown }),
      ...(shape.persistent ? { persistence: { store: this.store } } : {}),
      ...(shape.mailbox === 'default'
        ? {}
        : { mailbox: { capacity: MAILBOX_CAPACITY, overflow: shape.mailbox } }),
    };
  }

  private templateSpec(shape: ChildShape): ChildSpec {
    return {
      id: 'job',
      behaviour: (arg: unknown) => this.world.makeFromArg(arg, shape.kind, shape.persistent),
      ...(shape.kind === 'supervisor' ? { type: 'supervisor' as const } : {}),
      restart: shape.restart,
      ...(shape.shutdown === 'default' ? {} : { shutdown: shape.shutdown }),
      ...(shape.persistent ? { persistence: { store: this.store } } : {}),
      ...(shape.mailbox === 'default'
        ? {}
        : { mailbox: { capacity: MAILBOX_CAPACITY, overflow: shape.mailbox } }),
    };
  }

  /** The model of the specs after the supervisor (re)started: its initial children. */
  private resetModel(): void {
    this.order = this.dynamic ? [] : this.setup.children.map((_, i) => `c${i}`);
    this.kept = new Set(this.order.filter((id) => !this.temporary.has(id)));
    this.down = new Set();
    // dynamic names start again from job-1, the initial temporary children are back
    this.gone = new Set();
  }

  seeRef(ref: ActorRef<unknown> | undefined): void {
    if (ref === undefined || this.refSet.has(ref)) return;
    this.refSet.add(ref);
    this.refs.push(ref as ActorRef<TestMsg>);
  }

  isAlive(ref: ActorRef<unknown>): boolean {
    return this.t.system.actorAt(ref.path) === ref;
  }

  /** A child ref: among the listed running ones (`live`), else among every one seen. */
  pickRef(n: number, wantLive: boolean): ActorRef<TestMsg> | undefined {
    if (wantLive) {
      const running = this.listing.flatMap((c) => (c.ref === undefined ? [] : [c.ref]));
      if (running.length > 0) return running[n % running.length] as ActorRef<TestMsg>;
    }
    return this.refs.length === 0 ? undefined : this.refs[n % this.refs.length];
  }

  message(ref: ActorRef<unknown>, type: MsgKind): TestMsg {
    const msg: TestMsg = {
      type,
      id: ++this.msgSeq,
      via: ref,
      spawn: this.world.tokens.get(ref) ?? -1,
    };
    this.sent.add(msg.id);
    return msg;
  }

  async settle(): Promise<void> {
    await settle(this.t.system);
  }

  /** Lets the parent spawn the supervisor, and the supervisor its children. */
  async start(): Promise<void> {
    await this.settle();
    this.sup = this.t.system.actorAt(SUP) as SupervisorRef;
    expect(this.sup, 'the supervisor started').toBeDefined();
  }

  // ---- the steps ------------------------------------------------------------------------

  async step(c: Command): Promise<void> {
    const { system } = this.t;
    switch (c.op) {
      case 'tell': {
        const ref = this.pickRef(c.pick, c.live);
        if (ref === undefined) return;
        const alive = this.isAlive(ref);
        const d = ref.tell(this.message(ref, c.kind));
        if (!alive)
          expect(d, `a tell to the stopped ${ref.path} is a dead letter`).toBe('dead-letter');
        else {
          // a full mailbox of policy fail refuses it (and fails the actor)
          const fails = this.t.system.cellAt(ref.path)!.mailbox.overflow === 'fail';
          expect(
            fails ? ['enqueued', 'rejected'] : ['enqueued'],
            `a tell to ${ref.path}`,
          ).toContain(d);
        }
        break;
      }
      case 'ask': {
        const ref = this.pickRef(c.pick, c.live);
        if (ref === undefined) return;
        const msg = this.message(ref, c.kind);
        const rec: AskRecord = {
          what: `ask ${msg.id} (${c.kind}) to ${ref.path} spawn ${msg.spawn}`,
          msg,
          deadline: this.t.clock.now() + c.timeout,
          toDead: !this.isAlive(ref),
          settled: false,
        };
        this.asks.push(rec);
        ref.ask(msg, { timeout: c.timeout }).then(
          (value) => {
            rec.settled = true;
            rec.value = value;
            rec.settledAt = this.t.clock.now();
          },
          (error: unknown) => {
            rec.settled = true;
            rec.error = error;
            rec.settledAt = this.t.clock.now();
          },
        );
        break;
      }
      case 'fault': {
        // a live child's label (its next hook call), or any label (its next spawn's)
        const running = this.listing.flatMap((x) =>
          x.ref === undefined ? [] : [this.labelOf.get(x.id) ?? x.id],
        );
        const from = c.live && running.length > 0 ? running : this.labels;
        const label = from[c.pick % Math.max(1, from.length)];
        if (label !== undefined) this.world.arm(label, c.hook);
        return;
      }
      case 'subscribe': {
        const ref = this.pickRef(c.pick, c.live);
        if (ref === undefined) return;
        this.subscribe(ref, c.mode);
        break;
      }
      case 'unsubscribe': {
        const sub = this.subs[c.pick % Math.max(1, this.subs.length)];
        if (sub === undefined) return;
        sub.closed = true;
        sub.unsubscribe();
        break;
      }
      case 'start-child':
        if (!this.supHalted) await this.startChild(c.mode, c.shape);
        break;
      case 'terminate-child':
        if (!this.supHalted) await this.terminateChild(c.pick, c.byRef);
        break;
      case 'restart-child':
        if (!this.supHalted) await this.restartChild(c.pick);
        break;
      case 'delete-child':
        if (!this.supHalted) await this.deleteChild(c.pick);
        break;
      case 'stop': {
        const ref = this.pickRef(c.pick, c.live);
        if (ref === undefined) return;
        const rec = { what: `system.stop(${ref.path})`, ref, done: false };
        this.stops.push(rec);
        void system.stop(ref).then(() => void (rec.done = true));
        break;
      }
      case 'watch': {
        const ref = this.pickRef(c.pick, c.live);
        if (ref === undefined) return;
        this.watched.add(ref);
        this.watcher.tell({ type: 'watch', ref });
        break;
      }
      case 'restart-watcher': {
        // a watcher that stops leaves nothing behind in what it watched
        const old = this.watcher;
        const stopped = watch(system.stop(old));
        await this.settle();
        expect(stopped(), `the watcher ${old.path} stopped`).toBeDefined();
        this.stoppedWatchers.add(old.address);
        this.watcher = this.spawnWatcher();
        break;
      }
      case 'advance':
        await this.t.clock.advance(c.ms, () => settle(system));
        break;
    }
    await this.settle();
  }

  private subscribe(ref: ActorRef<unknown>, mode: 'ok' | 'throw-first' | 'throw-second'): void {
    const world = this.world;
    const sub: SubRecord = {
      ref,
      unsubscribe: () => undefined,
      calls: 0,
      threw: false,
      closed: false,
      terminated: false,
      lastVersion: 0,
      last: undefined,
    };
    const listener = (u: SnapshotUpdate | Terminated): void => {
      sub.calls++;
      const who = `subscriber of ${ref.path} (spawn ${world.tokens.get(ref)})`;
      if (sub.threw) world.violation(`${who} called after its listener threw`);
      if (sub.closed) world.violation(`${who} called after it unsubscribed`);
      if (sub.terminated) world.violation(`${who} called after troupe.terminated`);
      if (u.ref !== ref) world.violation(`${who} got an update of ${u.ref.path}`);
      if (u.type === 'troupe.terminated') sub.terminated = true;
      else {
        if (u.version <= sub.lastVersion)
          world.violation(`${who}: version ${u.version} after ${sub.lastVersion}`);
        sub.lastVersion = u.version;
        sub.last = u.snapshot;
        const spawn = spawnOfView(u.snapshot);
        if (spawn !== world.tokens.get(ref))
          world.violation(`${who} saw the view of spawn ${spawn}`);
      }
      if (
        (mode === 'throw-first' && sub.calls === 1) ||
        (mode === 'throw-second' && sub.calls === 2)
      ) {
        sub.threw = true;
        throw new Error(`listener of ${ref.path} throws`);
      }
    };
    (sub as { unsubscribe: () => void }).unsubscribe = this.t.system.subscribe(ref, listener);
    this.subs.push(sub);
  }

  // ---- the supervisor's API, with what it must answer -------------------------------------

  private listed(id: string): ChildInfo | undefined {
    return this.listing.find((c) => c.id === id);
  }

  /** A request to the supervisor: it must be answered once the system is idle. */
  private async call<T>(p: Promise<T>, what: string): Promise<Outcome<T>> {
    const out = watch(p);
    await this.settle();
    const r = out();
    expect(r, `${what} is answered once the system is idle`).toBeDefined();
    return r!;
  }

  private async startChild(mode: StartMode, shape: ChildShape): Promise<void> {
    if (this.dynamic) {
      const label = `d${this.dynLabels++}`;
      const arg: DynamicArg | null =
        mode === 'null-arg'
          ? null
          : mode === 'throw'
            ? { label, boom: true }
            : mode === 'ignore'
              ? { label, ignore: true }
              : mode === 'bad'
                ? { label, bad: true }
                : { label };
      this.labels.push(label);
      if (this.setup.children[0]!.kind === 'supervisor') this.labels.push(nestedLabel(label));
      const what = `startChild(${JSON.stringify(arg)})`;
      const r = await this.call(startChild<TestMsg>(this.sup, arg, API), what);
      if (mode === 'ignore') expect(r, what).toEqual({ ok: true, value: undefined });
      else if (mode === 'ok' || mode === 'dup' || mode === 'bad-spec') {
        expect(r.ok, `${what}: ${String((r as { error?: unknown }).error)}`).toBe(true);
        const ref = (r as { value: ActorRef<unknown> }).value;
        this.seeRef(ref);
        this.labelOf.set(nameOf(ref.path), label);
      } else expect(codeOf(r), what).toBe('ERR_START_CHILD');
      return;
    }
    const existing = this.listing[0]?.id;
    const id = mode === 'dup' && existing !== undefined ? existing : `n${this.newIds++}`;
    const spec: ChildSpec = this.staticSpec(id, shape, id !== existing);
    if (mode === 'throw') this.world.arm(id, 'factory-throw');
    if (mode === 'ignore') this.world.arm(id, 'factory-ignore');
    if (mode === 'bad' || mode === 'null-arg') this.world.arm(id, 'factory-bad');
    const given = mode === 'bad-spec' ? { ...spec, restrat: 'permanent' } : spec;
    if (!this.labels.includes(id)) this.labels.push(id);
    const what = `startChild(${id}, ${mode})`;
    const r = await this.call(startChild<TestMsg>(this.sup, given, API), what);
    if (mode === 'dup' && existing !== undefined) {
      expect(codeOf(r), what).toBe('ERR_CHILD_EXISTS');
      return;
    }
    if (mode === 'bad-spec') {
      expect(codeOf(r), what).toBe('ERR_SUPERVISOR_SPEC');
      return;
    }
    if (mode === 'throw' || mode === 'bad' || mode === 'null-arg') {
      expect(codeOf(r), what).toBe('ERR_START_CHILD');
      return;
    }
    if (mode === 'ignore') expect(r, what).toEqual({ ok: true, value: undefined });
    else {
      expect(r.ok, `${what}: ${String((r as { error?: unknown }).error)}`).toBe(true);
      this.seeRef((r as { value: ActorRef<unknown> }).value);
    }
    this.order.push(id);
    if (shape.restart !== 'temporary') this.kept.add(id);
  }

  private async terminateChild(n: number, byRef: boolean): Promise<void> {
    let target: string | ActorRef<unknown>;
    let info: ChildInfo | undefined;
    if (byRef) {
      const ref = this.pickRef(n, false);
      if (ref === undefined) return;
      target = ref;
      info = this.listing.find((c) => c.ref === ref);
    } else {
      const ids = [...new Set([...this.listing.map((c) => c.id), ...this.order, 'nope'])];
      target = ids[n % ids.length]!;
      info = this.listed(target);
    }
    const what = `terminateChild(${typeof target === 'string' ? target : target.path})`;
    const r = await this.call(terminateChild(this.sup, target, API), what);
    if (info === undefined) {
      expect(codeOf(r), what).toBe('ERR_CHILD_NOT_FOUND');
      return;
    }
    expect(r, what).toEqual({ ok: true, value: undefined });
    expect(this.t.system.actorAt(`${SUP}/${info.id}`), `${what}: stopped`).toBeUndefined();
    if (!this.dynamic && info.restart !== 'temporary') this.down.add(info.id);
    else this.gone.add(info.id);
  }

  /** What restartChild must answer, from the last listing (the system was idle since). */
  private async restartChild(n: number): Promise<void> {
    const ids = [...new Set([...this.listing.map((c) => c.id), ...this.order, 'nope'])];
    const id = ids[n % ids.length]!;
    const info = this.listed(id);
    const factory = FACTORY_FAULTS.find((h) => this.world.isArmed(id, h));
    const what = `restartChild(${id})`;
    const r = await this.call(restartChild<TestMsg>(this.sup, id, API), what);
    if (this.dynamic) expect(SIMPLE_REFUSALS, what).toContain(codeOf(r));
    else if (info === undefined) expect(codeOf(r), what).toBe('ERR_CHILD_NOT_FOUND');
    else if (info.restarting) expect(codeOf(r), what).toBe('ERR_CHILD_RESTARTING');
    else if (info.ref !== undefined) expect(codeOf(r), what).toBe('ERR_CHILD_RUNNING');
    else if (factory === 'factory-throw' || factory === 'factory-bad')
      expect(codeOf(r), what).toBe('ERR_START_CHILD');
    else if (factory === 'factory-ignore') expect(r, what).toEqual({ ok: true, value: undefined });
    else {
      expect(r.ok, `${what}: ${String((r as { error?: unknown }).error)}`).toBe(true);
      this.seeRef((r as { value: ActorRef<unknown> }).value);
      this.down.delete(id);
    }
  }

  private async deleteChild(n: number): Promise<void> {
    const ids = [...new Set([...this.listing.map((c) => c.id), ...this.order, 'nope'])];
    const id = ids[n % ids.length]!;
    const info = this.listed(id);
    const what = `deleteChild(${id})`;
    const r = await this.call(deleteChild(this.sup, id, API), what);
    if (this.dynamic) expect(SIMPLE_REFUSALS, what).toContain(codeOf(r));
    else if (info === undefined) expect(codeOf(r), what).toBe('ERR_CHILD_NOT_FOUND');
    else if (info.restarting) expect(codeOf(r), what).toBe('ERR_CHILD_RESTARTING');
    else if (info.ref !== undefined) expect(codeOf(r), what).toBe('ERR_CHILD_RUNNING');
    else {
      expect(r, what).toEqual({ ok: true, value: undefined });
      this.order = this.order.filter((x) => x !== id);
      this.kept.delete(id);
      this.down.delete(id);
    }
  }

  // ---- the invariants ---------------------------------------------------------------------

  /**
   * whichChildren and countChildren of a supervisor against the live cells under it: each
   * listed ref is the actor at its path (halted when `restarting`, else running), a child
   * listed down has no actor, every live child cell is listed, the counts add up.
   */
  private async auditListing(sup: SupervisorRef, at: string): Promise<ChildInfo[]> {
    const { system } = this.t;
    const supCell = system.cellAt(sup.path)!;
    const dynamic = sup === this.sup && this.dynamic;
    const infos = watch(whichChildren(sup, API));
    const counts = watch(countChildren(sup, API));
    await this.settle();
    const i = infos();
    const n = counts();
    at = `of ${sup.path} ${at}`;
    const show = (o: Outcome<unknown> | undefined): string =>
      o === undefined ? 'no answer' : o.ok ? 'ok' : String(o.error);
    expect(
      i?.ok === true && n?.ok === true,
      `whichChildren and countChildren answer ${at}: ${show(i)}, ${show(n)}`,
    ).toBe(true);
    const listing = (i as { value: ChildInfo[] }).value;
    const c = (n as { value: ChildCounts }).value;
    const ids = listing.map((x) => x.id);
    expect(new Set(ids).size, `unique ids ${at}: ${ids.join(' ')}`).toBe(ids.length);
    for (const info of listing) {
      const path = `${sup.path}/${info.id}`;
      const actual = system.actorAt(path);
      const what = `${info.id} ${JSON.stringify({ ...info, ref: info.ref?.path })} ${at}`;
      if (info.ref === undefined) {
        expect(actual, `no actor at ${what}`).toBeUndefined();
        if (dynamic) expect(info.restarting, `a dynamic child listed down ${what}`).toBe(true);
        expect(info.restart, `a temporary child listed down ${what}`).not.toBe('temporary');
      } else {
        this.seeRef(info.ref);
        expect(actual === info.ref, `the listed ref is the actor at ${what}`).toBe(true);
        const cell = system.cellAt(path)!;
        expect(cell.lifecycle, `lifecycle of ${what}`).toBe(info.restarting ? 'halted' : 'running');
        expect(info.type, `type of ${what}`).toBe(
          cell.behaviour.kind === 'supervisor' ? 'supervisor' : 'worker',
        );
      }
    }
    const listedRefs = new Set(listing.map((x) => x.ref));
    for (const cell of supCell.childCells())
      expect(listedRefs.has(cell.ref), `live child ${cell.path} is listed ${at}`).toBe(true);
    const supervisors = listing.filter((x) => x.type === 'supervisor').length;
    expect(c, `countChildren ${at}: ${ids.join(' ')}`).toEqual({
      specs: dynamic ? 1 : listing.length,
      active: listing.filter((x) => x.ref !== undefined && !x.restarting).length,
      supervisors,
      workers: listing.length - supervisors,
    });
    return listing;
  }

  async audit(step: string): Promise<void> {
    const { system, clock } = this.t;
    const at = `after ${step}`;
    // 1. the process survives
    expect(processErrors, `uncaught errors ${at}`).toEqual([]);
    expect(system.current, `system.current ${at}`).toBeNull();
    expect(system.state, `system state ${at}`).toBe('running');
    expect(this.world.violations.join('\n'), `violations ${at}`).toBe('');
    const supCell = system.cellAt(SUP);
    expect(system.actorAt(SUP), `the supervisor's ref ${at}`).toBe(this.sup);
    // waiting out its restart delay: its children stopped, its requests queue
    this.supHalted = this.setup.restartDelayMs > 0 && supCell?.lifecycle === 'halted';
    if (this.supHalted) expect(supCell!.childCells(), `children of the halted ${SUP}`).toEqual([]);
    else expect(supCell?.lifecycle, `the supervisor ${at}`).toBe('running');
    if (supCell!.incarnation !== this.supIncarnation) {
      this.supIncarnation = supCell!.incarnation;
      this.resetModel();
    }
    // 2. every ask settles
    const now = clock.now();
    for (const a of this.asks) {
      if (a.toDead) {
        expect(a.settled, `${a.what} (stopped actor) settled at once ${at}`).toBe(true);
        expect(a.error, `${a.what}`).toBeInstanceOf(AskDeliveryError);
      }
      if (now >= a.deadline)
        expect(a.settled, `${a.what} settled by its deadline ${at}`).toBe(true);
      if (!a.settled) continue;
      if (a.error instanceof AskTimeoutError)
        expect(a.settledAt!, `${a.what} timed out early`).toBeGreaterThanOrEqual(a.deadline);
      else if (a.error !== undefined) {
        // rejected before its deadline: for the reason its message was lost
        const reason = this.deadReason.get(a.msg.id);
        const code = (a.error as { code?: string }).code;
        const why = `${a.what} rejected with ${code} (${(a.error as { reason?: string }).reason}), its message ${reason ?? 'not dead-lettered'}`;
        if (code === 'ERR_ACTOR_FAILED') expect(reason, why).toBe('failed');
        else if (code === 'ERR_ASK_UNDELIVERED') {
          const r = (a.error as AskDeliveryError).reason;
          if (r === 'sender-failed') expect(this.world.handled.get(a.msg.id), why).toBe(1);
          // refused at once: it stopped, or its mailbox was full
          else if (r === undefined) expect(['stopped', 'mailbox-full'], why).toContain(reason);
          else expect(reason, why).toBe(r);
        } else expect.fail(why);
      }
      if (a.error === undefined) {
        expect(a.msg.type, `${a.what} resolved`).toBe('get');
        expect((a.value as { spawn: number }).spawn, `${a.what} answered by`).toBe(
          this.world.tokens.get(a.msg.via),
        );
      }
    }
    for (const s of this.stops) {
      expect(s.done, `${s.what} resolved ${at}`).toBe(true);
      expect(this.isAlive(s.ref), `${s.what}: stopped ${at}`).toBe(false);
    }
    // 3. the supervisor's view is the live cells under it (and each nested one's)
    if (this.supHalted) {
      this.listing = [];
      this.auditSubscribers(at);
      return;
    }
    const listing = await this.auditListing(this.sup, at);
    this.listing = listing;
    const ids = listing.map((x) => x.id);
    for (const info of listing)
      if (info.type === 'supervisor' && info.ref !== undefined && !info.restarting)
        await this.auditListing(info.ref as SupervisorRef, at);
    for (const id of this.gone) expect(ids, `terminated ${id} is gone ${at}`).not.toContain(id);
    if (this.dynamic) {
      const seq = ids.map((x) => Number(x.slice('job-'.length)));
      expect(seq, `dynamic children in start order ${at}`).toEqual([...seq].sort((a, b) => a - b));
    } else {
      // listed in spec order, every kept spec listed, terminated ones still down
      expect(
        ids.filter((x) => this.order.includes(x)),
        `spec ids ${at}`,
      ).toEqual(ids);
      expect(
        this.order.filter((x) => ids.includes(x)),
        `spec order ${at}`,
      ).toEqual(ids);
      for (const id of this.kept) expect(ids, `kept spec ${id} ${at}`).toContain(id);
      for (const id of this.down) {
        const info = this.listed(id);
        expect(info?.ref, `terminated ${id} stays down ${at}`).toBeUndefined();
        expect(info?.restarting, `terminated ${id} not restarting ${at}`).toBe(false);
      }
    }
    this.auditSubscribers(at);
  }

  /** 4. subscribers, watchers, messages and hooks. */
  private auditSubscribers(at: string): void {
    const { system } = this.t;
    for (const s of this.subs) {
      if (s.closed || s.threw) continue;
      const cell = system.cellAt(s.ref.path);
      if (!this.isAlive(s.ref)) {
        expect(s.terminated, `subscriber of the stopped ${s.ref.path} told ${at}`).toBe(true);
        continue;
      }
      if (cell?.lifecycle !== 'running' || cell.behaviour.kind === 'supervisor') continue;
      // a running actor's subscribers have its current view
      const what = `subscriber of ${s.ref.path} up to date ${at}`;
      expect(s.terminated, what).toBe(false);
      const state = cell.state as {
        actor?: { getSnapshot(): { value: unknown; context: unknown } };
      };
      if (state.actor === undefined) expect(s.last === state, what).toBe(true);
      else {
        const snap = state.actor.getSnapshot();
        expect(s.last, what).toMatchObject({ value: snap.value, context: snap.context });
      }
    }
    for (const w of this.watched) {
      const seen = this.terminatedSeen.get(w) ?? 0;
      if (this.isAlive(w)) expect(seen, `watcher told ${w.path} stopped, alive ${at}`).toBe(0);
      else expect(seen, `watcher told ${w.path} stopped ${at}`).toBeGreaterThan(0);
    }
    for (const id of this.sent)
      expect(
        (this.world.handled.get(id) ?? 0) + (this.deadLettered.get(id) ?? 0),
        `message ${id} handled or dead-lettered at most once ${at}`,
      ).toBeLessThanOrEqual(1);
    this.auditHooks(at);
  }

  /**
   * What a throw in each hook does (runtime/core/failure.ts, Hook): from init, receive, view,
   * persist, restore, onChildTerminated it is the actor's failure, reported to its parent
   * once, naming the hook, the actor and its incarnation; from stop (a throw or a rejected
   * promise) it is logged with the hook's name.
   */
  private auditHooks(at: string): void {
    const byFault = new Map<unknown, ChildFailure[]>();
    for (const f of this.world.reports) {
      if (!(f.error instanceof HookFault)) continue;
      const list = byFault.get(f.error);
      if (list === undefined) byFault.set(f.error, [f]);
      else list.push(f);
    }
    for (const t of this.world.thrown) {
      const fs = byFault.get(t.fault) ?? [];
      const what = `${t.hook} fault of ${t.ref.path} (incarnation ${t.incarnation}, ${t.lifecycle}) ${at}`;
      expect(fs.length, `${what}: reported at most once`).toBeLessThanOrEqual(1);
      const f = fs[0];
      if (f === undefined) {
        // a failure counts once: an actor already suspended does not fail again; one that
        // stopped before its parent heard of it is not reported either
        if ((t.lifecycle === 'running' || t.lifecycle === 'starting') && this.isAlive(t.ref))
          expect(f, `${what}: reported to the supervisor`).toBeDefined();
        continue;
      }
      expect(f.hook, `${what}: the hook named`).toBe(t.hook);
      expect(f.child === t.ref, `${what}: the child named`).toBe(true);
      expect(f.incarnation, `${what}: the incarnation named`).toBe(t.incarnation);
    }
    const stopLogs = this.t.logs.filter(
      (l) => l.level === 'error' && /\(hook stop\)/.test(l.message),
    );
    const stopFaults =
      (this.world.fired.get('stop-throw') ?? 0) + (this.world.fired.get('stop-reject') ?? 0);
    expect(stopLogs.length, `stop hook faults logged ${at}`).toBe(stopFaults);
  }

  /** Past every deadline, then shutdown: every ask settled, every message accounted for. */
  async finish(): Promise<void> {
    const { system, clock } = this.t;
    await clock.advance(MAX_ASK_MS + 1, () => settle(system));
    await this.settle();
    await this.audit('the final advance');
    let down = false;
    void system.shutdown().then(() => void (down = true));
    await this.settle();
    expect(down, 'shutdown resolves').toBe(true);
    expect(processErrors, 'uncaught errors at shutdown').toEqual([]);
    expect(this.world.violations.join('\n'), 'violations at shutdown').toBe('');
    for (const a of this.asks) expect(a.settled, `${a.what} settled`).toBe(true);
    for (const id of this.sent)
      expect(
        (this.world.handled.get(id) ?? 0) + (this.deadLettered.get(id) ?? 0),
        `message ${id} handled or dead-lettered exactly once`,
      ).toBe(1);
  }
}

/** Coverage across runs: how often each fault fired, and how often the timers rang. */
const coverage = new Map<string, number>();

async function check(setup: Setup, commands: readonly Command[]): Promise<void> {
  const run = new Run(setup);
  try {
    await run.start();
    await run.audit('start');
    for (const [i, c] of commands.entries()) {
      await run.step(c);
      await run.audit(`step ${i} ${JSON.stringify(c)}`);
    }
    await run.finish();
  } finally {
    const bump = (k: string, n = 1): void => void coverage.set(k, (coverage.get(k) ?? 0) + n);
    for (const [k, v] of run.world.fired) bump(k, v);
    bump('timer', run.world.timersRang);
    bump('stale-timer', run.t.system.deadLetters.countOf('stale-incarnation'));
    bump('sup-restart', run.supIncarnation);
    for (const a of run.asks)
      bump(
        `ask:${a.settled ? ((a.error as { code?: string } | undefined)?.code ?? 'ok') : 'pending'}`,
      );
    for (const r of run.deadReason.values()) bump(`dead-letter:${r}`);
    // not awaited: after a failed step something may never stop (the clock does not move)
    if (run.t.system.state === 'running') void run.t.system.shutdown();
    await settle(run.t.system).catch(() => undefined);
    processErrors.length = 0;
  }
}

describe('hooks that throw, under supervision, against a model of what must hold', () => {
  it(`keeps the process, asks, the supervisor's view and incarnations sound (${RUNS} runs)`, async () => {
    const replay = process.env.TROUPE_HOOKS_CASE;
    if (replay !== undefined) {
      // one counterexample, as JSON [setup, commands] in that file
      const [setup, commands] = JSON.parse(readFileSync(replay, 'utf8')) as [Setup, Command[]];
      await check(setup, commands);
      if (process.env.TROUPE_HOOKS_COVERAGE !== undefined) console.log([...coverage]);
      return;
    }
    await fc.assert(
      fc.asyncProperty(
        setupArb,
        fc.array(commandArb, { minLength: 1, maxLength: 50, size: 'medium' }),
        (setup, commands) => check(setup, commands),
      ),
      {
        numRuns: RUNS,
        examples: [EVERY_HOOK],
        ...(SEED === undefined ? {} : { seed: Number(SEED) }),
        ...(PATH === undefined ? {} : { path: PATH, endOnFailure: true }),
      },
    );
    if (process.env.TROUPE_HOOKS_COVERAGE !== undefined) console.log([...coverage]);
    // every hook's fault fired, and machine timers rang (EVERY_HOOK sees to it), or the model
    // tests less than it says
    if (SEED === undefined)
      for (const k of [...FAULT_HOOKS, 'timer'] as const)
        expect(
          coverage.get(k) ?? 0,
          `coverage of ${k}: ${JSON.stringify([...coverage])}`,
        ).toBeGreaterThan(0);
  }, 60_000);
});

/**
 * What the model found (all fixed since), each on its smallest case.
 */
describe('bugs the model found', () => {
  // BUG: supervisors/children.ts byRef matches a ref by its path when the object differs (for
  // refs revived from another shard), ignoring the spawn the ref is bound to
  // (runtime/core/ref.ts: a ref to an actor that stopped never reaches a new actor spawned later
  // at its path). terminateChild(sup, staleRef) stops the newer spawn at that path instead of
  // answering ERR_CHILD_NOT_FOUND.
  it('terminateChild with the ref of a stopped child leaves the newer spawn at its path alone', async () => {
    const { system } = testSystem();
    const sup = system.spawn(
      supervise({
        intensity: 10,
        children: [{ id: 'w', behaviour: () => fromReceive(null, (s) => s) }],
      }),
      { name: 'sup' },
    ) as SupervisorRef;
    await settle(system);
    const first = system.actorAt('/user/sup/w')!;
    await system.stop(first); // permanent: spawned anew at the same path
    await settle(system);
    const second = system.actorAt('/user/sup/w')!;
    expect(second).not.toBe(first);
    const r = watch(terminateChild(sup, first));
    await settle(system);
    expect(codeOf(r()!)).toBe('ERR_CHILD_NOT_FOUND');
    expect(system.actorAt('/user/sup/w')).toBe(second);
    await system.shutdown();
  });

  // BUG: runtime/core/cell.ts deliverOwnTimer checks the arming incarnation when the timer fires,
  // and accepts it while the actor waits out a restart delay (halted: the incarnation that
  // armed it has ended, the next has not begun); the mailbox is kept across the restart, so
  // the next incarnation handles it, and actors/machine.ts receive runs any TimerFire's
  // callback: the old XState actor (never stopped: brutal, or a stop hook that threw) runs
  // its transition and actions in the new incarnation's turn. The same holds for a group
  // restart's halt, and a backoff. Expected: a `stale-incarnation` dead letter. Fixed: a
  // TimerFire its incarnation's clock did not arm is a dead letter.
  it('a machine timer that fires during a restart delay is not handled by the next incarnation', async () => {
    const { system, clock } = testSystem();
    const rang: string[] = [];
    const machine = setup({
      types: {} as { input: { inc: number }; context: { inc: number } },
    }).createMachine({
      context: ({ input }) => ({ inc: input.inc }),
      initial: 'armed',
      states: {
        armed: {
          after: {
            300: {
              target: 'idle',
              actions: ({ context }) =>
                void rang.push(`armed by ${context.inc}, run by ${actorContext().incarnation}`),
            },
          },
        },
        idle: {},
      },
    });
    const parent = system.spawn(
      fromReceive<null, 'spawn', ActorRef<{ type: string }>>(
        null,
        (s, _m, ctx) => {
          ctx.reply(
            ctx.spawn(fromMachine(machine, { input: (c) => ({ inc: c.incarnation }) }), {
              name: 'child',
              shutdown: 'brutal',
              mailbox: { capacity: 1, overflow: 'fail' },
            }),
          );
          return s;
        },
        { onChildFailure: () => ({ name: 'restart', delayMs: 1_000 }) },
      ),
    );
    const p = watch(parent.ask('spawn'));
    await settle(system);
    const child = (p() as { value: ActorRef<{ type: string }> }).value;
    // a failure XState does not see (its mailbox of one overflows); brutal: no stop hook, so
    // the machine's 300 ms timer stays armed through the 1,000 ms restart delay
    child.tell({ type: 'noop' });
    child.tell({ type: 'noop' });
    await settle(system);
    await clock.advance(2_000, () => settle(system));
    expect(rang).toEqual(['armed by 1, run by 1']);
    expect(system.deadLetters.countOf('stale-incarnation')).toBe(1);
    await system.shutdown();
  });

  // BUG: runtime/core/cell.ts load(): when init or restore throws after a persistent actor's
  // async load, the actor fails and returns without waking (the success and rejection paths
  // wake it), so system messages that came during the load stay unhandled. Its parent
  // usually answers the failure (the directive wakes it); a parent winding down does not
  // (ActorCell.childFailed ignores failures once STOPPING, and a RESTARTING supervisor whose
  // init threw has no state to decide with): the stop it sent is never handled, the child
  // stays suspended and the parent never stops. Fixed: the load's
  // failure path wakes the actor.
  it('a persistent child whose restore throws while its parent stops still stops', async () => {
    const { system } = testSystem();
    const inner = new InMemoryStore();
    await inner.save('k', { schemaVersion: 1, data: 1 }, { expectedVersion: null });
    let release: (() => void) | null = null;
    const store: PersistenceStore = {
      load: (k) =>
        new Promise((resolve) => {
          release = () => resolve(inner.load(k));
        }),
      save: (k, snapshot, o) => inner.save(k, snapshot, o),
    };
    const child = fromReceive<number, never>(0, (s) => s, {
      restore: () => {
        throw new Error('restore fault');
      },
    });
    const parent = system.spawn(
      fromReceive<null, 'go'>(null, (s, _m, ctx) => {
        ctx.spawn(child, { name: 'c', persistence: { store, key: 'k' } });
        return s;
      }),
    );
    parent.tell('go');
    for (let i = 0; i < 5 && release === null; i++) await nextTurn();
    expect(release).not.toBeNull();
    // the parent stops while its child loads: the child is told to stop, then fails
    let stopped = false;
    void system.stop(parent).then(() => void (stopped = true));
    for (let i = 0; i < 5; i++) await nextTurn();
    release!();
    await settle(system);
    expect(system.cellAt(`${parent.path}/c`)?.lifecycle).toBeUndefined();
    expect(stopped).toBe(true);
  });

  // BUG: runtime/core/cell.ts ActorCell.watch keeps what an actor watches in a Map keyed by path
  // (`watching`), so watching the ref of a stopped spawn after the live spawn at that path
  // (the stale one is answered Terminated at once) replaces the live one's entry; when the
  // watcher stops it unwatches the stopped spawn only, and the live one keeps the stopped
  // watcher in its watchers: a leak, and a Terminated dead-lettered to it later. Fixed: what an
  // actor watches is keyed by spawn and path.
  it('a watcher that watched two spawns at one path leaves nothing behind when it stops', async () => {
    const { system } = testSystem();
    const first = system.spawn(
      fromReceive(null, (s) => s),
      { name: 'a' },
    );
    await settle(system);
    const stoppedFirst = watch(system.stop(first));
    await settle(system);
    expect(stoppedFirst()).toBeDefined();
    const second = system.spawn(
      fromReceive(null, (s) => s),
      { name: 'a' },
    );
    const watcher = system.spawn(
      fromReceive<null, { watch: ActorRef<unknown> } | 'stop'>(null, (s, m, ctx) => {
        if (m === 'stop') ctx.stop();
        else if ('watch' in m) ctx.watch(m.watch);
        return s;
      }),
    );
    watcher.tell({ watch: second });
    watcher.tell({ watch: first }); // stopped: told Terminated at once
    await settle(system);
    watcher.tell('stop');
    await settle(system);
    const told: string[] = [];
    system.deadLetters.subscribe((l) => void told.push(l.recipient));
    void system.stop(second);
    await settle(system);
    expect(told, 'a Terminated to the stopped watcher').toEqual([]);
  });
});
