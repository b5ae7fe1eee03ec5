/**
 * Node `b` of the @2nodes benchmarks (bench/nodes.ts starts it as a child process):
 * node `b` with a counter (counting), a ponger (pingpong) and an echo (ask-rtt). It prints
 * `{"port": …}` once it listens and runs until it is killed.
 */
import { createSystem, fromReceive, type ActorRef } from '../../index.ts';

const secret = process.argv[2]!;
const system = createSystem({
  node: { name: 'b', listen: 0 },
  secret,
  link: { maxQueued: 50_000_000 },
});
type CounterMsg = { type: 'inc' } | { type: 'get' };
system.spawn(
  fromReceive<number, CounterMsg, { type: 'total'; count: number }>(0, (n, m, ctx) => {
    if (m.type === 'inc') return n + 1;
    // the count since the last get (the warm-up pass counts apart from the measured one)
    ctx.reply({ type: 'total', count: n });
    return 0;
  }),
  { name: 'counter', mailbox: { capacity: Infinity } },
);
system.spawn(
  fromReceive<null, { hops: number; from: ActorRef<unknown> }>(null, (s, ball, ctx) => {
    ball.from.tell({ hops: ball.hops - 1, from: ctx.self });
    return s;
  }),
  { name: 'ponger', mailbox: { capacity: Infinity } },
);
system.spawn(
  fromReceive<null, unknown>(null, (s, m, ctx) => {
    ctx.reply(m);
    return s;
  }),
  { name: 'echo', mailbox: { capacity: Infinity } },
);
await system.nodeReady;
console.log(JSON.stringify({ port: system.nodes!.net.port }));
