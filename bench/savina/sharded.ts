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
 * And the `troupe:receive@2shards-partitioned` implementations of big and forkjoin-throughput:
 * the same work split in two halves, one per shard, that talk within their half (what using
 * every core gives a workload that partitions; only the final reports cross):
 * - big: each shard runs half the actors, whose neighbours are the actors of their half;
 * - forkjoin-throughput: each shard runs half the workers and a producer of its own, which
 *   sends its workers their messages (Savina's loop), then asks them for their counts and
 *   reports the total.
 *
 * The behaviours are portable (exports of this module, which each shard imports); the end of
 * a run is reported to a collector actor on the main thread. Starting the worker thread and
 * spawning the actors happen before the clock starts. Each run starts a new worker thread,
 * whose code is not compiled yet and whose heap has not grown: counting, big and
 * forkjoin-throughput first do the same work WARM_ROUNDS times on the same actors (warm-up
 * rounds, not measured; the harness's own warm-up run only warms the main thread: measured,
 * a second round still ran about twice as slow as a third on this 2-core machine, its
 * optimised code not ready yet), so that the figure is the shards' speed rather than the
 * compiler's. The latency-bound pingpong and threadring do
 * not (a hop costs a thread wake-up, tens of µs, whatever the compiler did).
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

/** Warm-up rounds of a run, each the measured round's work. */
const WARM_ROUNDS = 2;

/** The actors' reports, gathered on the main thread: `next(n)` waits for the next `n`. */
interface Collector {
  readonly ref: ActorRef<Done>;
  next(n: number): Promise<Done[]>;
}

/** Runs `body` on a fresh two-shard system; a dead letter fails the run. */
async function withShards<T>(body: (system: ActorSystem, c: Collector) => Promise<T>): Promise<T> {
  const system = createSystem({ shards: SHARDS });
  const lost = Promise.withResolvers<never>();
  lost.promise.catch(() => undefined); // observed through next()
  system.deadLetters.subscribe((letter) => lost.reject(new LostMessageError(letter)));
  const got: Done[] = [];
  let want = 0;
  let wake: ((d: Done[]) => void) | null = null;
  const ref = system.spawn(
    fromReceive<null, Done>(null, (s, m) => {
      got.push(m);
      if (wake !== null && got.length >= want) {
        const w = wake;
        wake = null;
        w(got.splice(0, want));
      }
      return s;
    }),
    { shard: 0 },
  );
  const next = (n: number): Promise<Done[]> =>
    Promise.race([
      new Promise<Done[]>((resolve) => {
        want = n;
        if (got.length >= n) resolve(got.splice(0, n));
        else wake = resolve;
      }),
      lost.promise,
    ]);
  try {
    return await body(system, { ref, next });
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
  return withShards(async (system, collector) => {
    const c = system.spawn(shardedCounter, { shard: 1, mailbox: { capacity: Infinity } });
    const producer = system.spawn(shardedProducer, { shard: 0 }) as ActorRef<ProducerMsg>;
    const start = (n: number): void => {
      producer.tell({ type: 'start', to: c as ActorRef<CountMsg>, n, done: collector.ref });
    };
    for (let r = 0; r < WARM_ROUNDS; r++) {
      start(p.messages);
      await collector.next(1);
    }
    const t0 = performance.now();
    start(p.messages);
    const [done] = await collector.next(1);
    const seconds = secondsSince(t0);
    expectCount('counter total', done!.count, (WARM_ROUNDS + 1) * p.messages);
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
  return withShards(async (system, collector) => {
    const players = Array.from(
      { length: actors },
      (_, i) => system.spawn(shardedPlayer, { shard: i % SHARDS }) as ActorRef<PlayerMsg, boolean>,
    );
    await Promise.all(
      players.map((pl, i) =>
        pl.ask(
          { type: 'init', next: players[(i + 1) % actors]!, done: collector.ref },
          { timeout: ASK_MS },
        ),
      ),
    );
    const t0 = performance.now();
    players[0]!.tell({ type: 'ball', left: hops - 1 });
    const [done] = await collector.next(1);
    const seconds = secondsSince(t0);
    expectCount('ball at the end', done!.count, 0);
    return { messages: hops, seconds };
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

/**
 * big over two shards: actor i on shard i % 2; `group` says who its neighbours are (all the
 * actors, or those of its shard) and its index among them.
 */
async function runBig(
  p: { actors: number; pings: number },
  group: (
    i: number,
    actors: ActorRef<BigMsg, boolean>[],
  ) => { peers: ActorRef<BigMsg>[]; index: number },
): Promise<Sample> {
  return withShards(async (system, collector) => {
    const actors = Array.from(
      { length: p.actors },
      (_, i) => system.spawn(shardedBig, { shard: i % SHARDS }) as ActorRef<BigMsg, boolean>,
    );
    const round = async (pings: number): Promise<number> => {
      await Promise.all(
        actors.map((a, i) =>
          a.ask(
            { type: 'init', ...group(i, actors), pings, done: collector.ref },
            { timeout: ASK_MS },
          ),
        ),
      );
      const t0 = performance.now();
      for (const a of actors) a.tell({ type: 'start' });
      const reports = await collector.next(p.actors);
      const seconds = secondsSince(t0);
      expectCount('actors finished', reports.length, p.actors);
      return seconds;
    };
    for (let r = 0; r < WARM_ROUNDS; r++) await round(p.pings);
    const seconds = await round(p.pings);
    return { messages: 2 * p.actors * p.pings + p.actors, seconds };
  });
}

export const bigSharded = (p: { actors: number; pings: number }): Promise<Sample> =>
  runBig(p, (i, actors) => ({ peers: actors, index: i }));

/** big in two halves: an actor's neighbours are the actors of its shard. */
export const bigPartitioned = (p: { actors: number; pings: number }): Promise<Sample> =>
  runBig(p, (i, actors) => ({
    peers: actors.filter((_, j) => j % SHARDS === i % SHARDS),
    index: Math.floor(i / SHARDS),
  }));

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

/** forkjoin-throughput's workers, alternating shards, with unbounded mailboxes. */
function spawnWorkers(system: ActorSystem, actors: number): ActorRef<WorkerMsg, number>[] {
  return Array.from(
    { length: actors },
    (_, i) =>
      system.spawn(shardedWorker, {
        shard: i % SHARDS,
        mailbox: { capacity: Infinity },
      }) as ActorRef<WorkerMsg, number>,
  );
}

export async function forkjoinThroughputSharded(p: {
  actors: number;
  messages: number;
}): Promise<Sample> {
  return withShards(async (system, collector) => {
    const workers = spawnWorkers(system, p.actors);
    // the collector also stands for the lost-message check
    const counts = (): Promise<number[]> =>
      Promise.race([
        Promise.all(workers.map((w) => w.ask(COUNT, { timeout: ASK_MS }))),
        collector.next(1).then(() => [] as number[]),
      ]);
    for (let r = 0; r < WARM_ROUNDS; r++) {
      for (let m = 0; m < p.messages; m++) for (const w of workers) w.tell(WORK);
      await counts();
    }
    const t0 = performance.now();
    for (let m = 0; m < p.messages; m++) for (const w of workers) w.tell(WORK);
    const after = await counts();
    const seconds = secondsSince(t0);
    expectCount('workers answering', after.length, p.actors);
    for (const c of after) expectCount('worker count', c, (WARM_ROUNDS + 1) * p.messages);
    return { messages: p.actors * p.messages, seconds };
  });
}

type ProducerCmd =
  | { type: 'start'; workers: ActorRef<WorkerMsg>[]; messages: number; done: ActorRef<Done> }
  | number;

interface ProducerState {
  answers: number;
  total: number;
  expected: number;
  done: ActorRef<Done> | null;
}

/** Sends its workers their messages, then asks each for its count and reports the total. */
export const shardedProducerOfWork = portable(
  import.meta.url,
  'shardedProducerOfWork',
  fromReceive<ProducerState, ProducerCmd>(
    () => ({ answers: 0, total: 0, expected: 0, done: null }),
    (s, msg) => {
      if (typeof msg === 'number') {
        // a worker's count (its answer to COUNT)
        s.total += msg;
        if (++s.answers === s.expected) s.done!.tell({ type: 'done', count: s.total });
        return s;
      }
      s.answers = 0;
      s.total = 0;
      s.expected = msg.workers.length;
      s.done = msg.done;
      for (let m = 0; m < msg.messages; m++) for (const w of msg.workers) w.tell(WORK);
      for (const w of msg.workers) w.tell(COUNT);
      return s;
    },
  ),
);

/** forkjoin-throughput in two halves: each shard's producer feeds the workers of its shard. */
export async function forkjoinThroughputPartitioned(p: {
  actors: number;
  messages: number;
}): Promise<Sample> {
  return withShards(async (system, collector) => {
    const workers = spawnWorkers(system, p.actors);
    const producers = Array.from(
      { length: SHARDS },
      (_, s) => system.spawn(shardedProducerOfWork, { shard: s }) as ActorRef<ProducerCmd>,
    );
    const round = async (messages: number): Promise<number> => {
      // the other shard's first: its start leaves at the end of this turn, before this
      // thread's producer runs (a local tell would run it first, and the other half wait)
      for (let s = SHARDS - 1; s >= 0; s--)
        producers[s]!.tell({
          type: 'start',
          workers: workers.filter((_, i) => i % SHARDS === s),
          messages,
          done: collector.ref,
        });
      const reports = await collector.next(SHARDS);
      return reports.reduce((sum, r) => sum + r.count, 0);
    };
    for (let r = 0; r < WARM_ROUNDS; r++) await round(p.messages);
    const t0 = performance.now();
    const total = await round(p.messages);
    const seconds = secondsSince(t0);
    // the counts are the workers' totals: the warm-up rounds' messages and these
    expectCount('work done', total, (WARM_ROUNDS + 1) * p.actors * p.messages);
    return { messages: p.actors * p.messages, seconds };
  });
}
