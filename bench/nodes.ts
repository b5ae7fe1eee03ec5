/**
 * Across two node processes on loopback (issue 7): implementation `troupe:receive@2nodes`.
 * Each run starts node `b` (bench/nodes/peer.ts) and then node `a` (bench/nodes/driver.ts) as
 * child processes; `a` links to `b`, makes a warm-up pass and the measured one, and prints
 * the sample; both are then stopped. The bench's own process only waits: what the two nodes
 * leave behind cannot slow the benchmarks that follow.
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
import type { Benchmark, Impl, Sample } from './harness.ts';
import type { CountingParams } from './savina/counting.ts';
import type { PingpongParams } from './savina/pingpong.ts';

export const PINGPONG_HOPS_2NODES = 20_000;
const PEER = new URL('./nodes/peer.ts', import.meta.url).pathname;
const DRIVER = new URL('./nodes/driver.ts', import.meta.url).pathname;

/** The first line of `child`'s stdout that starts with `{`, parsed; rejects if it exits first. */
function jsonLine<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{') && l.endsWith('}'));
      if (line !== undefined) resolve(JSON.parse(line) as T);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`${what} exited (${code ?? signal}) before it answered`)),
    );
  });
}

/** Runs `which` across two fresh node processes. */
async function twoNodes(which: string, params: object): Promise<Sample> {
  const secret = randomBytes(24).toString('base64url');
  const children: ChildProcess[] = [];
  const start = (file: string, args: string[]): ChildProcess => {
    const c = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    return c;
  };
  try {
    const b = start(PEER, [secret]);
    const { port } = await jsonLine<{ port: number }>(b, 'node b');
    const a = start(DRIVER, [String(port), secret, which, JSON.stringify(params)]);
    return await jsonLine<Sample>(a, 'node a');
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

export const countingTwoNodes: Impl<CountingParams> = (p) => twoNodes('counting', p);

export const pingpongTwoNodes: Impl<PingpongParams> = (p) => twoNodes('pingpong', p);

export interface AskRttParams {
  readonly asks: number;
  /** Asks started per second. */
  readonly rate: number;
}

export const askRtt: Benchmark<AskRttParams> = {
  name: 'ask-rtt',
  describe: (p) =>
    `${p.asks.toLocaleString('en')} asks to another node at ${p.rate.toLocaleString('en')}/s`,
  unit: 'asks/s',
  params: { full: { asks: 20_000, rate: 10_000 }, quick: { asks: 2_000, rate: 10_000 } },
  scale: (p, f) => ({ asks: Math.max(1, Math.round(p.asks * f)), rate: p.rate }),
  impls: { 'troupe:receive@2nodes': (p) => twoNodes('ask-rtt', p) },
};
