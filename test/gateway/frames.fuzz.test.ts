/**
 * A fast-check fuzzer of the gateway's frames, run against a live gateway: each run opens a
 * connection, sends a few generated frames (near-valid frames with one thing wrong, any msgpack
 * value, random bytes, text frames) and a closing ping, and checks what comes back against the
 * protocol's own decoder (`decodeClientFrame`, the oracle):
 *
 * - a frame the decoder refuses closes the connection with the code it names (or a limit's,
 *   4002–4007), and nothing sent after it is answered;
 * - a frame it answers (`bad-message`) gets that error, and the connection goes on;
 * - with no refused frame, the ping gets its pong;
 * - every frame from the gateway decodes as a server frame, no error is `internal`, no decoder
 *   error is logged, nothing is thrown uncaught, and a bystander client is answered after.
 *
 * FUZZ_RUNS sets the number of runs (default 100: about a second in `npm test`; `npm run fuzz`
 * runs more); FUZZ_SEED replays a run. A failure's report names the seed and the shrunk frames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { fromReceive, type Logger } from '../../index.ts';
import {
  BadMessageError,
  ClientProtocolError,
  ERROR_CODES,
  MAX_ID,
  SUBPROTOCOL,
  decodeClientFrame,
  decodeServerFrame,
  type ServerFrame,
} from '../../protocol/client-protocol.ts';
import { connect, type TroupeClient } from '../../protocol/client/node.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SEED =
  process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== ''
    ? Number(process.env.FUZZ_SEED) >>> 0
    : (Math.random() * 2 ** 32) >>> 0;
/** The id of the closing ping: no generated frame uses it. */
const SENTINEL = MAX_ID - 7;
const LIMIT_CODES = new Set([4002, 4003, 4004, 4005, 4006, 4007]);

const packrs = [
  new Packr({ useRecords: false }),
  new Packr({ useRecords: false, moreTypes: true }),
  new Packr({ useRecords: true }),
];

// ---- what is sent --------------------------------------------------------------------------

/** One WebSocket message: binary bytes, or a text frame. */
type Wire = { readonly binary: Uint8Array } | { readonly text: string };

const TARGETS = [
  '/user/echo',
  '/user/mute',
  '/user/nobody',
  '/system',
  '/temp/x',
  'troupe://local/user/echo',
  'troupe://elsewhere/user/echo',
  'troupe:entity/vault/%73ecret',
  'troupe:entity/vault/%zz',
  'troupe:entity/nokind/x',
  '/system/e.vault.c2VjcmV0',
  '/user/../system',
  '',
  'x'.repeat(300),
  'news',
];

const id = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 1_000 }) },
  fc.constantFrom(0, -1, 1.5, NaN, Infinity, MAX_ID, MAX_ID + 2, '1', null),
);

/** Data with the numbers msgpack can carry and data cannot (NaN, ±Infinity, -0), keys of any type. */
const data = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 12 }),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto_', 'constructor', '$ref')),
      tie('value'),
      { maxKeys: 4 },
    ),
    // a map whose key is not a string: nil, a number or a boolean (read as its string form),
    // a map, an array or binary (refused)
    fc
      .tuple(
        fc.oneof(fc.constantFrom(null, true, 1.5, {}, [1], new Uint8Array([1])), fc.integer()),
        tie('value'),
      )
      .map(([k, v]) => new Map([[k, v]])),
  ),
})).value;

/** A map nested `n` deep. */
const deep = fc.integer({ min: 28, max: 36 }).map((n) => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
});

/** A frame of the protocol, maybe with one thing wrong. */
const frame = fc
  .record({
    op: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom('subscribe', 'unsubscribe', 'send', 'ask', 'ping') },
      fc.constantFrom('welcome', 'reply', '', 'SEND', 'constructor'),
    ),
    id,
    kind: fc.constantFrom('snapshot', 'events', 'topic', 'bogus'),
    target: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...TARGETS) },
      fc.string(),
      fc.integer(),
    ),
    message: fc.oneof({ weight: 4, arbitrary: data }, deep, fc.constant(undefined)),
    timeoutMs: fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 200 }), fc.double()),
    since: fc.oneof(
      fc.constant(undefined),
      fc.record({ epoch: fc.string({ maxLength: 70 }), version: id }),
    ),
    trace: fc.oneof(
      fc.constant(undefined),
      fc.constant({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
      fc.record({ traceparent: fc.string() }),
    ),
    extra: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      fc.constantFrom('bogus', '__proto_', 'prototype'),
    ),
  })
  .map((r) => {
    const f: Record<string, unknown> = { op: r.op, id: r.id };
    if (r.op === 'subscribe') {
      f.kind = r.kind;
      f.target = r.target;
      if (r.since !== undefined) f.since = r.since;
    } else if (r.op === 'send' || r.op === 'ask') {
      f.target = r.target;
      if (r.message !== undefined) f.message = r.message;
      if (r.trace !== undefined) f.trace = r.trace;
      if (r.op === 'ask') f.timeoutMs = r.timeoutMs ?? 100;
    }
    if (r.extra !== undefined) f[r.extra] = 1;
    return f;
  });

/** `v` packed by packr `p`; what msgpackr cannot pack is sent as its string form's bytes. */
function pack(v: unknown, p: number): Wire {
  try {
    return { binary: packrs[p]!.pack(v) };
  } catch {
    return { binary: Buffer.from(String(v as string)) };
  }
}

const wire: fc.Arbitrary<Wire> = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(frame, fc.nat(packrs.length - 1)).map(([f, p]) => pack(f, p)) },
  fc.tuple(fc.anything(), fc.nat(packrs.length - 1)).map(([v, p]) => pack(v, p)),
  fc.uint8Array({ maxLength: 40 }).map((b) => ({ binary: b })),
  // a valid frame, truncated or with a byte flipped
  fc.tuple(frame, fc.nat(), fc.nat(255)).map(([f, at, b]) => {
    const bytes = Buffer.from(packrs[0]!.pack(f));
    const i = at % bytes.length;
    return { binary: at % 2 === 0 ? bytes.subarray(0, i) : Object.assign(bytes, { [i]: b }) };
  }),
  fc.string({ maxLength: 20 }).map((text) => ({ text })),
);

// ---- the oracle ------------------------------------------------------------------------------

type Verdict =
  { kind: 'ok'; id: number } | { kind: 'answered'; id: number } | { kind: 'refused'; code: number };

function judge(w: Wire): Verdict {
  if ('text' in w) return { kind: 'refused', code: 4000 };
  try {
    return { kind: 'ok', id: decodeClientFrame(w.binary).id };
  } catch (e) {
    if (e instanceof BadMessageError) return { kind: 'answered', id: e.id };
    if (e instanceof ClientProtocolError) return { kind: 'refused', code: e.closeCode };
    throw new Error(`decodeClientFrame threw ${String(e)} instead of refusing the frame`, {
      cause: e,
    });
  }
}

interface Outcome {
  readonly frames: ServerFrame[];
  readonly closedWith: number | null;
  readonly problems: string[];
}

/** Sends the messages and the closing ping on a fresh connection; resolves at the pong or the close. */
function exchange(url: string, messages: readonly Wire[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], {
      perMessageDeflate: false,
      headers: { authorization: 'Bearer alice' },
    });
    const frames: ServerFrame[] = [];
    const problems: string[] = [];
    let done = false;
    const finish = (closedWith: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ frames, closedWith, problems });
      ws.terminate();
    };
    const timer = setTimeout(() => {
      problems.push('neither a pong nor a close within 5 s');
      finish(null);
    }, 5_000);
    ws.on('error', () => undefined);
    ws.on('close', (code) => finish(code));
    ws.on('message', (raw: Buffer, isBinary) => {
      if (!isBinary) return problems.push('a text frame from the gateway');
      let f: ServerFrame;
      try {
        f = decodeServerFrame(raw);
      } catch (e) {
        return problems.push(`a frame decodeServerFrame refuses: ${(e as Error).message}`);
      }
      frames.push(f);
      if (f.op === 'welcome') {
        for (const m of messages)
          if ('text' in m) ws.send(m.text);
          else ws.send(m.binary, { binary: true });
        ws.send(packrs[0]!.pack({ op: 'ping', id: SENTINEL }), { binary: true });
      }
      if (f.op === 'pong' && f.id === SENTINEL) finish(null);
    });
  });
}

// ---- the run -------------------------------------------------------------------------------

describe('gateway frames under fast-check fuzzing', () => {
  let h: GatewayHarness;
  let bystander: TroupeClient;
  const logs: string[] = [];
  const uncaught: string[] = [];
  const onUncaught = (e: unknown): void => {
    uncaught.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  };
  const logger: Logger = {
    info: () => undefined,
    warn: () => undefined,
    error: (message, ...details) =>
      logs.push(`${message} ${details.map((d) => String(d)).join(' ')}`),
  };

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    h = await startGateway(
      {
        limits: {
          messagesPerSecond: 100_000,
          burst: 100_000,
          maxConnectionsPerPrincipal: 1_000,
          askTimeoutMs: 100,
        },
      },
      { logger },
    );
    h.system.define(
      'vault',
      fromReceive(null, (s: null) => s),
    );
    const echo = fromReceive(null, (s: null, m: unknown, ctx) => {
      if (ctx.replyTo !== undefined) ctx.reply(m);
      return s;
    });
    h.system.spawn(echo, { name: 'echo' });
    h.system.spawn(
      fromReceive(null, (s: null) => s),
      { name: 'mute' },
    );
    bystander = connect(h.url, { token: 'carol' });
    await bystander.ready;
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await bystander.close();
    await h.close();
  });

  it(`answers or closes each connection as the decoder says (seed ${SEED}, FUZZ_RUNS ${RUNS})`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(wire, { minLength: 1, maxLength: 5 }), async (messages) => {
        const verdicts = messages.map(judge);
        const refusedAt = verdicts.findIndex((v) => v.kind === 'refused');
        const out = await exchange(h.url, messages);
        expect(out.problems).toEqual([]);
        for (const f of out.frames)
          if (f.op === 'error') {
            expect(ERROR_CODES).toContain(f.code);
            expect(f.code).not.toBe('internal');
          }
        const pong = out.frames.some((f) => f.op === 'pong' && f.id === SENTINEL);
        if (refusedAt < 0) {
          // nothing refused: the connection is open, and every bad-message was answered
          expect(pong).toBe(true);
          for (const v of verdicts)
            if (v.kind === 'answered')
              expect(
                out.frames.some(
                  (f) => f.op === 'error' && f.id === v.id && f.code === 'bad-message',
                ),
              ).toBe(true);
        } else {
          const code = (verdicts[refusedAt] as { code: number }).code;
          expect(pong).toBe(false);
          // nothing sent after the refused frame is answered
          const idsOf = (vs: readonly Verdict[]) =>
            new Set(vs.flatMap((v) => (v.kind === 'refused' ? [] : [v.id])));
          const before = idsOf(verdicts.slice(0, refusedAt));
          const after = [...idsOf(verdicts.slice(refusedAt + 1))].filter((i) => !before.has(i));
          for (const f of out.frames) if ('id' in f) expect(after).not.toContain(f.id);
          // closed with the refused frame's code, unless a limit closed it first
          expect(
            out.closedWith === code || LIMIT_CODES.has(out.closedWith ?? 0),
            `closed with ${out.closedWith}, expected ${code}`,
          ).toBe(true);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // the node is fine: no decoder error was logged, nothing uncaught, a bystander is answered
    expect(logs.filter((l) => /could not be decoded|threw/.test(l))).toEqual([]);
    expect(uncaught).toEqual([]);
    await bystander.ping();
  });
});
