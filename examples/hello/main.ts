/**
 * `node examples/hello/main.ts`: a small troupe system that shows the core at work — actors talking, asking,
 * failing and being watched — and prints what happens, then exits.
 */
import { assign, setup } from 'xstate';
import {
  createSystem,
  fromMachine,
  fromReceive,
  reply,
  supervise,
  whichChildren,
  type ActorRef,
  type Terminated,
} from '../../index.ts';

const system = createSystem();
const log = (who: string, what: string): void => console.log(`${who.padEnd(22)} ${what}`);

// 1. A plain-function actor: a greeter that answers asks.
type GreeterMsg = { type: 'greet'; name: string };
const greeter = system.spawn(
  fromReceive<number, GreeterMsg, string>(0, (count, msg, ctx) => {
    ctx.reply(`hello, ${msg.name} (greeting #${count + 1})`);
    return count + 1;
  }),
  { name: 'greeter' },
);
log('main', `spawned ${greeter.address}`);
log('main → greeter', await greeter.ask({ type: 'greet', name: 'Ada' }));

// 2. An XState machine: a turnstile that counts coins and answers how many it took.
const turnstile = setup({
  types: {} as {
    context: { coins: number };
    events: { type: 'coin' } | { type: 'push' } | { type: 'count' };
  },
}).createMachine({
  id: 'turnstile',
  initial: 'locked',
  context: { coins: 0 },
  states: {
    locked: {
      on: {
        coin: {
          target: 'unlocked',
          actions: assign({ coins: ({ context }) => context.coins + 1 }),
        },
      },
    },
    unlocked: { on: { push: 'locked' } },
  },
  on: { count: { actions: reply(({ context }: { context: { coins: number } }) => context.coins) } },
});
const gate = system.spawn(fromMachine(turnstile), { name: 'turnstile' });
const stop = system.subscribe(gate, (u) => {
  if (u.type === 'troupe.snapshot')
    log(
      'turnstile (snapshot)',
      `v${u.version}: ${JSON.stringify((u.snapshot as { value: unknown }).value)}`,
    );
});
gate.tell({ type: 'coin' });
gate.tell({ type: 'push' });
gate.tell({ type: 'coin' });
log('main → turnstile', `coins taken: ${String(await gate.ask({ type: 'count' }))}`);
stop();

// 3. Let it crash: a worker that fails on bad input, watched by a monitor.
type WorkerMsg = { type: 'square'; n: unknown };
const worker = system.spawn(
  fromReceive<null, WorkerMsg, number>(null, (s, msg, ctx) => {
    if (typeof msg.n !== 'number') throw new TypeError(`not a number: ${JSON.stringify(msg.n)}`);
    ctx.reply(msg.n * msg.n);
    return s;
  }),
  { name: 'worker' },
);
const monitor = system.spawn(
  fromReceive<null, Terminated | { type: 'watch'; ref: ActorRef<unknown> }>(null, (s, msg, ctx) => {
    if (msg.type === 'watch') ctx.watch(msg.ref);
    else log('monitor', `${msg.ref.path} terminated (${msg.reason})`);
    return s;
  }),
  { name: 'monitor' },
);
monitor.tell({ type: 'watch', ref: worker });
log('main → worker', `7² = ${await worker.ask({ type: 'square', n: 7 })}`);
system.deadLetters.subscribe((d) =>
  log('dead letters', `${d.reason}: ${JSON.stringify(d.message)} → ${d.recipient}`),
);
await worker
  .ask({ type: 'square', n: 'seven' })
  .catch((e: Error) => log('main', `ask failed: ${e.message}`));

// 4. Supervision, with OTP's rules: a one-for-one supervisor restarts a crashed child in place
// (same address, same mailbox); the message that crashed it goes to dead letters.
const unsubscribe = system.events.subscribe((e) => {
  if (e.type === 'child-failed' || e.type === 'child-restarted')
    log('supervisor (event)', `${e.type} ${e.child}`);
});
const sup = system.spawn(
  supervise({
    strategy: 'one-for-one',
    intensity: 3,
    period: 1_000,
    children: [
      {
        id: 'calculator',
        behaviour: fromReceive<null, WorkerMsg, number>(null, (s, msg, ctx) => {
          if (typeof msg.n !== 'number')
            throw new TypeError(`not a number: ${JSON.stringify(msg.n)}`);
          ctx.reply(msg.n * msg.n);
          return s;
        }),
      },
    ],
  }),
  { name: 'calc-sup' },
);
const [calc] = await whichChildren(sup);
const calculator = calc!.ref as ActorRef<WorkerMsg, number>;
await calculator
  .ask({ type: 'square', n: 'x' })
  .catch((e: Error) => log('main', `ask failed: ${e.message}`));
log(
  'main → calculator',
  `after the restart, 9² = ${await calculator.ask({ type: 'square', n: 9 })}`,
);
unsubscribe();

// 5. Shut down: every actor stops, children before parents.
const report = await system.shutdown();
log(
  'main',
  `system terminated (${report.reason}); ${system.deadLetters.count} dead letter(s) in all`,
);
