/**
 * gateway-fanout (issue 9): implementation `troupe:machine`. A node process
 * (bench/gateway/node.ts) runs a gateway and `actors` XState machines that each update
 * `rate` times a second; this process connects `clients` WebSocket clients with the client
 * SDK (protocol/client/node.ts), each subscribed to one machine's snapshots, for
 * `durationMs`. Each client applies what comes (a patch, or a full state) and takes
 * `context.at` (when the machine handled the tick, on the node's clock, brought to this
 * process's clock by an offset measured over IPC before the run) from the time it applied it:
 * one latency sample per update applied. p50Us/p99Us are percentiles of those; msgs/s is
 * updates applied per second. `extra` has, per run and as the median: `coalesced` (updates
 * the gateway merged into a later one inside its 16 ms window), `dropped` (frames the gateway
 * did not send: a connection closed or over its buffer cap), `made` and `applied`. The run
 * checks that every client ends with its machine's final state (nothing lost).
 */
import { fork } from 'node:child_process';
import { connect, type TroupeClient } from '../protocol/client/node.ts';
import { expectCount, percentile, type Benchmark, type Sample } from './harness.ts';
import type { GatewayStats } from '../runtime/gateway/gateway.ts';

const NODE = new URL('./gateway/node.ts', import.meta.url).pathname;

export interface GatewayFanoutParams {
  readonly clients: number;
  /** Updates per second of each machine. */
  readonly rate: number;
  readonly durationMs: number;
}

interface Done {
  readonly type: 'done';
  readonly made: number;
  readonly finals: number[];
  readonly stats: GatewayStats;
}

async function gatewayFanout({ clients, rate, durationMs }: GatewayFanoutParams): Promise<Sample> {
  const child = fork(NODE, [JSON.stringify({ actors: clients, rate })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null) =>
        reject(new Error(`the gateway node exited (${code}) before ${type}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const conns: TroupeClient[] = [];
  try {
    const { url } = await next<{ url: string }>('ready');
    // Two processes' `performance.timeOrigin + now()` can disagree by seconds (each fixes its
    // origin at its start; the wall clock moves under a long-running one): the node's clock is
    // read over IPC, and the offset of the round trip with the least delay is taken.
    let offset = 0;
    let best = Infinity;
    for (let seq = 0; seq < 50; seq++) {
      const t0 = performance.timeOrigin + performance.now();
      child.send({ type: 'clock', seq });
      const { now } = await next<{ now: number }>('clock');
      const t1 = performance.timeOrigin + performance.now();
      if (t1 - t0 < best) {
        best = t1 - t0;
        offset = now - (t0 + t1) / 2;
      }
    }
    const lat = new Float64Array(Math.ceil(clients * rate * (durationMs / 1000) * 1.2) + 1024);
    let samples = 0;
    let applied = 0;
    let measuring = false;
    const last = new Int32Array(clients);
    const subscribed: Promise<void>[] = [];
    for (let i = 0; i < clients; i++) {
      const c = connect(url, { token: `c${i}`, reconnect: false });
      conns.push(c);
      const stop = c.subscribe<{ context: { n: number; at: number } }>(`/user/a${i}`, (s) => {
        const now = performance.timeOrigin + performance.now();
        last[i] = s.context.n;
        if (!measuring || s.context.n === 0) return;
        applied++;
        if (samples < lat.length) lat[samples++] = (now - (s.context.at - offset)) * 1000;
      });
      subscribed.push(stop.ready);
      // connect in waves: a thousand handshakes at once would time out on a small machine
      if (i % 100 === 99) await Promise.all(conns.slice(i - 99, i + 1).map((x) => x.ready));
    }
    await Promise.all(conns.map((c) => c.ready));
    await Promise.all(subscribed);
    measuring = true;
    const t0 = performance.now();
    child.send({ type: 'start', durationMs });
    const done = await next<Done>('done');
    // what is still on its way arrives; then every client has its machine's last state
    const deadline = performance.now() + 10_000;
    while (done.finals.some((n, i) => last[i] !== n)) {
      if (performance.now() > deadline) {
        const behind = done.finals.filter((n, i) => last[i] !== n).length;
        throw new Error(`${behind} clients did not reach their machine's final state`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (performance.now() - t0) / 1000;
    measuring = false;
    expectCount('updates made', done.made, clients * rate * (durationMs / 1000));
    const times = lat.subarray(0, samples);
    return {
      messages: done.made,
      seconds,
      p50Us: Math.round(percentile(times, 50)),
      p99Us: Math.round(percentile(times, 99)),
      counts: {
        made: done.made,
        applied,
        coalesced: done.stats.coalesced,
        dropped: done.stats.dropped,
      },
    };
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    child.send({ type: 'exit' });
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        r(undefined);
      }, 5_000);
      child.once('exit', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  }
}

export const gatewayFanoutBench: Benchmark<GatewayFanoutParams> = {
  name: 'gateway-fanout',
  describe: (p) =>
    `${p.clients.toLocaleString('en')} WebSocket clients, each watching one of ${p.clients.toLocaleString('en')} machines updating ${p.rate}×/s, ${p.durationMs / 1000} s`,
  unit: 'updates/s',
  params: {
    full: { clients: 1_000, rate: 10, durationMs: 30_000 },
    quick: { clients: 1_000, rate: 10, durationMs: 3_000 },
  },
  impls: { 'troupe:machine': gatewayFanout },
};
