/**
 * A fuzz test of the node link, from a peer that holds the cluster secret: each run does the
 * handshake as a fresh node, sends 1–6 frames made by fast-check — batches of entries built
 * from well-formed and malformed parts (flags, numbered and literal addresses, reply
 * addresses, corr, trace, and bodies: system messages with every field right or wrong, topics
 * messages, troupe notices, ref-codec tags, arbitrary values), packed with or without records;
 * control frames in and out of place; copies of valid frames with bytes changed or cut;
 * random bytes and text frames — then a ping, and waits for the pong or the close.
 *
 * What must hold, run after run: the node answers (pong) or closes the link with a code of the
 * protocol's (1000, ws's 1002/1007/1009, 4000–4009), never 4010 (a throw of its own) and never
 * by going silent; nothing throws out of it (uncaught exceptions and rejections are recorded);
 * and its other peer, node b, still asks a probe actor of node a and gets the answer.
 *
 * Bounded for `npm test` (FUZZ_RUNS runs, default 100: about 2 s); the seed is printed, and
 * FUZZ_SEED=<n> replays a run's frames. `FUZZ_RUNS=2000` for a longer run; FUZZ_DEBUG=1 prints
 * what the node logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../../index.ts';
import { CLOSE, ENCODED, NODE_PROTOCOL_VERSION as V, nonce } from '../../protocol/node-link.ts';
import { TOPICS_PATH } from '../../runtime/topics/topics.ts';
import { encodeValue } from '../../runtime/core/refcodec.ts';
import { hostilePeer, raw, type HostilePeer } from './hostile-peer.ts';
import { until } from '../support/until.ts';

const SEED =
  process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== ''
    ? Number(process.env.FUZZ_SEED) >>> 0
    : (Math.random() * 2 ** 32) >>> 0;
const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 100) | 0);
const SECRET = 'a-secret-of-16-chars-or-more';
/** How long one run may wait for its pong or close. */
const ANSWER_MS = 5_000;

/** Close codes a fuzzing peer may see. */
const ALLOWED_CODES: ReadonlySet<number> = new Set([
  1000, 1002, 1007, 1009, 4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009,
]);

// ---- the frames --------------------------------------------------------------------------

const OWN = [
  'troupe://a/user/c',
  'troupe://a/user/inbox',
  `troupe://a${TOPICS_PATH}`,
  'troupe:entity/tally/x',
  'troupe:entity/tally/y',
  'troupe:entity/nokind/z',
  'troupe://a/temp/42',
  'troupe://a/user/nobody',
  'troupe://a/system',
];
const FOREIGN = ['troupe://b/user/x', 'troupe://evil/user/w', 'troupe://zz/temp/1'];
const GARBAGE = ['', 'troupe://', 'troupe://a', 'not an address', 'troupe://a/../x', '\u0000'];

const anAddress = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...OWN) },
  { weight: 2, arbitrary: fc.constantFrom(...FOREIGN) },
  { weight: 1, arbitrary: fc.constantFrom(...GARBAGE) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

/** How an address goes in an entry: as it is, as `[address]`, as a number, or wrong. */
const anAddressItem = fc.oneof(
  { weight: 6, arbitrary: anAddress },
  { weight: 2, arbitrary: anAddress.map((a) => [a]) },
  { weight: 2, arbitrary: fc.integer({ min: -1, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, {}, [1, 2], 1.5) },
);

const aRef = fc.oneof(
  { weight: 4, arbitrary: anAddress.map(($ref) => ({ $ref })) },
  {
    weight: 2,
    arbitrary: fc.tuple(anAddress, fc.integer()).map(([$ref, $uid]) => ({ $ref, $uid })),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom('troupe://evil/user/w', 42, null, {}, [], { $ref: 5 }, true),
  },
);

const aSystemBody = fc
  .record(
    {
      type: fc.oneof(
        {
          weight: 8,
          arbitrary: fc.constantFrom('watch', 'unwatch', 'subscribe', 'unsubscribe', 'stop'),
        },
        {
          weight: 2,
          arbitrary: fc.constantFrom('kill', 'failed', 'halt', 'start', 'directive', ''),
        },
        { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) },
      ),
      watcher: aRef,
      subscriber: aRef,
      events: fc.constantFrom(true, false, 'yes', 1),
      reason: fc.constantFrom('normal', 'failed', 'shutdown', 'bored', 3, null),
      error: fc.anything({ maxDepth: 2 }),
      extra: fc.anything({ maxDepth: 1 }),
    },
    { requiredKeys: ['type'] },
  )
  .map((b) => {
    const o: Record<string, unknown> = { ...b };
    if ('extra' in o) {
      o.x = o.extra;
      delete o.extra;
    }
    return o;
  });

const aTag = fc.oneof(
  aRef,
  fc.string({ maxLength: 30 }).map(($date) => ({ $date })),
  fc.constantFrom({ $date: '2026-01-01T00:00:00.000Z' }, { $error: { name: 'E', message: 'm' } }),
  fc.anything({ maxDepth: 1 }).map(($esc) => ({ $esc })),
  fc.anything({ maxDepth: 1 }).map(($error) => ({ $error })),
);

const aUserBody = fc.oneof(
  { weight: 4, arbitrary: fc.anything({ maxDepth: 3 }) },
  {
    weight: 2,
    arbitrary: fc.record({ type: fc.constantFrom('inc', 'get', 'x'), n: fc.anything() }),
  },
  { weight: 2, arbitrary: aTag },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('troupe.terminated'),
      ref: aRef,
      reason: fc.constantFrom('normal', 'node-down', 7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({
        topic: fc.oneof(fc.string({ maxLength: 300 }), fc.anything()),
        msg: fc.anything(),
      }),
      fc.record({ interest: fc.oneof(fc.array(fc.string({ maxLength: 10 })), fc.anything()) }),
    ),
  },
);

const aTrace = fc.oneof(
  fc.constant({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 60 }), { maxKeys: 3 }),
  fc.anything({ maxDepth: 1 }),
);

/** One entry's items: mostly flags that say what follows, sometimes flags that lie. */
const anEntry = fc
  .record({
    kind: fc.constantFrom(0, 1, 2, 3),
    encoded: fc.boolean(),
    to: anAddressItem,
    from: fc.option(anAddressItem, { nil: undefined }),
    reply: fc.option(fc.tuple(anAddressItem, fc.oneof(fc.integer(), fc.double(), fc.string())), {
      nil: undefined,
    }),
    trace: fc.option(aTrace, { nil: undefined }),
    body: fc.oneof(aSystemBody, aUserBody),
    lie: fc.option(fc.integer({ min: 0, max: 255 }), { freq: 8, nil: undefined }),
    cut: fc.boolean(),
  })
  .map((e) => {
    let flags = e.kind | (e.encoded ? ENCODED : 0);
    const items: unknown[] = [e.to];
    if (e.from !== undefined) {
      flags |= 4;
      items.push(e.from);
    }
    if (e.reply !== undefined) {
      flags |= 8;
      items.push(...e.reply);
    }
    if (e.trace !== undefined) {
      flags |= 16;
      items.push(e.trace);
    }
    items.push(e.body);
    // an entry missing its body, now and then
    if (e.cut && e.lie !== undefined) items.pop();
    return [e.lie ?? flags, ...items];
  });

// well-formed entries: what an honest peer sends (the node must take them and answer the ping)
const PEER_ADDRESSES = ['troupe://evil/user/w', 'troupe://evil/user/s', 'troupe://evil/temp/7'];
const aPeerRef = fc.constantFrom(...PEER_ADDRESSES).map(($ref) => ({ $ref }));
const aTopic = fc.constantFrom('news', 'board', 't'.repeat(256));
const aCleanSystem = fc.oneof(
  fc.record({ type: fc.constantFrom('watch', 'unwatch'), watcher: aPeerRef }),
  fc.record(
    {
      type: fc.constantFrom('subscribe', 'unsubscribe'),
      subscriber: aPeerRef,
      events: fc.constant(true),
    },
    { requiredKeys: ['type', 'subscriber'] },
  ),
  fc.record(
    {
      type: fc.constant('stop'),
      reason: fc.constantFrom('normal', 'failed', 'shutdown'),
      error: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['type', 'reason'] },
  ),
);
const CLEAN_TO = OWN.filter(
  (a) => !a.includes('/temp/') && !a.endsWith('/system') && !a.endsWith(TOPICS_PATH),
);
const aCleanEntry = fc
  .record({
    what: fc.constantFrom('user', 'user', 'encoded', 'system', 'topics', 'reply'),
    to: fc.constantFrom(...CLEAN_TO),
    from: fc.option(fc.constantFrom(...PEER_ADDRESSES), { nil: undefined }),
    ask: fc.option(fc.nat(), { nil: undefined }),
    trace: fc.boolean(),
    user: fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.record({ type: fc.constantFrom('get', 'inc') }),
    ),
    json: fc.jsonValue({ maxDepth: 3 }),
    system: aCleanSystem,
    // now and then one field of a system message made wrong (the rest right)
    spoil: fc.option(
      fc.tuple(
        fc.constantFrom('watcher', 'subscriber', 'reason', 'events', 'type'),
        fc.constantFrom<unknown>('troupe://evil/user/w', 42, null, undefined, {}, [], 'kill'),
      ),
      { freq: 3, nil: undefined },
    ),
    topics: fc.oneof(
      fc.record({ topic: aTopic, msg: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ interest: fc.array(aTopic, { maxLength: 3 }) }),
    ),
  })
  .map((e): unknown[] => {
    let to = e.to;
    let flags = 0;
    let body: unknown = e.user;
    if (e.what === 'encoded') {
      flags = ENCODED;
      body = encodeValue(e.json);
    } else if (e.what === 'system') {
      flags = 1 | ENCODED;
      const m: Record<string, unknown> = { ...e.system };
      if (e.spoil !== undefined) {
        const [field, value] = e.spoil;
        if (value === undefined) delete m[field];
        else m[field] = value;
      }
      body = m;
    } else if (e.what === 'topics') {
      to = `troupe://a${TOPICS_PATH}`;
      body = e.topics;
    } else if (e.what === 'reply') {
      to = 'troupe://a/temp/42';
      flags = 2 | ENCODED;
      body = { $error: { name: 'E', message: 'no' } };
    }
    const items: unknown[] = [to];
    const plainUser = e.what !== 'system';
    if (e.from !== undefined && plainUser) {
      flags |= 4;
      items.push(e.from);
    }
    if (e.ask !== undefined && plainUser) {
      flags |= 8;
      items.push('troupe://evil/temp/7', e.ask);
    }
    if (e.trace && plainUser) {
      flags |= 16;
      items.push({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    }
    return [flags, ...items, body];
  });

const aBatchOf = (entry: fc.Arbitrary<unknown[]>) =>
  fc.array(entry, { minLength: 1, maxLength: 4 }).map((entries) => [V, 'batch', ...entries.flat()]);
const aBatch = fc.oneof(aBatchOf(anEntry), aBatchOf(aCleanEntry));

const aControl = fc.oneof(
  fc.tuple(fc.constant(V), fc.constantFrom('ping', 'pong'), fc.oneof(fc.double(), fc.anything())),
  fc.tuple(
    fc.constant(V),
    fc.constant('bye'),
    fc.oneof(fc.string({ maxLength: 40 }), fc.anything()),
  ),
  fc.constant([V, 'hello', 'evil', nonce()]),
  fc.constant([V, 'ready']),
  fc.constant([V, 'proof', 'x'.repeat(43)]),
  fc.tuple(fc.constantFrom(0, 1, 3, 'v'), fc.constantFrom('batch', 'ping')),
  fc.tuple(fc.constant(V), fc.string({ maxLength: 10 })),
  fc.anything({ maxDepth: 2 }),
);

const plain = raw;
const records = new Packr({ structuredClone: false, useRecords: true, mapsAsObjects: true });

type Frame = { readonly bytes: Uint8Array } | { readonly text: string };

const packed = (value: fc.Arbitrary<unknown>): fc.Arbitrary<Frame> =>
  fc.tuple(value, fc.boolean()).map(([v, withRecords]): Frame => {
    try {
      return { bytes: (withRecords ? records : plain).pack(v) };
    } catch {
      return { bytes: new Uint8Array([0xc1]) };
    }
  });
const aPackedFrame = packed(
  fc.oneof({ weight: 4, arbitrary: aBatch }, { weight: 1, arbitrary: aControl }),
);
/** Frames an honest peer could send (pings included). */
const aCleanFrame = packed(
  fc.oneof(
    { weight: 6, arbitrary: aBatchOf(aCleanEntry) },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constant(V),
        fc.constantFrom('ping', 'pong'),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
      ),
    },
  ),
);

const aFrame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 6, arbitrary: aPackedFrame },
  {
    weight: 2,
    // a valid frame with bytes changed, or cut short
    arbitrary: fc
      .tuple(
        aPackedFrame,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([f, changes, cut]): Frame => {
        if (!('bytes' in f)) return f;
        const b = Uint8Array.from(f.bytes);
        for (const [at, byte] of changes) b[at % b.length] = byte;
        return { bytes: cut === undefined ? b : b.subarray(0, cut % (b.length + 1)) };
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): Frame => ({ bytes })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((text): Frame => ({ text })) },
);

// ---- the nodes ---------------------------------------------------------------------------

let a: ActorSystem;
let b: ActorSystem;
let probe: ActorRef<'get', number>;
const log: string[] = [];
const thrown: unknown[] = [];
const onThrown = (e: unknown): void => {
  thrown.push(e);
};

beforeAll(async () => {
  process.on('uncaughtException', onThrown);
  process.on('unhandledRejection', onThrown);
  const logger = {
    info: () => undefined,
    warn: (m: unknown) => log.push(String(m)),
    error: (m: unknown) => log.push(String(m)),
  };
  a = createSystem({ node: { name: 'a' }, secret: SECRET, logger });
  await a.nodeReady;
  a.spawn(
    fromReceive<number, unknown, number>(0, (n, m, ctx) => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'get')
        ctx.reply(n);
      return n + 1;
    }),
    { name: 'c' },
  );
  a.spawn(
    fromReceive<null, unknown>(null, (s) => s),
    { name: 'inbox' },
  );
  a.spawn(
    fromReceive<number, 'get', number>(7, (n, _m, ctx) => {
      ctx.reply(n);
      return n;
    }),
    { name: 'probe' },
  );
  a.define(
    'tally',
    fromReceive<number, unknown>(0, (n) => n + 1),
  );
  b = createSystem({
    node: { name: 'b' },
    peers: [{ name: 'a', url: `ws://127.0.0.1:${a.nodes!.net.port}` }],
    secret: SECRET,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  await b.nodeReady;
  await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'));
  probe = b.refOf('troupe://a/user/probe' as never) as ActorRef<'get', number>;
});

afterAll(async () => {
  process.off('uncaughtException', onThrown);
  process.off('unhandledRejection', onThrown);
  await Promise.all([a?.shutdown(), b?.shutdown()]);
});

const reader = new Unpackr({ useRecords: true, mapsAsObjects: true, int64AsType: 'number' });

/** Sends a ping after the frames: resolves with 'pong', or the close code. */
function answer(peer: HostilePeer, t: number): Promise<'pong' | number> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(-1), ANSWER_MS);
    peer.ws.on('message', (data: Buffer) => {
      let v: unknown;
      try {
        v = reader.unpack(data);
      } catch {
        return;
      }
      if (Array.isArray(v) && v[1] === 'pong' && v[2] === t) {
        clearTimeout(timer);
        resolve('pong');
      }
    });
    void peer.closed.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

let run = 0;

describe('the node link under fuzzing', () => {
  it(
    `answers or closes with a protocol code, never throws, and keeps serving its other peer (seed ${SEED}, ${RUNS} runs)`,
    { timeout: 20_000 + RUNS * 500 },
    async () => {
      console.log(`node-link fuzz: seed ${SEED}, ${RUNS} runs (replay: FUZZ_SEED=${SEED})`);
      const outcomes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.array(aCleanFrame, { minLength: 1, maxLength: 6 }),
            fc.array(aFrame, { minLength: 1, maxLength: 6 }),
          ),
          async (frames) => {
            // a throw seen in an earlier run failed that run; each run starts clean (shrinking)
            thrown.length = 0;
            const peer = await hostilePeer(a.nodes!.net.port, SECRET, `evil-${++run}`);
            try {
              const t = run;
              const answered = answer(peer, t);
              for (const f of frames)
                if ('text' in f) peer.ws.send(f.text);
                else peer.send(f.bytes);
              peer.send([V, 'ping', t]);
              const got = await answered;
              const key = String(got);
              outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
              if (got !== 'pong') {
                expect(got, 'the node went silent').not.toBe(-1);
                expect(got, 'a throw of the node').not.toBe(CLOSE.internal);
                expect(ALLOWED_CODES.has(got), `close code ${got}`).toBe(true);
              }
              expect(thrown).toEqual([]);
              expect(await probe.ask('get', { timeout: 3_000 })).toBe(7);
            } finally {
              peer.ws.terminate();
            }
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
      console.log(
        `node-link fuzz: outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; ${log.length} lines logged`,
      );
      if (process.env.FUZZ_DEBUG) console.log(log.join('\n'));
      expect(a.nodes!.net.isUp('b')).toBe(true);
      expect(log.some((l) => /closed \(4010\)/.test(l))).toBe(false);
    },
  );
});
