/**
 * A fuzzer of what reaches a sandbox, in both modes (fast-check): random sources, limits,
 * capabilities, inputs and messages, sent to sandboxed actors and to runUntrusted.
 *
 * Properties, for every case:
 *   - bad options are refused at once with InvalidOptionError (sandboxed) or a rejection
 *     with it (runUntrusted), naming an option;
 *   - every ask settles before its timeout: an answer, or a typed failure (the actor failed,
 *     or was stopped): never AskTimeoutError;
 *   - runUntrusted settles with a value or a typed error (a TroupeError with a code);
 *   - the host survives: no host is lost (a violation disposes an isolate, never the host),
 *     and a probe sandbox answers after the case.
 * The watchdog's grace is long here (SLOW_GRACE_MS): isolated-vm stops every call this
 * fuzzer makes (no builtin on a huge value), so only a real hang may kill a host.
 *
 * Bounded for `npm test`: FUZZ_RUNS cases per mode and property (default 25: a few seconds);
 * the seed is printed, and FUZZ_SEED=<n> replays a run (FUZZ_ASK_MS shortens the ask timeout,
 * so that shrinking a case whose ask never settles is quick). `npm run fuzz` runs every
 * fuzzer longer (FUZZ_RUNS 2000 unless set).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AskTimeoutError,
  configureSandboxes,
  createSystem,
  fromReceive,
  InvalidOptionError,
  runUntrusted,
  sandboxed,
  sandboxStats,
  TroupeError,
  type ActorRef,
  type ActorSystem,
  type SandboxMode,
} from '../../index.ts';

const SEED =
  process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== ''
    ? Number(process.env.FUZZ_SEED) >>> 0
    : (Math.random() * 2 ** 32) >>> 0;
const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 25) | 0);
const SLOW_GRACE_MS = 10_000;
/** Each property's time: a few ms per case, and room for shrinking. */
const TEST_MS = 120_000 + RUNS * 100;
/** Far beyond any answer: an ask that reaches it did not settle. */
const ASK_TIMEOUT_MS = Number(process.env.FUZZ_ASK_MS ?? 20_000);

/** The code of a fuzzed sandbox: each message names what it does with its payload. */
const TEMPLATE = `
  function init(input) { return { n: 0, input: input }; }
  function receive(s, m, ctx) {
    s.n++;
    var v = m === null || typeof m !== 'object' ? m : m.v;
    switch (m === null || typeof m !== 'object' ? '' : m.op) {
      case 'echo': ctx.reply(v); break;
      case 'input': ctx.reply(s.input); break;
      case 'count': ctx.reply(s.n); break;
      case 'throw': throw v;
      case 'loop': for (;;) {}
      case 'big': ctx.reply('x'.repeat(typeof v === 'number' ? Math.min(Math.abs(v), 4e6) : 10)); break;
      case 'deep': { var d = 0; for (var i = 0; i < 200; i++) d = [d]; ctx.reply(d); break; }
      case 'cyclic': { var c = {}; c.c = c; ctx.reply(c); break; }
      case 'forge': ctx.tell({ $ref: String(v) }, 1); ctx.reply(1); break;
      case 'emit': ctx.emit(v); ctx.reply(1); break;
      case 'log': ctx.log(v); ctx.reply(1); break;
      case 'date': ctx.reply({ $date: v }); break;
      case 'late': Promise.resolve().then(function () { ctx.reply('late'); }); ctx.reply('now'); break;
      default: ctx.reply(['unknown', typeof m]);
    }
    return s;
  }
  function view(s) { return { n: s.n }; }`;

const OPS = [
  'echo',
  'input',
  'count',
  'throw',
  'loop',
  'big',
  'deep',
  'cyclic',
  'forge',
  'emit',
  'log',
  'date',
  'late',
  'other',
];

/** Values of every kind, data or not (functions, symbols, cycles, BigInt, NaN, -0, Dates…). */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
    withBoxedValues: true,
  }),
  fc.constantFrom<unknown>(
    undefined,
    NaN,
    -0,
    Infinity,
    () => 1,
    Symbol('s'),
    new Date(NaN),
    { $ref: 'troupe://local/user/victim' },
    { $date: 'garbage' },
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
  ),
  fc.string({ maxLength: 3 }).map((s) => s.repeat(300_000)), // around the copy limit
  fc.constant(null).map(() => {
    const c: Record<string, unknown> = {};
    c.c = c;
    return c;
  }),
);

const message = fc.oneof(fc.record({ op: fc.constantFrom(...OPS), v: anyValue }), anyValue);

/** Limits, mostly valid and small; sometimes not limits at all. */
const limits: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        memoryMb: fc.integer({ min: 8, max: 48 }),
        cpuMs: fc.integer({ min: 5, max: 200 }),
        wallMs: fc.integer({ min: 5, max: 400 }),
        copyBytes: fc.integer({ min: 16, max: 200_000 }),
      },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constant(undefined),
      anyValue,
      fc.dictionary(fc.constantFrom('memoryMb', 'cpuMs', 'wallMs', 'copyBytes', 'gpu'), anyValue),
    ),
  },
);

const source: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(TEMPLATE) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.string(),
      fc.constantFrom<unknown>(
        '',
        'function receive( {',
        'const x = 1;',
        'throw new Error("at load")',
        'function init() { throw Symbol("init") } function receive(s) { return s }',
        'function init() { for (;;) {} } function receive(s) { return s }',
        'async function receive(s) { return s }',
        'function receive(s) { return import.meta }',
        42,
        null,
      ),
      fc.string().map((tail) => TEMPLATE + tail),
    ),
  },
);

/** Mostly what a caller means, sometimes anything: `good` weighs 4 to 1. */
const mostly = (good: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: anyValue });

const capabilities = (sink: ActorRef<unknown>): fc.Arbitrary<unknown> =>
  mostly(
    fc.option(
      fc.record(
        {
          tell: fc.boolean(),
          log: fc.boolean(),
          clock: fc.boolean(),
          emit: fc.constant(sink),
          refs: fc.constant({ sink }),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
  );

/** A settled outcome is a value or a typed error; an ask never times out. */
function expectTyped(e: unknown, what: string): void {
  expect(e, `${what}: ${String(e)}`).toBeInstanceOf(TroupeError);
  expect(typeof (e as TroupeError).code, what).toBe('string');
  expect(e, what).not.toBeInstanceOf(AskTimeoutError);
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe.each(['process', 'thread'] as SandboxMode[])('the sandbox fuzzer, mode %s', (mode) => {
  let system: ActorSystem;
  let sink: ActorRef<unknown>;
  let probe: ActorRef<unknown>;
  let cases = 0;
  let spawned = 0;
  let restarts = 0;

  beforeAll(async () => {
    configureSandboxes({ mode, watchdogGraceMs: SLOW_GRACE_MS });
    system = createSystem({ logger: quiet });
    sink = system.spawn(
      fromReceive<null, unknown>(null, (s) => s),
      { name: 'sink' },
    );
    probe = system.spawn(sandboxed({ source: TEMPLATE, input: 'probe' }), { name: 'probe' });
    await expect(probe.ask({ op: 'input' }, { timeout: ASK_TIMEOUT_MS })).resolves.toBe('probe');
    restarts = (await sandboxStats()).hostRestarts;
    console.log(`sandbox fuzz (${mode}): seed ${SEED}, ${RUNS} runs (replay: FUZZ_SEED=${SEED})`);
  });
  afterAll(async () => {
    await system.shutdown();
    configureSandboxes({ mode: 'process' });
  });

  it(
    `sandboxed actors: bad options refused, every ask settles, the host survives (seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            source,
            input: mostly(fc.jsonValue()),
            limits,
            capabilities: capabilities(sink),
            domain: mostly(fc.constantFrom(undefined, 'a', 'b')),
            messages: fc.array(fc.record({ ask: fc.boolean(), msg: message }), { maxLength: 6 }),
          }),
          async (c) => {
            const options = Object.fromEntries(
              Object.entries(c).filter(([k, v]) => k !== 'messages' && v !== undefined),
            );
            let behaviour;
            try {
              behaviour = sandboxed(options as never);
            } catch (e) {
              expect(e, String(e)).toBeInstanceOf(InvalidOptionError);
              expect((e as InvalidOptionError).field).toMatch(/^options/);
              return;
            }
            spawned++;
            // at the top level: a failure stops it (nothing restarts it again and again)
            const sb = system.spawn(behaviour, { name: `case-${++cases}` });
            const asks: Promise<unknown>[] = [];
            for (const { ask, msg } of c.messages)
              if (ask) asks.push(sb.ask(msg, { timeout: ASK_TIMEOUT_MS }));
              else sb.tell(msg);
            for (const r of await Promise.allSettled(asks))
              if (r.status === 'rejected') expectTyped(r.reason, 'an ask');
            if (system.actorAt(sb.path) !== undefined) await system.stop(sb);
            expect((await sandboxStats()).hostRestarts, 'no host lost').toBe(restarts);
            await expect(probe.ask({ op: 'count' }, { timeout: ASK_TIMEOUT_MS })).resolves.toEqual(
              expect.any(Number),
            );
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
      console.log(`sandbox fuzz (${mode}): ${spawned} of ${RUNS} cases spawned a sandbox`);
    },
    TEST_MS,
  );

  it(
    `runUntrusted: a value or a typed error, the host survives (seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.constantFrom(
              'return input',
              'return [input, typeof input]',
              'throw input',
              'for (;;) {}',
              'await new Promise(() => {}); return 1',
              'var c = {}; c.c = c; return c',
              "return 'x'.repeat(3e5)",
              'return Symbol()',
              'return () => 1',
              "return { $ref: 'troupe://local/user/sink' }",
              'log(input); return 1',
              '',
            ),
          ),
          anyValue,
          limits,
          fc.oneof(
            fc.constant(undefined),
            fc.record({ log: fc.constant(() => undefined) }),
            anyValue,
          ),
          async (src, input, lim, options) => {
            try {
              await runUntrusted(src, input, lim as never, options as never);
            } catch (e) {
              expectTyped(e, 'runUntrusted');
            }
            expect((await sandboxStats()).hostRestarts, 'no host lost').toBe(restarts);
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
      await expect(runUntrusted('return 6 * 7')).resolves.toBe(42);
    },
    TEST_MS,
  );
});
