/**
 * fib (Savina "Fibonacci"): Fibonacci computed by a tree of actors. An actor asked for
 * fib(n) with n ≤ 2 answers 1; otherwise it spawns two children, asks them for fib(n - 1)
 * and fib(n - 2), and answers the sum of their two answers. Every actor stops once it has
 * answered (its children have stopped already).
 *
 * It stresses actor creation and teardown inside a running system, with request-reply
 * between parent and child: fib(25) spawns 2·fib(25) − 1 = 150,049 actors. msgs/s counts
 * every message: one request per actor and one answer per actor, 2·(2·fib(n) − 1) in all.
 *
 * The run checks the answer against fib(n) computed in a loop: only a tree in which every
 * actor answered exactly once adds up to it.
 */
import { fromReceive, type ActorRef } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';

export interface FibParams {
  readonly n: number;
}

type Request = { type: 'request'; n: number };
type Response = { type: 'response'; value: number };
type FibMsg = Request | Response;
type ClientMsg = { type: 'start' } | Response;

/** fib(n) by the loop (fib(1) = fib(2) = 1). */
export function fibonacci(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** Actors in the tree for fib(n): one per call of the naive recursion, 2·fib(n) − 1. */
export function fibActors(n: number): number {
  return 2 * fibonacci(n) - 1;
}

// ---- troupe:receive -------------------------------------------------------------------------

/** An actor of the tree: waiting for its request, then for its children's answers. */
type FibState =
  | { readonly phase: 'idle' }
  | {
      readonly phase: 'waiting';
      readonly replyTo: ActorRef<Response>;
      readonly answers: number;
      readonly sum: number;
    };

const IDLE: FibState = { phase: 'idle' };

const fibActor = fromReceive<FibState, FibMsg, Response>(IDLE, (state, msg, ctx) => {
  if (msg.type === 'request') {
    if (msg.n <= 2) {
      ctx.reply({ type: 'response', value: 1 });
      ctx.stop();
      return state;
    }
    ctx.spawn(fibActor).tell({ type: 'request', n: msg.n - 1 });
    ctx.spawn(fibActor).tell({ type: 'request', n: msg.n - 2 });
    return { phase: 'waiting', replyTo: ctx.replyTo!, answers: 0, sum: 0 };
  }
  if (state.phase !== 'waiting') throw new Error('fib: an answer before the request');
  const sum = state.sum + msg.value;
  if (state.answers === 0) return { ...state, answers: 1, sum };
  state.replyTo.tell({ type: 'response', value: sum });
  ctx.stop();
  return state;
});

/** Asks the root for fib(n) and hands the answer to `done`. */
function client(root: ActorRef<FibMsg>, n: number, done: (value: number) => void) {
  return fromReceive<null, ClientMsg>(null, (state, msg) => {
    if (msg.type === 'start') root.tell({ type: 'request', n });
    else done(msg.value);
    return state;
  });
}

// ---- the implementations --------------------------------------------------------------------

function onTroupe({ n }: FibParams): Promise<Sample> {
  return withSystem(async (system) => {
    const done = completion<number>(system);
    const root = system.spawn(fibActor);
    const asker = system.spawn(client(root, n, done.resolve));
    await untilIdle(system);
    const t0 = performance.now();
    asker.tell({ type: 'start' });
    const value = await done.promise;
    const seconds = secondsSince(t0);
    expectCount(`fib(${n})`, value, fibonacci(n));
    return { messages: 2 * fibActors(n), seconds };
  });
}

/** Whoever gets a raw actor's answer: its parent, or the asker at the root. */
type Parent = { tell(msg: Response): void };

/** A raw actor of the tree. */
function rawFib(scheduler: RawScheduler, parent: Parent): RawActor<FibMsg> {
  let answers = 0;
  let sum = 0;
  const self: RawActor<FibMsg> = new RawActor(scheduler, (msg: FibMsg) => {
    if (msg.type === 'request') {
      if (msg.n <= 2) parent.tell({ type: 'response', value: 1 });
      else {
        rawFib(scheduler, self).tell({ type: 'request', n: msg.n - 1 });
        rawFib(scheduler, self).tell({ type: 'request', n: msg.n - 2 });
      }
    } else {
      sum += msg.value;
      if (++answers === 2) parent.tell({ type: 'response', value: sum });
    }
  });
  return self;
}

async function onRaw({ n }: FibParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<number>();
  const asker = new RawActor(scheduler, (msg: Response) => resolve(msg.value));
  const t0 = performance.now();
  rawFib(scheduler, asker).tell({ type: 'request', n });
  const value = await promise;
  const seconds = secondsSince(t0);
  expectCount(`fib(${n})`, value, fibonacci(n));
  return { messages: 2 * fibActors(n), seconds };
}

/** Work grows as φⁿ (φ ≈ 1.618): `--scale F` adds round(log_φ F) to n (0.1 → −5). */
const PHI = (1 + Math.sqrt(5)) / 2;

export const fib: Benchmark<FibParams> = {
  name: 'fib',
  describe: (p) =>
    `fib(${p.n}) by a tree of ${fibActors(p.n).toLocaleString('en')} actors, request and answer each`,
  unit: 'msgs/s',
  params: { full: { n: 25 }, quick: { n: 20 } },
  scale: (p, f) => ({ n: Math.max(3, p.n + Math.round(Math.log(f) / Math.log(PHI))) }),
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe,
  },
};
