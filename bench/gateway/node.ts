/**
 * The node of the gateway-fanout benchmark (bench/gateway.ts), in a process of its own: a
 * system with a gateway and `actors` XState machines `/user/a<i>`; on `start`, every machine
 * gets `tick` `rate` times a second (spread evenly over time and actors), each tick setting
 * `context.at` to the time it was handled (performance.timeOrigin + performance.now(), ms);
 * after `durationMs` it answers `done` with the count of ticks, each machine's final `n` and
 * the gateway's stats.
 */
import { assign, createMachine } from 'xstate';
import { createSystem, fromMachine, type ActorRef } from '../../index.ts';

interface Config {
  readonly actors: number;
  /** Ticks per second per actor. */
  readonly rate: number;
}

const config = JSON.parse(process.argv[2]!) as Config;

const ticker = createMachine({
  types: {} as { context: { n: number; at: number }; events: { type: 'tick' } },
  context: { n: 0, at: 0 },
  initial: 'running',
  states: {
    running: {
      on: {
        tick: {
          actions: assign({
            n: ({ context }) => context.n + 1,
            at: () => performance.timeOrigin + performance.now(),
          }),
        },
      },
    },
  },
});

const system = createSystem({
  gateway: {
    authenticate: (token) => (token === null ? null : { id: token }),
    authorize: () => true,
    // every client comes from 127.0.0.1, a hundred handshakes at a time (bench/gateway.ts)
    limits: { maxConnectionsPerPrincipal: 1, maxHalfOpenPerIp: 1_024 },
  },
});
const behaviour = fromMachine(ticker);
const actors: ActorRef<{ type: 'tick' }>[] = [];
for (let i = 0; i < config.actors; i++) actors.push(system.spawn(behaviour, { name: `a${i}` }));
await system.gateway!.ready;
process.send!({ type: 'ready', url: system.gateway!.url });

process.on('message', (m: { type: string; durationMs?: number; seq?: number }) => {
  // the driver reads this process's clock to line it up with its own (see bench/gateway.ts)
  if (m.type === 'clock')
    process.send!({ type: 'clock', seq: m.seq, now: performance.timeOrigin + performance.now() });
  if (m.type === 'start') run(m.durationMs!);
  if (m.type === 'exit') void system.shutdown().then(() => process.exit(0));
});

function run(durationMs: number): void {
  const perMs = (config.actors * config.rate) / 1000;
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const elapsed = Math.min(performance.now() - t0, durationMs);
    const due = Math.floor(elapsed * perMs);
    // in rotation: each actor's ticks are 1 / rate apart
    for (; sent < due; sent++) actors[sent % actors.length]!.tell({ type: 'tick' });
    if (elapsed >= durationMs) {
      clearInterval(timer);
      // the last ticks are handled before the counts are read
      setTimeout(() => {
        const finals = actors.map(
          (_, i) => Math.floor(sent / actors.length) + (i < sent % actors.length ? 1 : 0),
        );
        process.send!({ type: 'done', made: sent, finals, stats: system.gateway!.stats() });
      }, 50);
    }
  }, 5);
}
