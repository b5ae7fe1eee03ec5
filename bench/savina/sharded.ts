/**
 * The `troupe:receive@2shards` implementations: the same benchmarks with the actors spread
 * over two shards (the main thread and one worker thread), so every message between the two
 * crosses a thread (runtime/shards). They are implementations of counting, pingpong,
 * threadring, big and forkjoin-throughput (bench/suite.ts adds them), with the same params,
 * counts and checks as their one-thread versions.
 *
 * - counting: the producer on shard 0, the counter on shard 1: every increment crosses.
 * - pingpong: one player on each shard: every hop crosses.
 * - threadring: the ring alternates shards: every hop crosses.
 * - big: the actors alternate shards, so about half the pings and pongs cross.
 * - forkjoin-throughput: the producer on shard 0, the workers alternate shards.
 *
 * The behaviours are portable (exports of this module, which each shard imports); the end of
 * a run is reported to a collector actor on the main thread. Starting the worker thread and
 * spawning the actors happen before the clock starts.
 */
import {
  createSystem,
  fromReceive,
  portable,
  type ActorRef,
  type ActorSystem,
} from '../../index.ts';
import { LostMessageError } from '../fresh-system.ts';
import { expectCount, secondsSince, type Sample } from '../harness.ts';
import { Random } from './random.ts';
import { performComputation } from './forkjoin-throughput.ts';

const SHARDS = 2;
const ASK_MS = 60_000;

type Done = { type: 'done'; count: number };

/** Runs `body` on a fresh two-shard system; rejects on the first dead letter. */
async function withShards<T>(
  body: (system: ActorSystem, done: Promise<number>, collector: ActorRef<Done>) => Promise<T>,
): Promise<T> {
  const system = createSystem({ shards: SHARDS });
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  system.deadLetters.subscribe((letter) => reject(new LostMessageError(letter)));
  const collector = system.spawn(
    fromReceive<null, Done>(null, (s, m) => {
      resolve(m.count);
      return s;
    }),
    { shard: 0 },
  );
  try {
    return await body(system, promise, collector);
  } finally {
    await system.shutdown();
  }
}

// ---- counting -------------------------------------------------------------------------------

type CountMsg = { type: 'inc' } | { type: 'get' };
const INC: CountMsg = { type: 'inc' };
const GET: CountMsg = { type: 'get' };

export const shardedCounter = portable(
  import.meta.url,
  'shardedCounter',
  fromReceive<number, CountMsg, Done>(0, (n, msg, ctx) => {
    if (msg.type === 'inc') return n + 1;
    ctx.reply({ type: 'done', count: n });
    return n;
  }),
);

type ProducerMsg =
  { type: 'start'; to: ActorRef<CountMsg>; n: number; done: ActorRef<Done> } | Done;

export const shardedProducer = portable(
  import.meta.url,
  'shardedProducer',
  fromReceive<ActorRef<Done> | null, ProducerMsg>(null, (done, msg) => {
    if (msg.type === 'start') {
      for (let i = 0; i < msg.n; i++) msg.to.tell(INC);
      msg.to.tell(GET);
      return msg.done;
    }
    done?.tell(msg);
    return done;
  }),
);

export async function countingSharded(p: { messages: number }): Promise<Sample> {
  return withShards(async (system, done, collector) => {
    const c = system.spawn(shardedCounter, { shard: 1, mailbox: { capacity: Infinity } });
    const producer = system.spawn(shardedProducer, { shard: 0 }) as ActorRef<ProducerMsg>;
    await (c as ActorRef<CountMsg, Done>).ask(GET, { timeout: ASK_MS }); // the shard is up
    const t0 = performance.now();
    producer.tell({ type: 'start', to: c as ActorRef<CountMsg>, n: p.messages, done: collector });
    const count = await done;
    const seconds = secondsSince(t0);
    expectCount('counter total', count, p.messages);
    return { messages: p.messages, seconds };
  });
}

// ---- pingpong and threadring: a ball passed from player to player ---------------------------

type PlayerMsg =
  | { type: 'init'; next: ActorRef<PlayerMsg>; done: ActorRef<Done> }
  | { type: 'ball'; left: number };

interface Player {
  next: ActorRef<PlayerMsg> | null;
  done: ActorRef<Done> | null;
}

export const shardedPlayer = portable(
  import.meta.url,
  'shardedPlayer',
  fromReceive<Player, PlayerMsg, boolean>(
    () => ({ next: null, done: null }),
    (s, msg, ctx) => {
      if (msg.type === 'init') {
        s.next = msg.next;
        s.done = msg.done;
        ctx.reply(true);
      } else if (msg.left === 0) s.done!.tell({ type: 'done', count: 0 });
      else s.next!.tell({ type: 'ball', left: msg.left - 1 });
      return s;
    },
  ),
);

async function ring(actors: number, hops: number): Promise<Sample> {
  return withShards(async (system, done, collector) => {
    const players = Array.from(
      { length: actors },
      (_, i) => system.spawn(shardedPlayer, { shard: i % SHARDS }) as ActorRef<PlayerMsg, boolean>,
    );
    await Promise.all(
      players.map((pl, i) =>
        pl.ask(
          { type: 'init', next: players[(i + 1) % actors]!, done: collector },
          { timeout: ASK_MS },
        ),
      ),
    );
    const t0 = performance.now();
    players[0]!.tell({ type: 'ball', left: hops - 1 });
    expectCount('ball at the end', await done, 0);
    return { messages: hops, seconds: secondsSince(t0) };
  });
}

export const pingpongSharded = (p: { hops: number }): Promise<Sample> => ring(2, p.hops);
export const threadringSharded = (p: { actors: number; hops: number }): Promise<Sample> =>
  ring(p.actors, p.hops);

// ---- big ------------------------------------------------------------------------------------

type BigMsg =
  | { type: 'init'; peers: ActorRef<BigMsg>[]; index: number; pings: number; done: ActorRef<Done> }
  | { type: 'start' }
  | { type: 'ping'; from: number }
  | { type: 'pong'; from: number };

interface BigState {
  peers: ActorRef<BigMsg>[];
  index: number;
  left: number;
  random: Random | null;
  waitingFor: number;
  done: ActorRef<Done> | null;
}

/** Pings the next random neighbour, or reports when all pings are answered. */
function pingNext(s: BigState): BigState {
  if (s.left === 0) {
    s.done!.tell({ type: 'done', count: 1 });
    return s;
  }
  const r = s.random!.nextInt(s.peers.length);
  s.waitingFor = r;
  s.peers[r]!.tell({ type: 'ping', from: s.index });
  return s;
}

export const shardedBig = portable(
  import.meta.url,
  'shardedBig',
  fromReceive<BigState, BigMsg, boolean>(
    () => ({ peers: [], index: 0, left: 0, random: null, waitingFor: -1, done: null }),
    (s, msg, ctx) => {
      switch (msg.type) {
        case 'init':
          s.peers = msg.peers;
          s.index = msg.index;
          s.left = msg.pings;
          s.random = new Random(msg.index);
          s.done = msg.done;
          ctx.reply(true);
          return s;
        case 'ping':
          ctx.reply({ type: 'pong', from: s.index } as never);
          return s;
        case 'pong':
          if (msg.from !== s.waitingFor)
            throw new Error(`pong from ${msg.from}, not ${s.waitingFor}`);
          s.left--;
          return pingNext(s);
        case 'start':
          return pingNext(s);
      }
    },
  ),
);

export async function bigSharded(p: { actors: number; pings: number }): Promise<Sample> {
  const system = createSystem({ shards: SHARDS });
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  system.deadLetters.subscribe((letter) => reject(new LostMessageError(letter)));
  let finished = 0;
  try {
    const collector = system.spawn(
      fromReceive<null, Done>(null, (s) => {
        if (++finished === p.actors) resolve();
        return s;
      }),
      { shard: 0 },
    );
    const actors = Array.from(
      { length: p.actors },
      (_, i) => system.spawn(shardedBig, { shard: i % SHARDS }) as ActorRef<BigMsg, boolean>,
    );
    await Promise.all(
      actors.map((a, index) =>
        a.ask(
          { type: 'init', peers: actors, index, pings: p.pings, done: collector },
          { timeout: ASK_MS },
        ),
      ),
    );
    const t0 = performance.now();
    for (const a of actors) a.tell({ type: 'start' });
    await promise;
    const seconds = secondsSince(t0);
    expectCount('actors finished', finished, p.actors);
    return { messages: 2 * p.actors * p.pings + p.actors, seconds };
  } finally {
    await system.shutdown();
  }
}

// ---- forkjoin-throughput --------------------------------------------------------------------

type WorkerMsg = { type: 'work' } | { type: 'count' };
const WORK: WorkerMsg = { type: 'work' };
const COUNT: WorkerMsg = { type: 'count' };

export const shardedWorker = portable(
  import.meta.url,
  'shardedWorker',
  fromReceive<number, WorkerMsg, number>(0, (n, msg, ctx) => {
    if (msg.type === 'count') {
      ctx.reply(n);
      return n;
    }
    performComputation(37.2);
    return n + 1;
  }),
);

export async function forkjoinThroughputSharded(p: {
  actors: number;
  messages: number;
}): Promise<Sample> {
  const system = createSystem({ shards: SHARDS });
  const { promise, reject } = Promise.withResolvers<never>();
  system.deadLetters.subscribe((letter) => reject(new LostMessageError(letter)));
  try {
    const workers = Array.from(
      { length: p.actors },
      (_, i) =>
        system.spawn(shardedWorker, {
          shard: i % SHARDS,
          mailbox: { capacity: Infinity },
        }) as ActorRef<WorkerMsg, number>,
    );
    await Promise.all(workers.map((w) => w.ask(COUNT, { timeout: ASK_MS })));
    const t0 = performance.now();
    for (let m = 0; m < p.messages; m++) for (const w of workers) w.tell(WORK);
    const counts = await Promise.race([
      Promise.all(workers.map((w) => w.ask(COUNT, { timeout: ASK_MS }))),
      promise,
    ]);
    const seconds = secondsSince(t0);
    for (const c of counts) expectCount('worker count', c, p.messages);
    return { messages: p.actors * p.messages, seconds };
  } finally {
    await system.shutdown();
  }
}
