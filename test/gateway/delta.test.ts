import { afterEach, describe, expect, it } from 'vitest';
import { createServer, Socket, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import fc from 'fast-check';
import type { ActorRef } from '../../index.ts';
import { encodeValue } from '../../runtime/core/refcodec.ts';
import { connect, type SnapshotInfo, type TroupeClient } from '../../protocol/client/node.ts';
import { board, type BoardMsg } from '../fixtures/gateway-behaviours.ts';
import { rawClient, startGateway, type GatewayHarness } from '../support/gateway.ts';
import { SimulatedClock } from '../../testing.ts';
import { until } from '../support/until.ts';

/** JSON's view of a value: -0 is 0, key order does not matter to toEqual. */
const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

/** What the client must end with: the actor's view in data form. */
async function serverView(b: ActorRef<BoardMsg>): Promise<unknown> {
  return norm(encodeValue(await b.ask({ type: 'get' })));
}

/** A TCP proxy in front of the gateway whose connections can be cut (a dropped network). */
async function proxy(target: string): Promise<{ url: string; cut(): void; close(): void }> {
  const u = new URL(target);
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((down) => {
    if (refusing) return down.destroy();
    const up = new Socket();
    up.connect(Number(u.port), u.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up);
    up.pipe(down);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}${u.pathname}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => {
      refusing = true;
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

interface Seen {
  states: unknown[];
  infos: SnapshotInfo[];
}

function watch(c: TroupeClient, path: string): Seen & { stop: () => void } {
  const seen: Seen = { states: [], infos: [] };
  const stop = c.subscribe(path, (s, info) => {
    seen.states.push(s);
    seen.infos.push(info);
  });
  return { ...seen, stop };
}

/** Versions only grow: nothing applied twice. */
function expectIncreasing(infos: SnapshotInfo[]): void {
  for (let i = 1; i < infos.length; i++) {
    if (infos[i]!.epoch !== infos[i - 1]!.epoch) continue;
    expect(infos[i]!.version).toBeGreaterThan(infos[i - 1]!.version);
  }
}

const clients: TroupeClient[] = [];
const harnesses: GatewayHarness[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

/** JSON values without `__proto__` keys (the codec refuses them: they cannot be stored). */
const jsonValue = fc
  .jsonValue({ maxDepth: 3 })
  .filter((v) => !JSON.stringify(v).includes('"__proto__"'));

describe('snapshot deltas', () => {
  it('the client’s state always equals the server’s, over random snapshot sequences and drops (property)', async () => {
    const h = await startGateway({ snapshots: { coalesceMs: 4, historyVersions: 8 } });
    harnesses.push(h);
    const p = await proxy(h.url);
    const c = connect(p.url, { token: 'alice', reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    clients.push(c);
    await c.ready;
    let run = 0;
    const step = fc.oneof(
      { weight: 8, arbitrary: fc.record({ value: jsonValue, pause: fc.nat(3) }) },
      // the connection drops: the client resumes from the version it had
      { weight: 1, arbitrary: fc.constant('cut' as const) },
    );
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          const name = `p${run++}`;
          const b = h.system.spawn(board, { name });
          const seen = watch(c, `/user/${name}`);
          try {
            for (const st of steps) {
              if (st === 'cut') {
                p.cut();
                continue;
              }
              b.tell({ type: 'set', value: st.value });
              // some updates come together (merged), some apart
              if (st.pause > 0) await setTimeout(st.pause);
            }
            const want = await serverView(b);
            await until(() => seen.states.length > 0 && equal(norm(seen.states.at(-1)), want));
            expectIncreasing(seen.infos);
            // every state the client had was one the server had: a value from the steps
            for (const s of seen.states) {
              const v = norm((s as { value: unknown }).value);
              expect(
                v === null ||
                  steps.some((x) => x !== 'cut' && equal(norm(encodeValue(x.value)), v)),
              ).toBe(true);
            }
          } finally {
            seen.stop();
            void h.system.stop(b);
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      p.close();
    }
  });

  it('resumes after a dropped connection with a patch: no gap, nothing twice', async () => {
    const h = await startGateway({ snapshots: { coalesceMs: 0 } });
    harnesses.push(h);
    const p = await proxy(h.url);
    try {
      const b = h.system.spawn(board, { name: 'b' });
      const c = connect(p.url, { token: 'alice', reconnect: { initialDelayMs: 20 } });
      clients.push(c);
      const states: string[] = [];
      c.on('state', (s) => states.push(s.state));
      const seen = watch(c, '/user/b');
      for (let i = 0; i < 5; i++) b.tell({ type: 'inc' });
      await until(() => (seen.states.at(-1) as { n: number } | undefined)?.n === 5);
      const before = seen.infos.length;
      p.cut();
      // changes while the client is away
      for (let i = 0; i < 3; i++) b.tell({ type: 'inc' });
      await until(() => states.includes('reconnecting'));
      await until(() => states.at(-1) === 'open' && (seen.states.at(-1) as { n: number }).n === 8);
      expectIncreasing(seen.infos);
      const after = seen.infos.slice(before);
      // one patch brought it from where it was to the latest
      expect(after).toHaveLength(1);
      expect(after[0]!.full).toBe(false);
      expect(after[0]!.epoch).toBe(seen.infos[0]!.epoch);
      expect(norm(seen.states.at(-1))).toEqual(await serverView(b));
    } finally {
      p.close();
    }
  });

  it('after a resume too far back, or with the hub gone, gets the full state', async () => {
    const h = await startGateway({
      snapshots: { coalesceMs: 0, historyVersions: 2, resumeWindowMs: 60_000 },
    });
    harnesses.push(h);
    const p = await proxy(h.url);
    try {
      const b = h.system.spawn(board, { name: 'b' });
      const c = connect(p.url, { token: 'alice', reconnect: { initialDelayMs: 20 } });
      clients.push(c);
      const seen = watch(c, '/user/b');
      await until(() => seen.states.length === 1);
      p.cut();
      for (let i = 0; i < 6; i++) {
        b.tell({ type: 'inc' });
        // one version each (no merging)
        await setTimeout(2);
      }
      await until(() => (seen.states.at(-1) as { n: number }).n === 6);
      expect(seen.infos.at(-1)!.full).toBe(true);
      expectIncreasing(seen.infos);
      expect(norm(seen.states.at(-1))).toEqual(await serverView(b));
    } finally {
      p.close();
    }
    // a gateway that forgets at once: a new epoch, a full state
    const h2 = await startGateway({ snapshots: { coalesceMs: 0, resumeWindowMs: 0 } });
    harnesses.push(h2);
    const p2 = await proxy(h2.url);
    try {
      const b = h2.system.spawn(board, { name: 'b' });
      const c = connect(p2.url, { token: 'alice', reconnect: { initialDelayMs: 20 } });
      clients.push(c);
      const seen = watch(c, '/user/b');
      await until(() => seen.states.length === 1);
      p2.cut();
      b.tell({ type: 'inc' });
      await until(() => seen.states.length === 2);
      expect(seen.infos[1]!.full).toBe(true);
      expect(seen.infos[1]!.epoch).not.toBe(seen.infos[0]!.epoch);
      expect(norm(seen.states[1])).toEqual(await serverView(b));
    } finally {
      p2.close();
    }
  });
});

/** The windows of the snapshot hubs, on a simulated clock (the system's), over real sockets. */
describe('snapshot windows in time (simulated clock)', () => {
  /** No heartbeat or idle timeout comes due while these tests move the clock. */
  const quiet = { heartbeatMs: 600_000, idleTimeoutMs: 600_000 };

  it('merges updates inside the coalescing window, latest wins, published as the window ends', async () => {
    const clock = new SimulatedClock();
    const h = await startGateway({ snapshots: { coalesceMs: 200 }, limits: quiet }, { clock });
    harnesses.push(h);
    const b = h.system.spawn(board, { name: 'b' });
    const c = await rawClient(h.url, { token: 'alice' });
    c.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/b' });
    await c.next((f) => f.op === 'state');
    for (let i = 0; i < 50; i++) b.tell({ type: 'inc' });
    expect(await serverView(b)).toMatchObject({ n: 50 });
    const stats = () => h.system.gateway!.stats();
    // every change came inside the window that the first publication opened
    expect(stats().published).toBe(1);
    await clock.advance(199);
    expect(stats().published).toBe(1);
    await clock.advance(1);
    expect(stats().published).toBe(2);
    expect(stats().coalesced).toBeGreaterThan(0);
    const last = await c.next((f) => f.op !== 'state' && 'version' in f && f.version === 2);
    expect(last.op).toBe('patch');
    c.ws.close();
  });

  it('keeps a hub with no subscriber for resumeWindowMs: a resume in it gets a patch; then it goes', async () => {
    const clock = new SimulatedClock();
    const h = await startGateway(
      { snapshots: { coalesceMs: 0, resumeWindowMs: 1_000 }, limits: quiet },
      { clock },
    );
    harnesses.push(h);
    const b = h.system.spawn(board, { name: 'b' });
    const stats = () => h.system.gateway!.stats();
    const first = await rawClient(h.url, { token: 'alice' });
    first.send({ op: 'subscribe', id: 1, kind: 'snapshot', target: '/user/b' });
    const state = await first.next((f) => f.op === 'state');
    if (state.op !== 'state') throw new Error('a state frame');
    first.ws.close();
    await first.closed;
    await until(() => stats().connections === 0);
    // away: a change is published to nobody, and the hub waits
    b.tell({ type: 'inc' });
    await until(() => stats().published === 2);
    await clock.advance(999);
    expect(stats().hubs).toBe(1);
    const back = await rawClient(h.url, { token: 'alice' });
    back.send({
      op: 'subscribe',
      id: 1,
      kind: 'snapshot',
      target: '/user/b',
      since: { epoch: state.epoch, version: state.version },
    });
    const resumed = await back.next((f) => f.op === 'patch' || f.op === 'state');
    expect(resumed).toMatchObject({ op: 'patch', epoch: state.epoch, base: 1, version: 2 });
    // gone again: the window starts over, and the hub ends with it
    back.send({ op: 'unsubscribe', id: 1 });
    // its ok: the second for id 1 (the subscribe had the first)
    await until(() => back.frames.filter((f) => f.op === 'ok' && f.id === 1).length === 2);
    await clock.advance(999);
    expect(stats().hubs).toBe(1);
    await clock.advance(1);
    expect(stats().hubs).toBe(0);
    back.ws.close();
  });
});

function equal(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}
