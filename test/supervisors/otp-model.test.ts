/**
 * Model-based property test: random supervision trees, random crashes, normal exits and time
 * steps, run against troupe and against a small pure model of OTP's rules; after each step
 * the workers alive and whether the system has terminated must agree. fast-check prints the
 * seed and the shrunk counterexample when they do not.
 *
 * The model (OTP's supervisor, as supervisors/supervisor.ts documents it):
 * - a worker that ends is restarted when permanent (always), transient (after a crash only),
 *   never when temporary (and a temporary child is removed);
 * - each restart is stamped in its supervisor's sliding window: more than `intensity` within
 *   `period` ms and the supervisor gives up: it crashes, and its parent handles that as the
 *   crash of a permanent child (nested supervisors are permanent here); the root giving up
 *   ends the system;
 * - one-for-one restarts the child; one-for-all all children; rest-for-one the child and
 *   those started after it; temporary children taken down by a group restart are removed;
 * - a restarted supervisor starts its whole subtree afresh (empty windows).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { supervise, type ActorRef, type Behaviour, type RestartType } from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { worker, type WorkerMsg } from './support.ts';

type GroupStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

interface WorkerSpec {
  readonly kind: 'worker';
  readonly id: string;
  readonly restart: RestartType;
}
interface SupSpec {
  readonly kind: 'sup';
  readonly id: string;
  readonly strategy: GroupStrategy;
  readonly intensity: number;
  readonly period: number;
  readonly children: readonly (WorkerSpec | SupSpec)[];
}

// ---- the pure model ---------------------------------------------------------------------

interface MWorker {
  readonly spec: WorkerSpec;
  alive: boolean;
  removed: boolean;
}
interface MSup {
  readonly spec: SupSpec;
  children: (MWorker | MSup)[];
  window: number[];
  removed: boolean;
  alive: boolean;
}

function fresh(spec: SupSpec): MSup {
  return {
    spec,
    window: [],
    removed: false,
    alive: true,
    children: spec.children.map((c) =>
      c.kind === 'worker' ? { spec: c, alive: true, removed: false } : fresh(c),
    ),
  };
}

class Model {
  root: MSup;
  terminated = false;
  now = 0;
  constructor(spec: SupSpec) {
    this.root = fresh(spec);
  }

  /** `path`: ids from the root's children down to the worker. */
  workerEnded(path: readonly string[], abnormal: boolean): void {
    const { parent, child } = this.find(path);
    this.childEnded(parent, child, abnormal, path.slice(0, -1));
  }

  private find(path: readonly string[]): { parent: MSup; child: MWorker | MSup } {
    let sup = this.root;
    for (let i = 0; i < path.length - 1; i++)
      sup = sup.children.find((c) => c.spec.id === path[i]) as MSup;
    return { parent: sup, child: sup.children.find((c) => c.spec.id === path.at(-1))! };
  }

  private childEnded(
    sup: MSup,
    child: MWorker | MSup,
    abnormal: boolean,
    supPath: readonly string[],
  ): void {
    child.alive = false;
    const restart = child.spec.kind === 'worker' ? child.spec.restart : 'permanent';
    if (!(restart === 'permanent' || (restart === 'transient' && abnormal))) {
      if (restart === 'temporary') child.removed = true;
      return;
    }
    const threshold = this.now - sup.spec.period;
    sup.window = sup.window.filter((t) => t >= threshold);
    sup.window.push(this.now);
    if (sup.window.length > sup.spec.intensity) {
      // the supervisor gives up: its parent sees a crashed permanent child
      if (supPath.length === 0) {
        this.terminated = true;
        return;
      }
      const { parent } = this.find(supPath);
      this.childEnded(parent, sup, true, supPath.slice(0, -1));
      return;
    }
    const live = sup.children.filter((c) => !c.removed);
    const at = live.indexOf(child);
    const group =
      sup.spec.strategy === 'one-for-one'
        ? [child]
        : sup.spec.strategy === 'one-for-all'
          ? live
          : live.slice(at);
    for (const c of group) {
      if (c !== child && !c.alive) continue; // only running children are taken down and restarted
      const type = c.spec.kind === 'worker' ? c.spec.restart : 'permanent';
      if (c !== child && type === 'temporary') {
        c.alive = false;
        c.removed = true;
        continue;
      }
      this.restart(sup, c);
    }
  }

  private restart(sup: MSup, c: MWorker | MSup): void {
    if (c.spec.kind === 'worker') (c as MWorker).alive = true;
    else sup.children[sup.children.indexOf(c)] = fresh(c.spec);
  }

  /** Paths (ids) of the workers alive, and of every worker the tree can have. */
  alive(): string[][] {
    const out: string[][] = [];
    const walk = (s: MSup, prefix: string[]): void => {
      for (const c of s.children) {
        if (!c.alive || c.removed) continue;
        if (c.spec.kind === 'worker') out.push([...prefix, c.spec.id]);
        else walk(c as MSup, [...prefix, c.spec.id]);
      }
    };
    if (!this.terminated) walk(this.root, []);
    return out;
  }
}

function allWorkers(spec: SupSpec, prefix: string[] = []): string[][] {
  return spec.children.flatMap((c) =>
    c.kind === 'worker' ? [[...prefix, c.id]] : allWorkers(c, [...prefix, c.id]),
  );
}

// ---- the real tree ----------------------------------------------------------------------

function build(spec: SupSpec): Behaviour<any, any, any> {
  return supervise({
    strategy: spec.strategy,
    intensity: spec.intensity,
    period: spec.period,
    children: spec.children.map((c) =>
      c.kind === 'worker'
        ? { id: c.id, behaviour: worker(c.id, []), restart: c.restart }
        : { id: c.id, behaviour: build(c) },
    ),
  });
}

// ---- generators -------------------------------------------------------------------------

function treeArb(depth: number, prefix: string): fc.Arbitrary<SupSpec> {
  const child = (i: number): fc.Arbitrary<WorkerSpec | SupSpec> => {
    const w = fc
      .constantFrom<RestartType>('permanent', 'transient', 'temporary')
      .map((restart): WorkerSpec => ({ kind: 'worker', id: `${prefix}w${i}`, restart }));
    return depth <= 1
      ? w
      : fc.oneof(
          { weight: 3, arbitrary: w },
          { weight: 1, arbitrary: treeArb(depth - 1, `${prefix}s${i}-`) },
        );
  };
  return fc
    .record({
      strategy: fc.constantFrom<GroupStrategy>('one-for-one', 'one-for-all', 'rest-for-one'),
      intensity: fc.integer({ min: 0, max: 3 }),
      period: fc.constantFrom(100, 1000),
      n: fc.integer({ min: 1, max: 3 }),
    })
    .chain(({ strategy, intensity, period, n }) =>
      fc.tuple(...Array.from({ length: n }, (_, i) => child(i))).map((children): SupSpec => ({
        kind: 'sup',
        id: prefix === '' ? 'root' : prefix.slice(0, -1),
        strategy,
        intensity,
        period,
        children,
      })),
    );
}

type Command =
  | { readonly op: 'crash' | 'exit'; readonly pick: number }
  | { readonly op: 'advance'; readonly ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('crash' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('exit' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 1500 }),
    }),
  },
);

/** Runs in CI: 1,000 runs (TROUPE_MODEL_RUNS overrides). */
const RUNS = Number(process.env.TROUPE_MODEL_RUNS ?? 1000);

describe('supervision against a model of OTP', () => {
  it(`agrees with the model on random trees, crashes, exits and time (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb(3, ''),
        fc.array(commandArb, { minLength: 1, maxLength: 12 }),
        async (spec, commands) => {
          const { system, clock } = testSystem();
          const model = new Model(spec);
          const every = allWorkers(spec);
          const pathOf = (ids: readonly string[]): string => `/user/root/${ids.join('/')}`;
          try {
            system.spawn(build(spec), { name: 'root' });
            await settle(system);
            for (const c of commands) {
              if (c.op === 'advance') {
                await clock.advance(c.ms);
                model.now += c.ms;
              } else {
                const alive = model.alive();
                if (alive.length === 0) continue;
                const target = alive[c.pick % alive.length]!;
                (system.actorAt(pathOf(target)) as ActorRef<WorkerMsg>).tell(c.op);
                model.workerEnded(target, c.op === 'crash');
                await settle(system);
              }
              const expected = new Set(model.alive().map(pathOf));
              const actual = new Set(
                every.map(pathOf).filter((p) => system.actorAt(p) !== undefined),
              );
              expect(actual).toEqual(expected);
              expect(system.state === 'terminated').toBe(model.terminated);
              if (model.terminated) break;
            }
          } finally {
            await system.shutdown();
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);
});
