/**
 * Across two node processes on loopback (issue 7): implementation `troupe:receive@2nodes`.
 * Each run starts the other node (bench/nodes/peer.ts, node `b`) as a child process, links
 * this process's node `a` to it, measures, and kills it.
 *
 *   counting   a producer on `a` sends every increment to the counter on `b`, then `get`; the
 *              total comes back to the producer and is checked
 *   pingpong   a pinger on `a` and the ponger on `b` pass the ball; every hop crosses the
 *              link and one message is in flight, so a run is bounded by round trips: it runs
 *              at most PINGPONG_HOPS_2NODES hops (its `messages` say how many)
 *   ask-rtt    asks from `a` to the echo on `b` at a fixed rate (10,000/s) for `asks` asks;
 *              p50Us/p99Us are percentiles of their round trips, msgs/s the asks answered per
 *              second
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../index.ts';
import {
  expectCount,
  percentile,
  secondsSince,
  type Benchmark,
  type Impl,
  type Sample,
} from './harness.ts';
import type { CountingParams } from './savina/counting.ts';
import type { PingpongParams } from './savina/pingpong.ts';

export const PINGPONG_HOPS_2NODES = 20_000;
const PEER = new URL('./nodes/peer.ts', import.meta.url);

/** Starts node b, links node a (this process) to it, runs `body`, stops both. */
async function withTwoNodes<T>(body: (a: ActorSystem) => Promise<T>): Promise<T> {
  const secret = randomBytes(24).toString('base64url');
  const child: ChildProcess = spawn(process.execPath, [PEER.pathname, secret], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`the peer node exited (${code})`)));
    });
    const a = createSystem({
      node: { name: 'a' },
      peers: [{ name: 'b', url: `ws://127.0.0.1:${port}` }],
      secret,
      link: { maxQueued: 50_000_000 },
    });
    try {
      await a.nodeReady;
      const t0 = Date.now();
      while (!a.nodes!.net.isUp('b')) {
        if (Date.now() - t0 > 10_000) throw new Error('the nodes did not link within 10 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      let dead = 0;
      a.deadLetters.subscribe(() => dead++);
      const result = await body(a);
      if (dead > 0) throw new Error(`${dead} dead letters in a @2nodes run`);
      return result;
    } finally {
      await a.shutdown();
    }
  } finally {
    child.kill('SIGKILL');
  }
}

export const countingTwoNodes: Impl<CountingParams> = ({ messages }) =>
  withTwoNodes(async (a) => {
    const counter = a.refOf('troupe://b/user/counter' as never) as ActorRef<{ type: string }>;
    const { promise, resolve } = Promise.withResolvers<number>();
    const INC = { type: 'inc' };
    const producer = a.spawn(
      fromReceive<null, 'start' | { type: 'total'; count: number }>(null, (s, m) => {
        if (m === 'start') {
          for (let i = 0; i < messages; i++) counter.tell(INC);
          counter.tell({ type: 'get' });
        } else resolve(m.count);
        return s;
      }),
    );
    const t0 = performance.now();
    producer.tell('start');
    const total = await promise;
    const seconds = secondsSince(t0);
    expectCount('counter total', total, messages);
    return { messages, seconds };
  });

export const pingpongTwoNodes: Impl<PingpongParams> = ({ hops }) =>
  withTwoNodes(async (a) => {
    const n = Math.min(hops, PINGPONG_HOPS_2NODES);
    const ponger = a.refOf('troupe://b/user/ponger' as never) as ActorRef<unknown>;
    const { promise, resolve } = Promise.withResolvers<number>();
    let handled = 0;
    const pinger = a.spawn(
      fromReceive<null, { hops: number } | 'start'>(null, (s, m, ctx) => {
        if (m === 'start') ponger.tell({ hops: n - 1, from: ctx.self });
        else {
          handled += 2;
          if (m.hops <= 1) resolve(handled);
          else ponger.tell({ hops: m.hops - 1, from: ctx.self });
        }
        return s;
      }),
    );
    const t0 = performance.now();
    pinger.tell('start');
    const messages = await promise;
    return { messages, seconds: secondsSince(t0) };
  });

export interface AskRttParams {
  readonly asks: number;
  /** Asks started per second. */
  readonly rate: number;
}

const askRttImpl: Impl<AskRttParams> = ({ asks, rate }) =>
  withTwoNodes(async (a) => {
    const echo = a.refOf('troupe://b/user/echo' as never) as ActorRef<number, number>;
    for (let i = 0; i < 200; i++) await echo.ask(i, { timeout: 5_000 }); // warm the path
    const times = new Float64Array(asks);
    let started = 0;
    let answered = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const tick = (): void => {
        const due = Math.min(asks, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
        for (; started < due; started++) {
          const i = started;
          const s = performance.now();
          echo.ask(i, { timeout: 5_000 }).then((v) => {
            if (v !== i) reject(new Error(`ask ${i} answered ${v}`));
            times[i] = (performance.now() - s) * 1000;
            if (++answered === asks) resolve();
          }, reject);
        }
        if (started < asks) setTimeout(tick, 1);
      };
      tick();
    });
    const sample: Sample = {
      messages: asks,
      seconds: secondsSince(t0),
      p50Us: Math.round(percentile(times, 50)),
      p99Us: Math.round(percentile(times, 99)),
    };
    return sample;
  });

export const askRtt: Benchmark<AskRttParams> = {
  name: 'ask-rtt',
  describe: (p) =>
    `${p.asks.toLocaleString('en')} asks to another node at ${p.rate.toLocaleString('en')}/s`,
  unit: 'asks/s',
  params: { full: { asks: 20_000, rate: 10_000 }, quick: { asks: 2_000, rate: 10_000 } },
  scale: (p, f) => ({ asks: Math.max(1, Math.round(p.asks * f)), rate: p.rate }),
  impls: { 'troupe:receive@2nodes': askRttImpl },
};
