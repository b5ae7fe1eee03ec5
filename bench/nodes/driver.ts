/**
 * Node `a` of the @2nodes benchmarks, in a process of its own (bench/nodes.ts starts it after
 * node `b`, bench/nodes/peer.ts): it links to `b`, runs one benchmark (a warm-up pass first,
 * not measured: `b` is a fresh process each run), prints the sample as one JSON line and
 * exits. Both nodes run outside the bench's process, so what they leave behind (sockets, a
 * grown heap, busy threads) cannot slow the benchmarks that follow.
 *
 *   node bench/nodes/driver.ts <port> <secret> <counting|pingpong|ask-rtt> <params JSON>
 */
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../../index.ts';
import { expectCount, percentile, secondsSince, type Sample } from '../harness.ts';
import { PINGPONG_HOPS_2NODES } from '../nodes.ts';

const [port, secret, which, paramsJson] = process.argv.slice(2) as [string, string, string, string];
const params = JSON.parse(paramsJson) as Record<string, number>;

async function counting(a: ActorSystem, messages: number): Promise<Sample> {
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
  await a.stop(producer);
  expectCount('counter total', total, messages);
  return { messages, seconds };
}

async function pingpong(a: ActorSystem, hops: number): Promise<Sample> {
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
  const seconds = secondsSince(t0);
  await a.stop(pinger);
  return { messages, seconds };
}

async function askRtt(a: ActorSystem, asks: number, rate: number): Promise<Sample> {
  const echo = a.refOf('troupe://b/user/echo' as never) as ActorRef<number, number>;
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
  return {
    messages: asks,
    seconds: secondsSince(t0),
    p50Us: Math.round(percentile(times, 50)),
    p99Us: Math.round(percentile(times, 99)),
  };
}

const a = createSystem({
  node: { name: 'a' },
  peers: [{ name: 'b', url: `ws://127.0.0.1:${port}` }],
  secret,
  link: { maxQueued: 50_000_000 },
});
await a.nodeReady;
const t0 = Date.now();
while (!a.nodes!.net.isUp('b')) {
  if (Date.now() - t0 > 10_000) throw new Error('the nodes did not link within 10 s');
  await new Promise((r) => setTimeout(r, 5));
}
let dead = 0;
a.deadLetters.subscribe(() => dead++);
let sample: Sample;
switch (which) {
  case 'counting':
    await counting(a, Math.max(10_000, Math.round(params.messages! / 10)));
    sample = await counting(a, params.messages!);
    break;
  case 'pingpong':
    await pingpong(a, Math.max(200, Math.round(params.hops! / 10)));
    sample = await pingpong(a, params.hops!);
    break;
  case 'ask-rtt':
    // the warm-up at the same rate: the round trips measured are those of a running link
    await askRtt(a, Math.max(params.asks!, 5_000), params.rate!);
    sample = await askRtt(a, params.asks!, params.rate!);
    break;
  default:
    throw new Error(`no @2nodes benchmark ${which}`);
}
if (dead > 0) throw new Error(`${dead} dead letters in a @2nodes run`);
await a.shutdown();
process.stdout.write(`${JSON.stringify(sample)}\n`);
