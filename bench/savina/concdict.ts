/**
 * concdict (Savina "Concurrent Dictionary"): one dictionary actor holds a Map; `workers`
 * workers each send it `messages` requests, one at a time (request-reply: the next request
 * goes once the answer to the last is in), `writePercent`% of them writes (`set` a random
 * key to a random value, answered with the value) and the rest reads (answered with the
 * value, or -1). After its last answer a worker reports to a sink.
 *
 * It stresses request-reply against one shared actor: the dictionary's mailbox holds up to
 * one request per worker, and every answer is a reply to the asking actor (`ctx.reply`).
 *
 * The dictionary starts with KEYS keys (k → k), keys are drawn uniformly from them (Savina
 * pre-fills 524,287 keys; KEYS keeps the setup short and the map in cache-sized reach for
 * every implementation alike). Randomness is seeded per worker, so every run makes the same
 * requests.
 *
 * msgs/s counts requests, answers and reports: 2 × workers × messages + workers. After the
 * clock the run asks the dictionary for its counts: reads + writes must equal the requests,
 * and its writes the writes the workers made.
 */
import { fromReceive, type ActorRef } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, scaleCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';
import { Random } from './random.ts';

export interface ConcdictParams {
  readonly workers: number;
  /** Requests each worker sends. */
  readonly messages: number;
  /** Share of the requests that are writes, in percent. */
  readonly writePercent: number;
}

/** Keys in the dictionary, pre-filled k → k; requests pick among them uniformly. */
const KEYS = 65_536;

type Write = { type: 'write'; key: number; value: number };
type Read = { type: 'read'; key: number };
type Stats = { type: 'stats' };
type DictMsg = Write | Read | Stats;
type Value = { type: 'value'; value: number };
type DictCounts = { reads: number; writes: number };
type Report = { type: 'report'; answers: number; writes: number };

function prefilled(): Map<number, number> {
  const map = new Map<number, number>();
  for (let k = 0; k < KEYS; k++) map.set(k, k);
  return map;
}

/** A worker's next request (the raw worker draws the same numbers in the same order). */
function request(random: Random, writePercent: number): Write | Read {
  return random.nextInt(100) < writePercent
    ? { type: 'write', key: random.nextInt(KEYS), value: random.next() }
    : { type: 'read', key: random.nextInt(KEYS) };
}

function seed(id: number, p: ConcdictParams): number {
  return id + p.messages + p.writePercent;
}

function check(p: ConcdictParams, workers: Report, dict: DictCounts): void {
  const requests = p.workers * p.messages;
  expectCount('answers received by the workers', workers.answers, requests);
  expectCount('requests handled by the dictionary', dict.reads + dict.writes, requests);
  expectCount('writes handled by the dictionary', dict.writes, workers.writes);
}

function messagesOf(p: ConcdictParams): number {
  return 2 * p.workers * p.messages + p.workers;
}

// ---- troupe:receive -------------------------------------------------------------------------

interface Dictionary {
  readonly map: Map<number, number>;
  reads: number;
  writes: number;
}

/** The dictionary: answers every request with a value; `stats` with its counts. */
const dictionary = fromReceive<Dictionary, DictMsg, Value | DictCounts>(
  () => ({ map: prefilled(), reads: 0, writes: 0 }),
  (d, msg, ctx) => {
    switch (msg.type) {
      case 'write':
        d.map.set(msg.key, msg.value);
        d.writes++;
        ctx.reply({ type: 'value', value: msg.value });
        break;
      case 'read':
        d.reads++;
        ctx.reply({ type: 'value', value: d.map.get(msg.key) ?? -1 });
        break;
      case 'stats':
        ctx.reply({ reads: d.reads, writes: d.writes });
        break;
    }
    return d;
  },
);

type WorkerMsg = { type: 'start' } | Value;

interface Worker {
  readonly random: Random;
  answers: number;
  writes: number;
}

/** Sends a request, waits for its answer, `messages` times; then reports to `sink`. */
function worker(id: number, p: ConcdictParams, dict: ActorRef<DictMsg>, sink: ActorRef<Report>) {
  return fromReceive<Worker, WorkerMsg>(
    () => ({ random: new Random(seed(id, p)), answers: 0, writes: 0 }),
    (w, msg) => {
      if (msg.type === 'value') w.answers++;
      if (w.answers === p.messages) {
        sink.tell({ type: 'report', answers: w.answers, writes: w.writes });
        return w;
      }
      const r = request(w.random, p.writePercent);
      if (r.type === 'write') w.writes++;
      dict.tell(r);
      return w;
    },
  );
}

/** Sums `workers` reports and hands the sum to `done`. */
function sink(workers: number, done: (sum: Report) => void) {
  return fromReceive<Report & { reports: number }, Report>(
    { type: 'report', reports: 0, answers: 0, writes: 0 },
    (s, msg) => {
      const next = {
        type: 'report' as const,
        reports: s.reports + 1,
        answers: s.answers + msg.answers,
        writes: s.writes + msg.writes,
      };
      if (next.reports === workers) done(next);
      return next;
    },
  );
}

function onTroupe(p: ConcdictParams): Promise<Sample> {
  return withSystem(async (system) => {
    const done = completion<Report>(system);
    const dict = system.spawn(dictionary);
    const reports = system.spawn(sink(p.workers, done.resolve));
    const workers = [];
    for (let id = 0; id < p.workers; id++) workers.push(system.spawn(worker(id, p, dict, reports)));
    await untilIdle(system);
    const t0 = performance.now();
    for (const w of workers) w.tell({ type: 'start' });
    const sum = await done.promise;
    const seconds = secondsSince(t0);
    check(p, sum, (await dict.ask({ type: 'stats' })) as DictCounts);
    return { messages: messagesOf(p), seconds };
  });
}

// ---- raw ------------------------------------------------------------------------------------

/** Raw actors have no sender: a request carries the worker to answer. */
type RawRequest = (Write | Read) & { from: RawActor<WorkerMsg> };

async function onRaw(p: ConcdictParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<Report>();
  const map = prefilled();
  const counts: DictCounts = { reads: 0, writes: 0 };
  const dict = new RawActor(scheduler, (msg: RawRequest) => {
    if (msg.type === 'write') {
      map.set(msg.key, msg.value);
      counts.writes++;
      msg.from.tell({ type: 'value', value: msg.value });
    } else {
      counts.reads++;
      msg.from.tell({ type: 'value', value: map.get(msg.key) ?? -1 });
    }
  });
  const sum: Report = { type: 'report', answers: 0, writes: 0 };
  let reports = 0;
  const sinkActor = new RawActor(scheduler, (msg: Report) => {
    sum.answers += msg.answers;
    sum.writes += msg.writes;
    if (++reports === p.workers) resolve(sum);
  });
  const workers: RawActor<WorkerMsg>[] = [];
  for (let id = 0; id < p.workers; id++) {
    const random = new Random(seed(id, p));
    let answers = 0;
    let writes = 0;
    const self: RawActor<WorkerMsg> = new RawActor(scheduler, (msg: WorkerMsg) => {
      if (msg.type === 'value') answers++;
      if (answers === p.messages) {
        sinkActor.tell({ type: 'report', answers, writes });
        return;
      }
      if (random.nextInt(100) < p.writePercent) {
        writes++;
        dict.tell({ type: 'write', key: random.nextInt(KEYS), value: random.next(), from: self });
      } else dict.tell({ type: 'read', key: random.nextInt(KEYS), from: self });
    });
    workers.push(self);
  }
  const t0 = performance.now();
  for (const w of workers) w.tell({ type: 'start' });
  const total = await promise;
  const seconds = secondsSince(t0);
  check(p, total, counts);
  return { messages: messagesOf(p), seconds };
}

export const concdict: Benchmark<ConcdictParams> = {
  name: 'concdict',
  describe: (p) =>
    `${p.workers} workers × ${p.messages.toLocaleString('en')} requests to a dictionary actor, ${p.writePercent}% writes`,
  unit: 'msgs/s',
  params: {
    full: { workers: 20, messages: 10_000, writePercent: 10 },
    quick: { workers: 20, messages: 1_000, writePercent: 10 },
  },
  scale: (p, f) => ({ ...p, messages: scaleCount(p.messages, f) }),
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe,
  },
};
