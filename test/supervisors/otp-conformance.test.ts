/**
 * OTP conformance: troupe's supervisors checked against Erlang/OTP's own documentation, the
 * `supervisor` manual page (STDLIB) and the "Supervisor Behaviour" chapter of OTP Design
 * Principles. Each test quotes or paraphrases the rule it checks (`OTP:` comments). Where
 * troupe documents a deliberate difference ("Differences from OTP", supervisors/supervisor.ts)
 * the test checks troupe's documented behaviour and says so in its name ("troupe difference").
 *
 * The suite is written from the documentation and the public API only (supervisors/api.ts,
 * spec.ts, exit.ts, index.ts), not from the implementation. Time is simulated (SimulatedClock);
 * nothing sleeps. The property tests print their fast-check seed; replay one with
 * OTP_CONFORMANCE_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkChildSpecs,
  countChildren,
  deleteChild,
  fromReceive,
  getChildSpec,
  IGNORE,
  InvalidBehaviourError,
  MaxRestartIntensityError,
  restartChild,
  startChild,
  stopWithShutdown,
  supervise,
  SupervisorRequestError,
  SupervisorSpecError,
  terminateChild,
  whichChildren,
  DEFAULT_INTENSITY,
  DEFAULT_PERIOD_MS,
  type ActorRef,
  type ActorSystem,
  type Behaviour,
  type ChildSpec,
  type RestartType,
  type RuntimeEvent,
  type Strategy,
  type SupervisorOptions,
  type SupervisorRef,
  type Terminated,
} from '../../index.ts';
import { nextTurn, settle } from '../../testing.ts';
import { testSystem, type TestSystem } from '../support/system.ts';

// ---- helpers --------------------------------------------------------------------------------

/** How a test worker can be told to end (OTP exit reasons in brackets). */
type Msg =
  | 'crash' // an abnormal exit (a throw)
  | 'exit' // `normal`
  | 'shutdown' // `shutdown`
  | { readonly shutdownWith: unknown } // `{shutdown, Term}`
  | 'ping';

/** A worker that logs `start:<id>` at each init and `stop:<id>` in its stop hook. */
function w(
  id: string,
  log: string[],
  hook?: () => void | Promise<void>,
): Behaviour<Msg, unknown, number> {
  return fromReceive<number, Msg, unknown>(
    () => {
      log.push(`start:${id}`);
      return 0;
    },
    (n, msg, ctx) => {
      if (msg === 'crash') throw new Error(`${id} crashed`);
      if (msg === 'exit') ctx.stop();
      else if (msg === 'shutdown') stopWithShutdown(ctx);
      else if (typeof msg === 'object') stopWithShutdown(ctx, msg.shutdownWith);
      return n + 1;
    },
    {
      stop: () => {
        log.push(`stop:${id}`);
        return hook?.();
      },
    },
  );
}

/** A promise the test resolves by hand (for stop hooks that take time). */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { wait: () => p, open };
}

interface Booted extends TestSystem {
  readonly log: string[];
  readonly events: RuntimeEvent[];
  readonly sup: SupervisorRef;
  /** The child at /user/sup/<id>, or undefined. */
  readonly at: (id: string) => ActorRef<Msg> | undefined;
}

/** A root supervisor named `sup` with these options, settled. */
async function boot(options: (log: string[]) => SupervisorOptions): Promise<Booted> {
  const t = testSystem();
  const log: string[] = [];
  const events: RuntimeEvent[] = [];
  t.system.events.subscribe((e) => events.push(e));
  const sup = t.system.spawn(supervise(options(log)), { name: 'sup' }) as SupervisorRef;
  await settle(t.system);
  const at = (id: string) => t.system.actorAt(`/user/sup/${id}`) as ActorRef<Msg> | undefined;
  return { ...t, log, events, sup, at };
}

/** Tells a child something and lets the system settle. */
async function send(b: Booted, id: string, msg: Msg): Promise<void> {
  const ref = b.at(id);
  if (ref === undefined) throw new Error(`no child ${id}`);
  ref.tell(msg);
  await settle(b.system);
}

/** The error `p` rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<SupervisorRequestError> {
  try {
    await p;
  } catch (error) {
    return error as SupervisorRequestError;
  }
  throw new Error('expected a rejection');
}

/** The reason the actor at `ref` ends with, once it has (watch it first). */
function endOf(system: ActorSystem, ref: ActorRef<any, any>): Promise<Terminated> {
  return new Promise((resolve) => system.watch(ref, resolve));
}

const ids = async (sup: SupervisorRef) => (await whichChildren(sup)).map((c) => c.id);

/** The fast-check seed: printed, and replayable with OTP_CONFORMANCE_SEED. */
function seed(test: string): number {
  const env = process.env.OTP_CONFORMANCE_SEED;
  const s = env !== undefined && env !== '' ? Number(env) | 0 : (Math.random() * 2 ** 31) | 0;
  console.info(`${test}: fast-check seed ${s} (replay: OTP_CONFORMANCE_SEED=${s})`);
  return s;
}

// ---- Supervision principles: start order, reverse stop order ---------------------------------

describe('OTP: start order and reverse stop order', () => {
  it('starts the children in list order ("started in order from left to right")', async () => {
    const b = await boot((log) => ({
      children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: w(id, log) })),
    }));
    expect(b.log).toEqual(['start:a', 'start:b', 'start:c']);
    await b.system.shutdown();
  });

  it('stops them in reverse order ("terminates its child processes in reversed start order, from right to left")', async () => {
    const b = await boot((log) => ({
      children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: w(id, log) })),
    }));
    b.log.length = 0;
    await b.system.stop(b.sup);
    expect(b.log).toEqual(['stop:c', 'stop:b', 'stop:a']);
    await b.system.shutdown();
  });

  it('stops them one at a time: the next waits until the one before has stopped', async () => {
    // OTP: the supervisor terminates each child and waits for its exit before the next
    const g = gate();
    const b = await boot((log) => ({
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'b', behaviour: w('b', log, g.wait), shutdown: Infinity },
      ],
    }));
    b.log.length = 0;
    let stopped = false;
    const done = b.system.stop(b.sup).then(() => (stopped = true));
    await b.clock.advance(60_000);
    expect(b.log).toEqual(['stop:b']);
    expect(stopped).toBe(false);
    g.open();
    await done;
    expect(b.log).toEqual(['stop:b', 'stop:a']);
    await b.system.shutdown();
  });

  it('tells each child to stop with reason `shutdown` ("exit(Child, shutdown)")', async () => {
    const b = await boot((log) => ({ children: [{ id: 'a', behaviour: w('a', log) }] }));
    const end = endOf(b.system, b.at('a')!);
    await b.system.stop(b.sup);
    expect((await end).reason).toBe('shutdown');
    await b.system.shutdown();
  });

  it('a child added by startChild is the last started, so it stops first', async () => {
    const b = await boot((log) => ({
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'b', behaviour: w('b', log) },
      ],
    }));
    await startChild(b.sup, { id: 'c', behaviour: w('c', b.log) });
    b.log.length = 0;
    await b.system.stop(b.sup);
    expect(b.log).toEqual(['stop:c', 'stop:b', 'stop:a']);
    await b.system.shutdown();
  });
});

// ---- Supervisor flags: defaults ---------------------------------------------------------------

describe('OTP: supervisor flag defaults', () => {
  it('exports the defaults "intensity defaults to 1 and period defaults to 5" (seconds: 5,000 ms)', () => {
    expect(DEFAULT_INTENSITY).toBe(1);
    expect(DEFAULT_PERIOD_MS).toBe(5_000);
  });

  it('strategy defaults to one_for_one ("This is the default restart strategy")', async () => {
    const b = await boot((log) => ({
      children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: w(id, log) })),
    }));
    b.log.length = 0;
    await send(b, 'b', 'crash');
    expect(b.log).toEqual(['stop:b', 'start:b']);
    await b.system.shutdown();
  });

  it('by default one restart is allowed in 5 s: a second within 5 s makes the supervisor give up', async () => {
    const b = await boot((log) => ({ children: [{ id: 'a', behaviour: w('a', log) }] }));
    await send(b, 'a', 'crash');
    expect(b.system.state).toBe('running');
    await b.clock.advance(4_900);
    await send(b, 'a', 'crash');
    const report = await b.system.whenTerminated;
    expect(report).toMatchObject({ reason: 'failure', path: '/user/sup' });
    expect(report.error).toBeInstanceOf(MaxRestartIntensityError);
  });

  it('by default a restart more than 5 s after the last one is fine', async () => {
    const b = await boot((log) => ({ children: [{ id: 'a', behaviour: w('a', log) }] }));
    for (let i = 0; i < 4; i++) {
      await send(b, 'a', 'crash');
      await b.clock.advance(5_100);
    }
    expect(b.system.state).toBe('running');
    expect(b.log.filter((l) => l === 'start:a')).toHaveLength(5);
    await b.system.shutdown();
  });
});

// ---- Restart strategies -----------------------------------------------------------------------

describe('OTP: restart strategies', () => {
  const three = (strategy: Strategy, restart: RestartType[] = []) =>
    boot((log) => ({
      strategy,
      intensity: 10,
      children: ['a', 'b', 'c'].map((id, i) => ({
        id,
        behaviour: w(id, log),
        restart: restart[i] ?? 'permanent',
      })),
    }));

  it('one_for_one: "If one child process terminates and is to be restarted, only that child process is affected"', async () => {
    const b = await three('one-for-one');
    const [a, c] = [b.at('a'), b.at('c')];
    b.log.length = 0;
    await send(b, 'b', 'crash');
    expect(b.log).toEqual(['stop:b', 'start:b']);
    expect([b.at('a'), b.at('c')]).toEqual([a, c]);
    await b.system.shutdown();
  });

  it('one_for_all: "all other child processes are terminated and then all child processes are restarted" (others stop in reverse order, all start in order)', async () => {
    const b = await three('one-for-all');
    b.log.length = 0;
    await send(b, 'b', 'crash');
    expect(b.log).toEqual(['stop:b', 'stop:c', 'stop:a', 'start:a', 'start:b', 'start:c']);
    await b.system.shutdown();
  });

  it('rest_for_one: "the child processes after the terminated child process in the start order are terminated. Then the terminated child process and all child processes after it are restarted"', async () => {
    const b = await three('rest-for-one');
    b.log.length = 0;
    await send(b, 'a', 'crash');
    expect(b.log).toEqual(['stop:a', 'stop:c', 'stop:b', 'start:a', 'start:b', 'start:c']);
    b.log.length = 0;
    await b.clock.advance(10_000);
    await send(b, 'b', 'crash');
    expect(b.log).toEqual(['stop:b', 'stop:c', 'start:b', 'start:c']);
    b.log.length = 0;
    await b.clock.advance(10_000);
    await send(b, 'c', 'crash');
    expect(b.log).toEqual(['stop:c', 'start:c']);
    await b.system.shutdown();
  });

  for (const strategy of ['one-for-all', 'rest-for-one'] as const)
    it(`${strategy}: a temporary sibling taken down is "never restarted (even when ... a sibling's death causes the temporary process to be terminated)", and its spec is gone`, async () => {
      const b = await three(strategy, ['permanent', 'permanent', 'temporary']);
      const end = endOf(b.system, b.at('c')!);
      b.log.length = 0;
      await send(b, 'b', 'crash');
      expect((await end).reason).toBe('shutdown'); // terminated as by exit(Child, shutdown)
      expect(b.log).toEqual(
        strategy === 'one-for-all'
          ? ['stop:b', 'stop:c', 'stop:a', 'start:a', 'start:b']
          : ['stop:b', 'stop:c', 'start:b'],
      );
      expect(b.at('c')).toBeUndefined();
      expect(await ids(b.sup)).toEqual(['a', 'b']);
      await b.system.shutdown();
    });

  for (const strategy of ['one-for-one', 'one-for-all', 'rest-for-one'] as const)
    it(`${strategy}: no restart when the child that ended is not to be restarted ("if one child process terminates and is to be restarted")`, async () => {
      const b = await three(strategy, ['permanent', 'transient', 'permanent']);
      b.log.length = 0;
      await send(b, 'b', 'exit');
      expect(b.log).toEqual(['stop:b']);
      expect(b.at('a')).toBeDefined();
      expect(b.at('c')).toBeDefined();
      await b.system.shutdown();
    });

  it('a group restart is one restart: with the default intensity (1) a one_for_all restart of three children is allowed once', async () => {
    const b = await boot((log) => ({
      strategy: 'one-for-all',
      children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: w(id, log) })),
    }));
    await send(b, 'b', 'crash');
    expect(b.system.state).toBe('running');
    expect(b.log.filter((l) => l.startsWith('start:'))).toHaveLength(6);
    await send(b, 'c', 'crash');
    expect((await b.system.whenTerminated).error).toBeInstanceOf(MaxRestartIntensityError);
  });

  it('troupe difference: one_for_all does not start again a transient child that had stopped normally before (OTP starts every spec of the group)', async () => {
    const b = await three('one-for-all', ['permanent', 'transient', 'permanent']);
    await send(b, 'b', 'exit');
    b.log.length = 0;
    await send(b, 'a', 'crash');
    expect(b.log).toEqual(['stop:a', 'stop:c', 'start:a', 'start:c']);
    expect(b.at('b')).toBeUndefined();
    expect(await ids(b.sup)).toEqual(['a', 'b', 'c']);
    await b.system.shutdown();
  });

  it('troupe difference: a restarted child keeps its ref (OTP: a new process, a new pid)', async () => {
    const b = await three('one-for-all');
    const before = await whichChildren(b.sup);
    await send(b, 'b', 'crash');
    const after = await whichChildren(b.sup);
    expect(after.map((c) => c.ref)).toEqual(before.map((c) => c.ref));
    await b.system.shutdown();
  });
});

// ---- Restart types and exit reasons -------------------------------------------------------------

describe('OTP: restart types and exit reasons', () => {
  const one = (restart: RestartType) =>
    boot((log) => ({
      intensity: 10,
      children: [{ id: 'x', behaviour: w('x', log), restart }],
    }));

  // OTP: "A permanent child process is always restarted. A temporary child process is never
  // restarted. A transient child process is restarted only if it terminates abnormally, that
  // is, with an exit reason other than normal, shutdown, or {shutdown,Term}."
  const ends: [string, Msg, boolean][] = [
    ['abnormally (a throw)', 'crash', true],
    ['with reason normal', 'exit', false],
    ['with reason shutdown', 'shutdown', false],
    ['with reason {shutdown, Term}', { shutdownWith: 'done' }, false],
  ];
  for (const restart of ['permanent', 'transient', 'temporary'] as const)
    for (const [how, msg, abnormal] of ends) {
      const restarted = restart === 'permanent' || (restart === 'transient' && abnormal);
      it(`a ${restart} child that ends ${how} is ${restarted ? '' : 'not '}restarted`, async () => {
        const b = await one(restart);
        b.log.length = 0;
        await send(b, 'x', msg);
        expect(b.log).toEqual(restarted ? ['stop:x', 'start:x'] : ['stop:x']);
        expect(b.at('x') !== undefined).toBe(restarted);
        // OTP: "the child specification is kept by the supervisor (unless it is a temporary
        // child)"; a temporary child's spec is deleted as soon as the process terminates
        expect(await ids(b.sup)).toEqual(restart === 'temporary' ? [] : ['x']);
        await b.system.shutdown();
      });
    }

  it('stopWithShutdown ends the actor with reason shutdown, and {shutdown, Term} carries the term', async () => {
    const b = await one('transient');
    const end = endOf(b.system, b.at('x')!);
    await send(b, 'x', { shutdownWith: { job: 7 } });
    expect(await end).toMatchObject({ reason: 'shutdown', error: { shutdown: { job: 7 } } });
    await b.system.shutdown();
  });

  it('stopWithShutdown outside an actor turn is refused (ERR_NOT_AN_ACTOR_CONTEXT)', () => {
    expect(() => stopWithShutdown({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_AN_ACTOR_CONTEXT' }),
    );
  });

  it('troupe difference: a transient child stopped by another actor ends normal and is not restarted (OTP: exit(Pid, kill) is abnormal)', async () => {
    const b = await one('transient');
    b.log.length = 0;
    await b.system.stop(b.at('x')!);
    await settle(b.system);
    expect(b.log).toEqual(['stop:x']);
    expect(b.at('x')).toBeUndefined();
    await b.system.shutdown();
  });

  it('every restart counts toward the intensity, also that of a permanent child that stopped normally', async () => {
    // OTP: "if more than MaxR restarts occur within MaxT seconds" — each restart counts
    const b = await boot((log) => ({ children: [{ id: 'p', behaviour: w('p', log) }] }));
    await send(b, 'p', 'exit');
    expect(b.system.state).toBe('running');
    await send(b, 'p', 'exit');
    expect((await b.system.whenTerminated).error).toBeInstanceOf(MaxRestartIntensityError);
  });
});

// ---- Maximum restart intensity ----------------------------------------------------------------

describe('OTP: maximum restart intensity', () => {
  it('"if more than MaxR restarts occur within MaxT seconds, the supervisor terminates all the child processes and then itself"', async () => {
    const b = await boot((log) => ({
      intensity: 2,
      period: 1_000,
      children: ['a', 'b', 'c'].map((id) => ({ id, behaviour: w(id, log) })),
    }));
    await send(b, 'b', 'crash');
    await b.clock.advance(300);
    await send(b, 'b', 'crash');
    await b.clock.advance(300);
    expect(b.system.state).toBe('running');
    b.log.length = 0;
    await send(b, 'b', 'crash'); // the third within 1,000 ms
    const report = await b.system.whenTerminated;
    // the failed child first (it is already dead in OTP), then the others in reverse order
    expect(b.log).toEqual(['stop:b', 'stop:c', 'stop:a']);
    expect(report).toMatchObject({ reason: 'failure', path: '/user/sup' });
    expect(b.events).toContainEqual(
      expect.objectContaining({ type: 'intensity-reached', supervisor: '/user/sup' }),
    );
  });

  it('intensity 0: the first restart is one too many', async () => {
    const b = await boot((log) => ({
      intensity: 0,
      children: [{ id: 'a', behaviour: w('a', log) }],
    }));
    await send(b, 'a', 'crash');
    expect((await b.system.whenTerminated).reason).toBe('failure');
    expect(b.log).toEqual(['start:a', 'stop:a']);
  });

  it('a child that is not restarted does not count (a temporary child failing)', async () => {
    const b = await boot((log) => ({
      intensity: 0,
      children: [
        { id: 'a', behaviour: w('a', log), restart: 'temporary' },
        { id: 'b', behaviour: w('b', log), restart: 'transient' },
      ],
    }));
    await send(b, 'a', 'crash');
    await send(b, 'b', 'exit');
    expect(b.system.state).toBe('running');
    await b.system.shutdown();
  });

  it('"When the supervisor terminates, then the next higher-level supervisor takes some action. It either restarts the terminated supervisor or terminates itself"', async () => {
    const b = await boot((log) => ({
      intensity: 3,
      children: [
        {
          id: 'inner',
          behaviour: supervise({ intensity: 0, children: [{ id: 'a', behaviour: w('a', log) }] }),
        },
        { id: 'z', behaviour: w('z', log) },
      ],
    }));
    b.log.length = 0;
    b.system.actorAt('/user/sup/inner/a')!.tell('crash');
    await settle(b.system);
    // the inner supervisor gave up and was restarted by the outer one (one_for_one)
    expect(b.log).toEqual(['stop:a', 'start:a']);
    expect(b.system.state).toBe('running');
    expect(b.events).toContainEqual(
      expect.objectContaining({ type: 'child-restarted', id: 'inner', supervisor: '/user/sup' }),
    );
    await b.system.shutdown();
  });

  it('"The termination reason for the supervisor itself in that case will be shutdown": a transient child supervisor that gives up is not restarted', async () => {
    const b = await boot((log) => ({
      intensity: 3,
      children: [
        {
          id: 'inner',
          restart: 'transient',
          behaviour: supervise({ intensity: 0, children: [{ id: 'a', behaviour: w('a', log) }] }),
        },
        { id: 'z', behaviour: w('z', log) },
      ],
    }));
    b.log.length = 0;
    b.system.actorAt('/user/sup/inner/a')!.tell('crash');
    await settle(b.system);
    expect(b.log).toEqual(['stop:a']);
    expect(b.at('inner')).toBeUndefined();
    expect(b.at('z')).toBeDefined();
    expect((await whichChildren(b.sup)).find((c) => c.id === 'inner')?.ref).toBeUndefined();
    await b.system.shutdown();
  });

  it('the window slides: restarts older than the period no longer count (property)', async () => {
    // OTP: more than MaxR restarts "in the last MaxT seconds". Gaps are multiples of 300 ms so
    // no two crashes are exactly one period (5,000 ms) apart.
    const PERIOD = 5_000;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 12 }),
        async (intensity, gaps) => {
          const b = await boot((log) => ({
            intensity,
            period: PERIOD,
            children: [{ id: 'a', behaviour: w('a', log) }],
          }));
          const times: number[] = [];
          let t = 0;
          let gaveUp = false;
          for (const gap of gaps) {
            t += gap * 300;
            await b.clock.advance(gap * 300);
            times.push(t);
            await send(b, 'a', 'crash');
            gaveUp = times.filter((x) => t - x < PERIOD).length > intensity;
            if (gaveUp) break;
          }
          expect(b.system.state === 'running').toBe(!gaveUp);
          await b.system.shutdown();
        },
      ),
      { seed: seed('intensity window'), numRuns: 60 },
    );
  });
});

// ---- Shutdown -----------------------------------------------------------------------------------

describe('OTP: shutdown (brutal_kill, a timeout, infinity)', () => {
  const never = () => new Promise<void>(() => undefined);

  it('brutal_kill: "the child process is unconditionally terminated" (no stop hook)', async () => {
    const b = await boot((log) => ({
      children: [{ id: 'a', behaviour: w('a', log, never), shutdown: 'brutal' }],
    }));
    await b.system.stop(b.sup);
    expect(b.log).toEqual(['start:a']);
    await b.system.shutdown();
  });

  it('a timeout: the supervisor tells the child to stop and waits at most that long, then kills it', async () => {
    const b = await boot((log) => ({
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'slow', behaviour: w('slow', log, never), shutdown: 2_000 },
      ],
    }));
    let stopped = false;
    const done = b.system.stop(b.sup).then(() => (stopped = true));
    await b.clock.advance(1_999);
    expect(stopped).toBe(false);
    expect(b.log).toEqual(['start:a', 'start:slow', 'stop:slow']);
    await b.clock.advance(1);
    await done;
    expect(b.log.at(-1)).toBe('stop:a');
    expect(b.events).toContainEqual(
      expect.objectContaining({ type: 'shutdown-timeout', actor: '/user/sup/slow' }),
    );
    await b.system.shutdown();
  });

  it('a timeout: a child that stops in time is not killed and the next one goes on at once', async () => {
    const g = gate();
    const b = await boot((log) => ({
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'b', behaviour: w('b', log, g.wait), shutdown: 2_000 },
      ],
    }));
    const done = b.system.stop(b.sup);
    await b.clock.advance(500);
    g.open();
    await done;
    expect(b.log).toEqual(['start:a', 'start:b', 'stop:b', 'stop:a']);
    expect(b.events.some((e) => e.type === 'shutdown-timeout')).toBe(false);
    await b.system.shutdown();
  });

  it('"If it is not given ... the default value 5000 will be used" for a worker', async () => {
    const b = await boot((log) => ({ children: [{ id: 'a', behaviour: w('a', log, never) }] }));
    let stopped = false;
    const done = b.system.stop(b.sup).then(() => (stopped = true));
    await b.clock.advance(4_999);
    expect(stopped).toBe(false);
    await b.clock.advance(1);
    await done;
    await b.system.shutdown();
  });

  it('infinity for a worker: the supervisor waits for as long as it takes', async () => {
    const g = gate();
    const b = await boot((log) => ({
      children: [{ id: 'a', behaviour: w('a', log, g.wait), shutdown: Infinity }],
    }));
    let stopped = false;
    const done = b.system.stop(b.sup).then(() => (stopped = true));
    await b.clock.advance(3_600_000);
    expect(stopped).toBe(false);
    g.open();
    await done;
    await b.system.shutdown();
  });

  it('"if the child is of type supervisor, the default value infinity will be used"', async () => {
    const b = await boot((log) => ({
      children: [
        {
          id: 'inner',
          behaviour: supervise({
            children: [{ id: 'slow', behaviour: w('slow', log, never), shutdown: 20_000 }],
          }),
        },
      ],
    }));
    let stopped = false;
    const done = b.system.stop(b.sup).then(() => (stopped = true));
    await b.clock.advance(19_999); // far beyond a worker's 5,000: the inner supervisor is waited for
    expect(stopped).toBe(false);
    await b.clock.advance(1);
    await done;
    await b.system.shutdown();
  });
});

// ---- start_child --------------------------------------------------------------------------------

describe('OTP: start_child', () => {
  const empty = () => boot(() => ({ intensity: 5, children: [] }));

  it('"Dynamically adds a child specification to supervisor SupRef, which starts the corresponding child process"', async () => {
    const b = await empty();
    const ref = await startChild(b.sup, { id: 'a', behaviour: w('a', b.log) });
    expect(ref).toBeDefined();
    expect(b.at('a')).toBe(ref);
    expect(b.log).toEqual(['start:a']);
    expect(await whichChildren(b.sup)).toEqual([
      { id: 'a', ref, type: 'worker', restart: 'permanent', restarting: false },
    ]);
    await b.system.shutdown();
  });

  it('a dynamically added child "behave[s] in the same way as the other child processes": it is restarted', async () => {
    const b = await empty();
    await startChild(b.sup, { id: 'a', behaviour: w('a', b.log) });
    await send(b, 'a', 'crash');
    expect(b.log).toEqual(['start:a', 'stop:a', 'start:a']);
    await b.system.shutdown();
  });

  it('troupe difference: an id in use answers ERR_CHILD_EXISTS, running or not (OTP: already_started / already_present)', async () => {
    const b = await empty();
    await startChild(b.sup, { id: 'a', behaviour: w('a', b.log) });
    const running = await rejection(startChild(b.sup, { id: 'a', behaviour: w('a2', b.log) }));
    expect(running).toBeInstanceOf(SupervisorRequestError);
    expect(running.code).toBe('ERR_CHILD_EXISTS');
    await terminateChild(b.sup, 'a');
    const present = await rejection(startChild(b.sup, { id: 'a', behaviour: w('a2', b.log) }));
    expect(present.code).toBe('ERR_CHILD_EXISTS');
    // "ChildSpec is discarded": the first spec is still the one kept
    expect(b.log).toEqual(['start:a', 'stop:a']);
    await b.system.shutdown();
  });

  it('`ignore` from the start function: "the child specification ChildSpec is added ... the pid is set to undefined ... returns {ok,undefined}"', async () => {
    const b = await empty();
    let ignore = true;
    const ref = await startChild(b.sup, {
      id: 'a',
      behaviour: () => (ignore ? IGNORE : w('a', b.log)),
    });
    expect(ref).toBeUndefined();
    expect(await whichChildren(b.sup)).toEqual([
      { id: 'a', ref: undefined, type: 'worker', restart: 'permanent', restarting: false },
    ]);
    expect(await countChildren(b.sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
    ignore = false;
    const started = await restartChild(b.sup, 'a');
    expect(started).toBeDefined();
    expect(b.log).toEqual(['start:a']);
    await b.system.shutdown();
  });

  it('`ignore` for a temporary child: its spec is not kept ("unless it is a temporary child")', async () => {
    const b = await empty();
    const ref = await startChild(b.sup, { id: 't', restart: 'temporary', behaviour: () => IGNORE });
    expect(ref).toBeUndefined();
    expect(await whichChildren(b.sup)).toEqual([]);
    await b.system.shutdown();
  });

  it('a start function that fails: "the child specification is discarded, and the function returns {error,Error}"', async () => {
    const b = await empty();
    const boom = new Error('no database');
    const err = await rejection(
      startChild(b.sup, {
        id: 'a',
        behaviour: () => {
          throw boom;
        },
      }),
    );
    expect(err.code).toBe('ERR_START_CHILD');
    expect(err.cause).toBe(boom);
    expect(await whichChildren(b.sup)).toEqual([]);
    // discarded: the id is free again
    await expect(startChild(b.sup, { id: 'a', behaviour: w('a', b.log) })).resolves.toBeDefined();
    expect(b.system.state).toBe('running');
    await b.system.shutdown();
  });

  it('a start function that returns "an erroneous value": {error,Error}, nothing kept', async () => {
    const b = await empty();
    const err = await rejection(startChild(b.sup, { id: 'a', behaviour: () => 42 as never }));
    expect(err.code).toBe('ERR_START_CHILD');
    expect(err.cause).toBeInstanceOf(InvalidBehaviourError);
    expect(await whichChildren(b.sup)).toEqual([]);
    await b.system.shutdown();
  });

  it('"ChildSpec must be a valid child specification": a bad one is refused (ERR_SUPERVISOR_SPEC) and harms nothing', async () => {
    const b = await boot((log) => ({ children: [{ id: 'a', behaviour: w('a', log) }] }));
    for (const bad of [
      { id: 'x', behaviour: w('x', b.log), restart: 'sometimes' },
      { id: 'x', behaviour: w('x', b.log), shutdown: -1 },
      { id: 'x', behaviour: 'not a behaviour' },
      { behaviour: w('x', b.log) },
    ]) {
      const err = await rejection(startChild(b.sup, bad));
      expect(err.code).toBe('ERR_SUPERVISOR_SPEC');
    }
    expect(await ids(b.sup)).toEqual(['a']);
    expect(b.at('a')).toBeDefined();
    await b.system.shutdown();
  });

  it('significant children: "Attempts to start significant children dynamically will be rejected" with auto_shutdown never', async () => {
    const b = await empty();
    const err = await rejection(
      startChild(b.sup, {
        id: 's',
        behaviour: w('s', b.log),
        restart: 'transient',
        significant: true,
      }),
    );
    expect(err.code).toBe('ERR_SUPERVISOR_SPEC');
    expect(b.log).toEqual([]);
    await b.system.shutdown();
    const auto = await boot(() => ({ autoShutdown: 'any-significant', children: [] }));
    await expect(
      startChild(auto.sup, {
        id: 's',
        behaviour: w('s', auto.log),
        restart: 'transient',
        significant: true,
      }),
    ).resolves.toBeDefined();
    await auto.system.shutdown();
  });
});

// ---- terminate_child ------------------------------------------------------------------------------

describe('OTP: terminate_child', () => {
  const abc = (strategy: Strategy = 'one-for-one') =>
    boot((log) => ({
      strategy,
      intensity: 0, // a restart would make the supervisor give up: terminateChild must not restart
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'b', behaviour: w('b', log) },
        { id: 't', behaviour: w('t', log), restart: 'temporary' },
      ],
    }));

  it('"The process, if any, is terminated and, unless it is a temporary child, the child specification is kept"; it is not restarted', async () => {
    const b = await abc();
    b.log.length = 0;
    const end = endOf(b.system, b.at('a')!);
    await terminateChild(b.sup, 'a');
    expect(b.log).toEqual(['stop:a']);
    expect((await end).reason).toBe('shutdown');
    expect(b.at('a')).toBeUndefined();
    await settle(b.system);
    expect(b.system.state).toBe('running');
    expect((await whichChildren(b.sup))[0]).toMatchObject({ id: 'a', ref: undefined });
    await b.system.shutdown();
  });

  it('"The child process can also be restarted explicitly by calling restart_child/2"', async () => {
    const b = await abc();
    await terminateChild(b.sup, 'a');
    const ref = await restartChild(b.sup, 'a');
    expect(ref).toBeDefined();
    expect(b.at('a')).toBe(ref);
    expect(b.log.at(-1)).toBe('start:a');
    await b.system.shutdown();
  });

  it('"If the child is temporary, the child specification is deleted as soon as the process terminates": restart_child and delete_child cannot be used', async () => {
    const b = await abc();
    await terminateChild(b.sup, 't');
    expect(await ids(b.sup)).toEqual(['a', 'b']);
    expect((await rejection(restartChild(b.sup, 't'))).code).toBe('ERR_CHILD_NOT_FOUND');
    expect((await rejection(deleteChild(b.sup, 't'))).code).toBe('ERR_CHILD_NOT_FOUND');
    expect((await rejection(terminateChild(b.sup, 't'))).code).toBe('ERR_CHILD_NOT_FOUND');
    await b.system.shutdown();
  });

  it('"If there is no child specification with the specified Id, the function returns {error,not_found}"', async () => {
    const b = await abc();
    expect((await rejection(terminateChild(b.sup, 'nope'))).code).toBe('ERR_CHILD_NOT_FOUND');
    await b.system.shutdown();
  });

  it('terminating a child that is not running (its spec kept) is ok', async () => {
    const b = await abc();
    await terminateChild(b.sup, 'a');
    await expect(terminateChild(b.sup, 'a')).resolves.toBeUndefined();
    await b.system.shutdown();
  });

  it('it is no restart: siblings of a one_for_all supervisor are left alone', async () => {
    const b = await abc('one-for-all');
    b.log.length = 0;
    await terminateChild(b.sup, 'b');
    await settle(b.system);
    expect(b.log).toEqual(['stop:b']);
    expect(b.at('a')).toBeDefined();
    expect(b.at('t')).toBeDefined();
    await b.system.shutdown();
  });

  it('a brutal child is terminated without its stop hook', async () => {
    const b = await boot((log) => ({
      children: [{ id: 'k', behaviour: w('k', log), shutdown: 'brutal' }],
    }));
    await terminateChild(b.sup, 'k');
    expect(b.log).toEqual(['start:k']);
    expect(b.at('k')).toBeUndefined();
    await b.system.shutdown();
  });
});

// ---- restart_child and delete_child -------------------------------------------------------------

describe('OTP: restart_child and delete_child', () => {
  const two = () =>
    boot((log) => ({
      intensity: 5,
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'b', behaviour: w('b', log) },
      ],
    }));

  it('restart_child: "If the child specification exists but the corresponding process is already running, the function returns {error,running}"', async () => {
    const b = await two();
    expect((await rejection(restartChild(b.sup, 'a'))).code).toBe('ERR_CHILD_RUNNING');
    await b.system.shutdown();
  });

  it('restart_child: "If the child specification identified by Id does not exist, the function returns {error,not_found}"', async () => {
    const b = await two();
    expect((await rejection(restartChild(b.sup, 'zz'))).code).toBe('ERR_CHILD_NOT_FOUND');
    await b.system.shutdown();
  });

  it('restart_child: `ignore` — "the pid remains set to undefined and the function returns {ok,undefined}"', async () => {
    const b = await two();
    let n = 0;
    await startChild(b.sup, { id: 'f', behaviour: () => (n++ === 0 ? w('f', b.log) : IGNORE) });
    await terminateChild(b.sup, 'f');
    expect(await restartChild(b.sup, 'f')).toBeUndefined();
    expect((await whichChildren(b.sup)).find((c) => c.id === 'f')).toMatchObject({
      ref: undefined,
      restarting: false,
    });
    await b.system.shutdown();
  });

  it('restart_child: a start function that fails — "the function returns {error,Error}"; the spec is kept', async () => {
    const b = await two();
    let n = 0;
    const boom = new Error('boom');
    await startChild(b.sup, {
      id: 'f',
      behaviour: () => {
        if (n++ > 0) throw boom;
        return w('f', b.log);
      },
    });
    await terminateChild(b.sup, 'f');
    const err = await rejection(restartChild(b.sup, 'f'));
    expect(err.code).toBe('ERR_START_CHILD');
    expect(err.cause).toBe(boom);
    expect(await ids(b.sup)).toEqual(['a', 'b', 'f']);
    expect(b.system.state).toBe('running');
    await b.system.shutdown();
  });

  it('delete_child: "The corresponding child process must not be running" ({error,running})', async () => {
    const b = await two();
    expect((await rejection(deleteChild(b.sup, 'a'))).code).toBe('ERR_CHILD_RUNNING');
    expect(b.at('a')).toBeDefined();
    await b.system.shutdown();
  });

  it("delete_child: a stopped child's spec is deleted; then restart_child finds nothing and the id is free", async () => {
    const b = await two();
    await terminateChild(b.sup, 'a');
    await deleteChild(b.sup, 'a');
    expect(await ids(b.sup)).toEqual(['b']);
    expect((await rejection(restartChild(b.sup, 'a'))).code).toBe('ERR_CHILD_NOT_FOUND');
    expect((await rejection(deleteChild(b.sup, 'a'))).code).toBe('ERR_CHILD_NOT_FOUND');
    await expect(startChild(b.sup, { id: 'a', behaviour: w('a', b.log) })).resolves.toBeDefined();
    await b.system.shutdown();
  });

  it('delete_child and restart_child on a child "about to be restarted": {error,restarting} (troupe: during a group restart)', async () => {
    const g = gate();
    const b = await boot((log) => ({
      strategy: 'one-for-all',
      intensity: 5,
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'b', behaviour: w('b', log, g.wait), shutdown: Infinity },
      ],
    }));
    b.at('a')!.tell('crash');
    // b is halting, its stop hook held open: the restart is under way (the system is not idle)
    for (let i = 0; i < 50; i++) await nextTurn();
    expect(b.log).toEqual(['start:a', 'start:b', 'stop:a', 'stop:b']);
    const a = (await whichChildren(b.sup)).find((c) => c.id === 'a')!;
    expect(a.restarting).toBe(true);
    expect((await rejection(restartChild(b.sup, 'a'))).code).toBe('ERR_CHILD_RESTARTING');
    expect((await rejection(deleteChild(b.sup, 'a'))).code).toBe('ERR_CHILD_RESTARTING');
    expect((await countChildren(b.sup)).active).toBeLessThan(2);
    g.open();
    await settle(b.system);
    expect((await whichChildren(b.sup)).map((c) => c.restarting)).toEqual([false, false]);
    expect(await countChildren(b.sup)).toMatchObject({ specs: 2, active: 2 });
    await b.system.shutdown();
  });

  it('"if a supervisor dies and is recreated, then all child processes that were dynamically added to the supervisor are lost" (and deleted ones come back)', async () => {
    const b = await boot((log) => ({
      intensity: 5,
      children: [
        {
          id: 'inner',
          behaviour: supervise({
            intensity: 0,
            children: [
              { id: 'a', behaviour: w('a', log) },
              { id: 'd', behaviour: w('d', log) },
            ],
          }),
        },
      ],
    }));
    const inner = b.at('inner') as unknown as SupervisorRef;
    await startChild(inner, { id: 'dyn', behaviour: w('dyn', b.log) });
    await terminateChild(inner, 'd');
    await deleteChild(inner, 'd');
    expect(await ids(inner)).toEqual(['a', 'dyn']);
    b.system.actorAt('/user/sup/inner/a')!.tell('crash'); // inner gives up; the outer restarts it
    await settle(b.system);
    expect(await ids(b.at('inner') as unknown as SupervisorRef)).toEqual(['a', 'd']);
    await b.system.shutdown();
  });
});

// ---- which_children and count_children ------------------------------------------------------------

describe('OTP: which_children and count_children', () => {
  const mixed = () =>
    boot((log) => ({
      intensity: 5,
      children: [
        { id: 'w1', behaviour: w('w1', log) },
        { id: 'sub', behaviour: supervise({}), restart: 'transient' },
        { id: 'w2', behaviour: w('w2', log), restart: 'temporary' },
      ],
    }));

  it('which_children: each child\'s id, its ref ("the pid ... or undefined if there is no such process") and its type', async () => {
    const b = await mixed();
    await terminateChild(b.sup, 'w1');
    expect(await whichChildren(b.sup)).toEqual([
      { id: 'w1', ref: undefined, type: 'worker', restart: 'permanent', restarting: false },
      {
        id: 'sub',
        ref: b.at('sub'),
        type: 'supervisor',
        restart: 'transient',
        restarting: false,
      },
      { id: 'w2', ref: b.at('w2'), type: 'worker', restart: 'temporary', restarting: false },
    ]);
    await b.system.shutdown();
  });

  it('count_children: specs "dead or alive", active "actively running", supervisors and workers "regardless if the child process is still alive"', async () => {
    const b = await mixed();
    expect(await countChildren(b.sup)).toEqual({ specs: 3, active: 3, supervisors: 1, workers: 2 });
    await terminateChild(b.sup, 'w1');
    await terminateChild(b.sup, 'sub');
    expect(await countChildren(b.sup)).toEqual({ specs: 3, active: 1, supervisors: 1, workers: 2 });
    await b.system.shutdown();
  });

  it('which_children marks "the atom restarting if the process is about to be restarted" (a failed start being retried)', async () => {
    // troupe: a child whose start failed is retried after the backoff delay, marked restarting
    let fail = true;
    const b = await boot((log) => ({
      intensity: 5,
      backoff: { minMs: 1_000, maxMs: 1_000, jitter: 0 },
      children: [
        {
          id: 'f',
          behaviour: () => {
            if (fail) throw new Error('not yet');
            return w('f', log);
          },
        },
      ],
    }));
    expect(await whichChildren(b.sup)).toEqual([
      { id: 'f', ref: undefined, type: 'worker', restart: 'permanent', restarting: true },
    ]);
    expect((await countChildren(b.sup)).active).toBe(0);
    fail = false;
    await b.clock.advance(1_000);
    expect((await whichChildren(b.sup))[0]).toMatchObject({ restarting: false, ref: b.at('f') });
    expect(b.at('f')).toBeDefined();
    await b.system.shutdown();
  });
});

// ---- get_childspec and check_childspecs -------------------------------------------------------------

describe('OTP: get_childspec and check_childspecs', () => {
  it('get_childspec: "The returned map contains all keys, both mandatory and optional" (defaults filled in)', async () => {
    const log: string[] = [];
    const worker = w('a', log);
    const inner = supervise({});
    const b = await boot(() => ({
      children: [
        { id: 'a', behaviour: worker },
        { id: 's', behaviour: inner, restart: 'transient' },
      ],
    }));
    expect(await getChildSpec(b.sup, 'a')).toEqual({
      id: 'a',
      behaviour: worker,
      type: 'worker',
      restart: 'permanent',
      significant: false,
      shutdown: 5_000,
    });
    expect(await getChildSpec(b.sup, 's')).toEqual({
      id: 's',
      behaviour: inner,
      type: 'supervisor',
      restart: 'transient',
      significant: false,
      shutdown: Infinity,
    });
    await b.system.shutdown();
  });

  it("troupe difference: a factory's spec given no shutdown has none (its default is the made behaviour's; OTP's map has every key)", async () => {
    const factory = () => w('f', []);
    const b = await boot(() => ({ children: [{ id: 'f', behaviour: factory }] }));
    expect(await getChildSpec(b.sup, 'f')).toEqual({
      id: 'f',
      behaviour: factory,
      type: 'worker',
      restart: 'permanent',
      significant: false,
    });
    await b.system.shutdown();
  });

  it('get_childspec: {error, not_found} for no such child', async () => {
    const b = await boot(() => ({ children: [] }));
    expect((await rejection(getChildSpec(b.sup, 'x'))).code).toBe('ERR_CHILD_NOT_FOUND');
    await b.system.shutdown();
  });

  it('check_childspecs: "returns ok if all of them are syntactically correct, otherwise {error,Error}"', () => {
    const ok: ChildSpec[] = [
      { id: 'a', behaviour: w('a', []) },
      { id: 'b', behaviour: () => w('b', []), restart: 'transient', shutdown: 'brutal' },
    ];
    expect(checkChildSpecs(ok)).toBeUndefined();
    for (const bad of [
      [{ id: 'a', behaviour: w('a', []), restart: 'always' }],
      [{ id: 'a', behaviour: w('a', []), shutdown: 'soon' }],
      [{ id: 'a', behaviour: w('a', []), type: 'daemon' }],
      [{ id: 'a' }],
      [
        { id: 'a', behaviour: w('a', []) },
        { id: 'a', behaviour: w('a', []) },
      ],
    ])
      expect(() => checkChildSpecs(bad as ChildSpec[])).toThrow(SupervisorSpecError);
  });

  it('check_childspecs: a significant child "with the restart type permanent is invalid"', () => {
    expect(() =>
      checkChildSpecs([{ id: 'a', behaviour: w('a', []), significant: true }], {
        autoShutdown: 'any-significant',
      }),
    ).toThrow(expect.objectContaining({ rule: 'significant-permanent' }));
  });

  it('check_childspecs/2: "If the AutoShutdown argument is not undefined, also checks if the child specifications are allowed for the given auto_shutdown option"', () => {
    const significant: ChildSpec[] = [
      { id: 'a', behaviour: w('a', []), restart: 'transient', significant: true },
    ];
    expect(() => checkChildSpecs(significant, { autoShutdown: 'never' })).toThrow(
      expect.objectContaining({ rule: 'significant-without-auto' }),
    );
    expect(checkChildSpecs(significant, { autoShutdown: 'all-significant' })).toBeUndefined();
    // check_childspecs/1 is check_childspecs(ChildSpecs, undefined): no auto_shutdown to check
    expect(checkChildSpecs(significant)).toBeUndefined();
  });
});

// ---- simple_one_for_one --------------------------------------------------------------------------

describe('OTP: simple_one_for_one', () => {
  const pool = (restart: RestartType = 'transient', extra: Partial<SupervisorOptions> = {}) =>
    boot((log) => ({
      strategy: 'simple-one-for-one',
      intensity: 5,
      children: [{ id: 'job', restart, behaviour: (name: string) => w(name, log) }],
      ...extra,
    }));

  it('"When started, the supervisor does not start any child processes"', async () => {
    const b = await pool();
    expect(b.log).toEqual([]);
    expect(await whichChildren(b.sup)).toEqual([]);
    expect(await countChildren(b.sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    await b.system.shutdown();
  });

  it('start_child takes the argument for the template ("instances of the same process type")', async () => {
    const b = await pool();
    const x = await startChild(b.sup, 'x');
    const y = await startChild(b.sup, 'y');
    expect(b.log).toEqual(['start:x', 'start:y']);
    expect(x).toBeDefined();
    expect(y).toBeDefined();
    expect(x).not.toBe(y);
    await b.system.shutdown();
  });

  it('count_children: specs 1, workers and active the number of children', async () => {
    const b = await pool();
    for (const n of ['x', 'y', 'z']) await startChild(b.sup, n);
    expect(await countChildren(b.sup)).toEqual({ specs: 1, active: 3, supervisors: 0, workers: 3 });
    await b.system.shutdown();
    const subs = await boot(() => ({
      strategy: 'simple-one-for-one',
      children: [{ id: 'sub', type: 'supervisor', behaviour: () => supervise({}) }],
    }));
    for (const n of [1, 2]) await startChild(subs.sup, n);
    expect(await countChildren(subs.sup)).toEqual({
      specs: 1,
      active: 2,
      supervisors: 2,
      workers: 0,
    });
    await subs.system.shutdown();
  });

  it('it is "a simplified one_for_one supervisor": a failed child alone is restarted', async () => {
    const b = await pool();
    const x = (await startChild<Msg>(b.sup, 'x'))!;
    await startChild(b.sup, 'y');
    b.log.length = 0;
    x.tell('crash');
    await settle(b.system);
    expect(b.log).toEqual(['stop:x', 'start:x']);
    await b.system.shutdown();
  });

  it("terminate_child with the child's pid: it is stopped and gone (no spec is kept)", async () => {
    const b = await pool('permanent');
    const x = (await startChild<Msg>(b.sup, 'x'))!;
    await terminateChild(b.sup, x);
    expect(b.log).toEqual(['start:x', 'stop:x']);
    expect(await whichChildren(b.sup)).toEqual([]);
    expect((await rejection(terminateChild(b.sup, x))).code).toBe('ERR_CHILD_NOT_FOUND');
    await b.system.shutdown();
  });

  it('terminate_child: "If the specified process is alive, but is not a child of the specified supervisor, the function returns {error,not_found}"', async () => {
    const b = await pool('permanent');
    await startChild(b.sup, 'x');
    const stranger = b.system.spawn(w('stranger', b.log), { name: 'stranger' });
    expect((await rejection(terminateChild(b.sup, stranger))).code).toBe('ERR_CHILD_NOT_FOUND');
    expect(b.system.actorAt('/user/stranger')).toBe(stranger);
    expect(await ids(b.sup)).toEqual(['job-1']);
    await b.system.shutdown();
  });

  it('`ignore`: "For simple_one_for_one supervisors, no child is added to the supervisor. The function returns {ok,undefined}"', async () => {
    const b = await boot(() => ({
      strategy: 'simple-one-for-one',
      children: [{ id: 'job', behaviour: () => IGNORE }],
    }));
    expect(await startChild(b.sup, 'x')).toBeUndefined();
    expect(await whichChildren(b.sup)).toEqual([]);
    expect((await countChildren(b.sup)).active).toBe(0);
    await b.system.shutdown();
  });

  it('a start function that fails answers {error, Error}; nothing is added', async () => {
    const boom = new Error('boom');
    const b = await boot(() => ({
      strategy: 'simple-one-for-one',
      children: [
        {
          id: 'job',
          behaviour: () => {
            throw boom;
          },
        },
      ],
    }));
    const err = await rejection(startChild(b.sup, 'x'));
    expect(err.code).toBe('ERR_START_CHILD');
    expect(err.cause).toBe(boom);
    expect(await whichChildren(b.sup)).toEqual([]);
    await b.system.shutdown();
  });

  it('"delete_child/2 and restart_child/2 are invalid for simple_one_for_one supervisors and return {error,simple_one_for_one}"; nothing changes', async () => {
    const b = await pool('permanent');
    await startChild(b.sup, 'x');
    const [c] = await whichChildren(b.sup);
    for (const id of [c!.id, 'job', 'nope']) {
      const restart = await rejection(restartChild(b.sup, id));
      expect(restart).toBeInstanceOf(SupervisorRequestError);
      expect(restart.code).toBe('ERR_SIMPLE_ONE_FOR_ONE');
      expect((await rejection(deleteChild(b.sup, id))).code).toBe('ERR_SIMPLE_ONE_FOR_ONE');
    }
    expect(await whichChildren(b.sup)).toEqual([c]);
    expect(await countChildren(b.sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    await b.system.shutdown();
  });

  it('transient children that end normally are not restarted and are forgotten', async () => {
    const b = await pool('transient');
    const x = (await startChild<Msg>(b.sup, 'x'))!;
    x.tell('exit');
    await settle(b.system);
    expect(await whichChildren(b.sup)).toEqual([]);
    await b.system.shutdown();
  });

  it("troupe difference: terminate_child also takes a child's name (OTP: only its pid)", async () => {
    const b = await pool('permanent');
    await startChild(b.sup, 'x');
    await startChild(b.sup, 'y');
    const [first] = await whichChildren(b.sup);
    await terminateChild(b.sup, first!.id);
    expect(b.log).toEqual(['start:x', 'start:y', 'stop:x']);
    expect(await ids(b.sup)).toEqual(['job-2']);
    await b.system.shutdown();
  });

  it('troupe difference: children are named <template id>-<n> (OTP: id undefined) and stop last started first (OTP: in no defined order)', async () => {
    const b = await pool();
    for (const n of ['x', 'y', 'z']) await startChild(b.sup, n);
    expect(await ids(b.sup)).toEqual(['job-1', 'job-2', 'job-3']);
    b.log.length = 0;
    await b.system.stop(b.sup);
    expect(b.log).toEqual(['stop:z', 'stop:y', 'stop:x']);
    await b.system.shutdown();
  });
});

// ---- Significant children and automatic shutdown ----------------------------------------------------

describe('OTP: significant children and auto_shutdown', () => {
  const unit = (autoShutdown: 'any-significant' | 'all-significant', sigRestart: RestartType) =>
    boot((log) => ({
      intensity: 5,
      children: [
        {
          id: 'unit',
          restart: 'transient',
          behaviour: supervise({
            autoShutdown,
            intensity: 5,
            children: [
              { id: 'a', behaviour: w('a', log) },
              { id: 's1', behaviour: w('s1', log), restart: sigRestart, significant: true },
              { id: 's2', behaviour: w('s2', log), restart: sigRestart, significant: true },
              { id: 'z', behaviour: w('z', log) },
            ],
          }),
        },
      ],
    }));
  const child = (b: Booted, id: string) => b.system.actorAt(`/user/sup/unit/${id}`)!;

  it('any_significant: when a transient significant child terminates normally the supervisor shuts itself down, remaining children in reverse start order', async () => {
    const b = await unit('any-significant', 'transient');
    const end = endOf(b.system, b.at('unit')!);
    b.log.length = 0;
    child(b, 's1').tell('exit');
    await settle(b.system);
    expect(b.log).toEqual(['stop:s1', 'stop:z', 'stop:s2', 'stop:a']);
    // "with exit reason shutdown": the transient unit supervisor is not restarted by its parent
    expect((await end).reason).toBe('shutdown');
    expect(b.at('unit')).toBeUndefined();
    expect(b.events).toContainEqual(
      expect.objectContaining({ type: 'auto-shutdown', supervisor: '/user/sup/unit' }),
    );
    await b.system.shutdown();
  });

  it('any_significant: a transient significant child that fails is restarted, no shutdown', async () => {
    const b = await unit('any-significant', 'transient');
    b.log.length = 0;
    child(b, 's1').tell('crash');
    await settle(b.system);
    expect(b.log).toEqual(['stop:s1', 'start:s1']);
    expect(b.at('unit')).toBeDefined();
    await b.system.shutdown();
  });

  it('any_significant: "a temporary significant child terminates normally or abnormally" — either shuts it down', async () => {
    for (const msg of ['exit', 'crash'] as const) {
      const b = await unit('any-significant', 'temporary');
      child(b, 's2').tell(msg);
      await settle(b.system);
      expect(b.at('unit')).toBeUndefined();
      await b.system.shutdown();
    }
  });

  it('all_significant: "when the last active significant child terminates"', async () => {
    const b = await unit('all-significant', 'transient');
    child(b, 's1').tell('exit');
    await settle(b.system);
    expect(b.at('unit')).toBeDefined();
    b.log.length = 0;
    child(b, 's2').tell({ shutdownWith: 'finished' });
    await settle(b.system);
    expect(b.log).toEqual(['stop:s2', 'stop:z', 'stop:a']);
    expect(b.at('unit')).toBeUndefined();
    await b.system.shutdown();
  });

  it('"the manual termination of a child by means of supervisor:terminate_child/2 will not trigger an automatic shutdown"', async () => {
    const b = await unit('any-significant', 'transient');
    const unitRef = b.at('unit') as unknown as SupervisorRef;
    await terminateChild(unitRef, 's1');
    await settle(b.system);
    expect(b.at('unit')).toBeDefined();
    expect(child(b, 'z')).toBeDefined();
    await b.system.shutdown();
  });

  it('"the termination of a child as a consequence of a sibling\'s death in the one_for_all or rest_for_one strategies" does not trigger it', async () => {
    for (const strategy of ['one-for-all', 'rest-for-one'] as const) {
      const b = await boot((log) => ({
        strategy,
        autoShutdown: 'any-significant',
        intensity: 5,
        children: [
          { id: 'a', behaviour: w('a', log) },
          { id: 't', behaviour: w('t', log), restart: 'temporary', significant: true },
        ],
      }));
      await send(b, 'a', 'crash');
      expect(b.system.state).toBe('running');
      expect(b.at('a')).toBeDefined();
      expect(b.at('t')).toBeUndefined(); // temporary: taken down, never restarted
      await b.system.shutdown();
    }
  });

  it('"It is invalid to set this option to true for a child with restart type permanent or in a supervisor with auto_shutdown set to never"', () => {
    const sig = { id: 's', behaviour: w('s', []), significant: true } as const;
    expect(() => supervise({ autoShutdown: 'any-significant', children: [sig] })).toThrow(
      expect.objectContaining({ code: 'ERR_SUPERVISOR_SPEC', rule: 'significant-permanent' }),
    );
    expect(() => supervise({ children: [{ ...sig, restart: 'transient' }] })).toThrow(
      expect.objectContaining({ code: 'ERR_SUPERVISOR_SPEC', rule: 'significant-without-auto' }),
    );
  });
});

// ---- Starting: ignore and failed starts at the supervisor's start -------------------------------------

describe("OTP: child start functions at the supervisor's start", () => {
  it('`ignore` at start: the supervisor starts ("if all child process start functions return {ok,Child}, {ok,Child,Info}, or ignore"); the spec is kept without a pid', async () => {
    const b = await boot((log) => ({
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'i', behaviour: () => IGNORE },
        { id: 't', behaviour: () => IGNORE, restart: 'temporary' },
        { id: 'c', behaviour: w('c', log) },
      ],
    }));
    expect(b.log).toEqual(['start:a', 'start:c']);
    expect(await whichChildren(b.sup)).toEqual([
      { id: 'a', ref: b.at('a'), type: 'worker', restart: 'permanent', restarting: false },
      { id: 'i', ref: undefined, type: 'worker', restart: 'permanent', restarting: false },
      { id: 'c', ref: b.at('c'), type: 'worker', restart: 'permanent', restarting: false },
    ]);
    await b.system.shutdown();
  });

  it("troupe difference: a child whose start fails at the supervisor's start is retried within the intensity (OTP fails the supervisor's start)", async () => {
    let n = 0;
    const b = await boot((log) => ({
      intensity: 2,
      children: [
        {
          id: 'f',
          behaviour: () => {
            if (n++ === 0) throw new Error('first start fails');
            return w('f', log);
          },
        },
      ],
    }));
    expect(b.log).toEqual(['start:f']);
    expect(b.events).toContainEqual(expect.objectContaining({ type: 'child-failed', id: 'f' }));
    expect(b.system.state).toBe('running');
    await b.system.shutdown();
  });

  it("troupe difference: the start does not wait for a child's init; an init that throws is a failure of that child, restarted (OTP fails the supervisor's start)", async () => {
    let inits = 0;
    const flaky = fromReceive<number, Msg, unknown>(
      () => {
        if (inits++ === 0) throw new Error('init failed');
        return 0;
      },
      (n) => n,
    );
    const b = await boot((log) => ({
      children: [
        { id: 'a', behaviour: w('a', log) },
        { id: 'flaky', behaviour: flaky },
      ],
    }));
    expect(inits).toBe(2);
    expect(b.at('flaky')).toBeDefined();
    expect(b.system.state).toBe('running');
    await b.system.shutdown();
  });

  it('troupe difference: a child whose start keeps failing makes the supervisor give up once past its intensity', async () => {
    const b = await boot(() => ({
      intensity: 2,
      children: [
        {
          id: 'f',
          behaviour: () => {
            throw new Error('never starts');
          },
        },
      ],
    }));
    const report = await b.system.whenTerminated;
    expect(report.error).toBeInstanceOf(MaxRestartIntensityError);
  });
});

// ---- Strategies × restart types × exit reasons: a model of OTP's rules (property) ----------------------

type Ev = { readonly pick: number; readonly how: 'crash' | 'exit' | 'shutdown' };

describe('OTP: restarts over a sequence of ends (property, against a model of the manual)', () => {
  it('agrees on every stop hook and init, and on the final reverse-order shutdown', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Strategy>('one-for-one', 'one-for-all', 'rest-for-one'),
        fc.array(fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(
          fc.record({
            pick: fc.nat(100),
            how: fc.constantFrom<Ev['how']>('crash', 'exit', 'shutdown'),
          }),
          { maxLength: 12 },
        ),
        async (strategy, restarts, evs) => {
          const names = restarts.map((_, i) => `c${i}`);
          const b = await boot((log) => ({
            strategy,
            intensity: 1_000,
            children: names.map((id, i) => ({ id, behaviour: w(id, log), restart: restarts[i] })),
          }));
          // the model: specs kept in list order, with whether each runs
          let model = names.map((id, i) => ({ id, restart: restarts[i]!, running: true }));
          for (const ev of evs) {
            const running = model.filter((c) => c.running);
            if (running.length === 0) break;
            const ended = running[ev.pick % running.length]!;
            const k = model.indexOf(ended);
            b.log.length = 0;
            await send(b, ended.id, ev.how);
            const restart =
              ended.restart === 'permanent' ||
              (ended.restart === 'transient' && ev.how === 'crash');
            const expected = [`stop:${ended.id}`];
            if (!restart) {
              ended.running = false;
            } else {
              // one_for_one: that child; one_for_all: all; rest_for_one: it and those after it.
              // The others go down in reverse order, then the group starts in list order, less
              // the temporary ones, which are never restarted.
              const group = model.filter(
                (c, i) =>
                  c === ended ||
                  (c.running &&
                    (strategy === 'one-for-all' || (strategy === 'rest-for-one' && i > k))),
              );
              for (const c of [...group].reverse()) if (c !== ended) expected.push(`stop:${c.id}`);
              for (const c of group) {
                c.running = c.restart !== 'temporary';
                if (c.running) expected.push(`start:${c.id}`);
              }
            }
            model = model.filter((c) => c.running || c.restart !== 'temporary');
            expect(b.log).toEqual(expected);
            expect(await ids(b.sup)).toEqual(model.map((c) => c.id));
          }
          b.log.length = 0;
          await b.system.stop(b.sup);
          expect(b.log).toEqual(
            model
              .filter((c) => c.running)
              .reverse()
              .map((c) => `stop:${c.id}`),
          );
          await b.system.shutdown();
        },
      ),
      { seed: seed('restart model'), numRuns: 150 },
    );
  });
});
