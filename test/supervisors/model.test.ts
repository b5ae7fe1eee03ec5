/**
 * Model-based property test of supervision: random supervision trees (depth up to 3, up to 4
 * children a supervisor), random crashes, normal exits and time steps, run against troupe and
 * against the pure model of OTP's rules in ./model.ts. After every step they must agree on:
 * - the stop hooks that ran (`stop:<id>`), in order, and before any init of the step;
 * - the inits that ran (`start:<id>`), in list order among each supervisor's workers (not
 *   across supervisors: a nested supervisor starts its children in its own turn, after its
 *   parent's later children; OTP's synchronous start_link would start them first);
 * - which actors are alive (every supervisor and worker path of the tree);
 * - whether the system has terminated (the root supervisor gave up), and its report;
 * and at the end on the stop hooks of the shutdown, in order.
 *
 * 1,000 runs (TROUPE_MODEL_RUNS overrides). On a counterexample fast-check prints the seed, the
 * path and the shrunk tree and commands; replay it with
 * `fc.assert(…, { seed, path, endOnFailure: true })`.
 *
 * The model follows troupe where troupe departs from OTP (TROUPE_RULES); the last describe
 * shows each departure on its smallest case.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { supervise, type ActorRef, type Behaviour } from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';
import {
  SupervisionModel,
  supervisorPaths,
  workerPaths,
  OTP_RULES,
  TROUPE_RULES,
  type ModelOptions,
  type ModelPath,
  type ModelRestart,
  type ModelStrategy,
  type NodeSpec,
  type SupSpec,
  type WorkerSpec,
} from './model.ts';

const RUNS = Number(process.env.TROUPE_MODEL_RUNS ?? 1000);

// ---- generators ---------------------------------------------------------------------------

type Shape =
  | { readonly restart: ModelRestart }
  | {
      readonly strategy: ModelStrategy;
      readonly intensity: number;
      readonly period: number;
      readonly children: readonly Shape[];
    };

/** A supervisor shape: depth 1 has only workers; at most 4 children each. */
function supShape(depth: number): fc.Arbitrary<Shape> {
  const workerShape = fc.record({
    restart: fc.constantFrom<ModelRestart>('permanent', 'transient', 'temporary'),
  });
  const child: fc.Arbitrary<Shape> =
    depth <= 1
      ? workerShape
      : fc.oneof(
          { weight: 2, arbitrary: workerShape },
          { weight: 1, arbitrary: fc.constant(null).chain(() => supShape(depth - 1)) },
        );
  return fc.record({
    strategy: fc.constantFrom<ModelStrategy>('one-for-one', 'one-for-all', 'rest-for-one'),
    intensity: fc.integer({ min: 0, max: 3 }),
    period: fc.constantFrom(1000, 300),
    children: fc.array(child, { minLength: 1, maxLength: 4 }),
  });
}

/** Names the shape's nodes in pre-order: supervisors s0, s1…, workers w0, w1…; the root `root`. */
function label(shape: Shape): SupSpec {
  let sups = 0;
  let workers = 0;
  const go = (s: Shape, top: boolean): NodeSpec => {
    if ('restart' in s) return { kind: 'worker', id: `w${workers++}`, restart: s.restart };
    const id = top ? 'root' : `s${sups++}`;
    return {
      kind: 'supervisor',
      id,
      strategy: s.strategy,
      intensity: s.intensity,
      period: s.period,
      children: s.children.map((c) => go(c, false)),
    };
  };
  return go(shape, true) as SupSpec;
}

/** Trees of depth up to 3 (root, nested supervisors, theirs), up to 4 children each. */
const treeArb: fc.Arbitrary<SupSpec> = supShape(3).map(label);

type Command =
  | { readonly op: 'crash' | 'exit'; readonly pick: number }
  | { readonly op: 'advance'; readonly ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('crash' as const), pick: fc.nat(63) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('exit' as const), pick: fc.nat(63) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      // 300 and 1000 are the periods: exactly a period old still counts, one ms more does not
      ms: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.constantFrom(300, 301, 1000, 1001)),
    }),
  },
);

// ---- the real tree ------------------------------------------------------------------------

function build(spec: SupSpec, log: string[]): Behaviour<any, any, any> {
  return supervise({
    strategy: spec.strategy,
    intensity: spec.intensity,
    period: spec.period,
    children: spec.children.map((c) =>
      c.kind === 'worker'
        ? { id: c.id, behaviour: worker(c.id, log), restart: c.restart }
        : { id: c.id, behaviour: build(c, log) },
    ),
  });
}

const actorPath = (p: ModelPath): string => ['/user/root', ...p].join('/');

const isStop = (e: string): boolean => e.startsWith('stop:');
const stops = (log: readonly string[]): string[] => log.filter(isStop);

/** True when every stop hook ran before every init (one step: winding down, then starting). */
function phases(log: readonly string[]): boolean {
  const firstStart = log.findIndex((e) => !isStop(e));
  return firstStart < 0 || log.findLastIndex(isStop) < firstStart;
}

/** The supervisor id of each worker id. */
function parents(spec: SupSpec, out = new Map<string, string>()): Map<string, string> {
  for (const c of spec.children)
    if (c.kind === 'worker') out.set(c.id, spec.id);
    else parents(c, out);
  return out;
}

/** Runs `commands` on troupe and on the model, comparing after each step. */
async function check(spec: SupSpec, commands: readonly Command[], options: ModelOptions) {
  const { system, clock } = testSystem();
  const log: string[] = [];
  const model = new SupervisionModel(spec, options);
  const every = [[], ...supervisorPaths(spec), ...workerPaths(spec)].map(actorPath);
  const parentOf = parents(spec);
  /** The inits of the workers of each supervisor, in order. */
  const startsBySupervisor = (l: readonly string[]): Record<string, string[]> => {
    const by: Record<string, string[]> = {};
    for (const e of l) if (!isStop(e)) (by[parentOf.get(e.slice('start:'.length))!] ??= []).push(e);
    return by;
  };
  let seenActual = 0;
  let seenModel = 0;
  const compare = async (step: string): Promise<void> => {
    const actual = log.slice(seenActual);
    const predicted = model.log.slice(seenModel);
    seenActual = log.length;
    seenModel = model.log.length;
    const what = `at ${step}: got ${actual.join(' ')}; model ${predicted.join(' ')}`;
    expect(phases(predicted), `the model stops before it starts ${what}`).toBe(true);
    expect(phases(actual), `stop hooks before inits ${what}`).toBe(true);
    // stop hooks: exactly the model's order (children before parents, last started first)
    expect(stops(actual), `stop hooks ${what}`).toEqual(stops(predicted));
    // inits: in list order among the workers of each supervisor (a nested supervisor's
    // children start in its own turn, so they interleave with its later siblings)
    expect(startsBySupervisor(actual), `inits ${what}`).toEqual(startsBySupervisor(predicted));
    const alive = every.filter((p) => system.actorAt(p) !== undefined);
    const expected = model.terminated ? [] : [[], ...model.running()].map(actorPath);
    expect(new Set(alive), `actors alive after ${step}`).toEqual(new Set(expected));
    expect(system.state, `system state after ${step}`).toBe(
      model.terminated ? 'terminated' : 'running',
    );
    if (model.terminated)
      expect(await system.whenTerminated).toMatchObject({
        reason: 'failure',
        path: '/user/root',
        error: { code: 'ERR_MAX_RESTART_INTENSITY' },
      });
  };
  try {
    system.spawn(build(spec, log), { name: 'root' });
    await settle(system);
    await compare('start');
    for (const [i, c] of commands.entries()) {
      if (c.op === 'advance') {
        model.advance(c.ms);
        await clock.advance(c.ms);
      } else {
        const workers = model.runningWorkers();
        if (workers.length === 0) continue;
        const target = workers[c.pick % workers.length]!;
        if (c.op === 'crash') model.crash(target);
        else model.exit(target);
        (system.actorAt(actorPath(target)) as ActorRef<WorkerMsg>).tell(c.op);
        await settle(system);
      }
      await compare(`command ${i} ${JSON.stringify(c)}`);
      if (model.terminated) return;
    }
    // and the shutdown: every actor stops, children first, each supervisor's in reverse order
    model.shutdown();
    await system.shutdown();
    const actual = log.slice(seenActual);
    const predicted = model.log.slice(seenModel);
    expect(actual, `stop hooks at shutdown: model ${predicted.join(' ')}`).toEqual(predicted);
    expect(every.filter((p) => system.actorAt(p) !== undefined)).toEqual([]);
  } finally {
    await system.shutdown();
  }
}

describe('supervision against a pure model of OTP (model.ts)', () => {
  it(`agrees on random trees, crashes, exits and time steps (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb,
        fc.array(commandArb, { minLength: 1, maxLength: 40, size: 'medium' }),
        (spec, commands) => check(spec, commands, TROUPE_RULES),
      ),
      { numRuns: RUNS },
    );
  }, 120_000);
});

const w = (id: string, restart: ModelRestart = 'permanent'): WorkerSpec => ({
  kind: 'worker',
  id,
  restart,
});
const root = (
  strategy: ModelStrategy,
  intensity: number,
  children: readonly NodeSpec[],
): SupSpec => ({ kind: 'supervisor', id: 'root', strategy, intensity, period: 1000, children });

/**
 * Where troupe and OTP's supervisor.erl differ, the smallest case of each: the model with
 * troupe's rule agrees, the model with OTP's rule does not. A test here fails the day troupe
 * follows OTP on that point: then set the option to OTP's value in TROUPE_RULES.
 */
describe('known differences from OTP (ModelOptions)', () => {
  it.each(['one-for-all', 'rest-for-one'] as const)(
    'restartStoppedSiblings: %s does not start again a transient sibling that stopped normally',
    async (strategy) => {
      // w1 (transient) exits normally and stays stopped; then w0 crashes: OTP restarts w0 and
      // w1 (start:w0 start:w1), troupe only w0
      const spec = root(strategy, 3, [w('w0'), w('w1', 'transient')]);
      const commands: Command[] = [
        { op: 'exit', pick: 1 },
        { op: 'crash', pick: 0 },
      ];
      await check(spec, commands, TROUPE_RULES);
      await expect(
        check(spec, commands, {
          ...TROUPE_RULES,
          restartStoppedSiblings: OTP_RULES.restartStoppedSiblings,
        }),
      ).rejects.toThrow(/inits at command 1/);
    },
  );
});
