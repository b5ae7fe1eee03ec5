/**
 * big (Savina "Big"): `actors` actors, each knowing all the others (itself included). Each
 * sends `pings` pings, one at a time, each to a neighbour picked at random; the neighbour
 * answers with a pong (troupe: `ctx.reply`), and the pong that comes back must be from the
 * neighbour pinged. After its last pong an actor reports to a sink; the run ends when every
 * actor has reported.
 *
 * It stresses many-to-many traffic: every actor talks to every other, with up to one ping
 * in flight per actor, so most turns handle a message or two for an actor that did not just
 * run.
 *
 * msgs/s counts pings, pongs and the reports: 2 × actors × pings + actors. The reports carry
 * each actor's pongs and wrong pongs; the run checks actors × pings pongs, none wrong.
 */
import { fromReceive, type ActorRef } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, scaleCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';
import { Random } from './random.ts';

export interface BigParams {
  readonly actors: number;
  /** Pings each actor sends. */
  readonly pings: number;
}

type Ping = { type: 'ping'; from: number };
type Pong = { type: 'pong'; from: number };
type Report = { type: 'report'; pongs: number; wrong: number };

interface Tally {
  readonly pongs: number;
  readonly wrong: number;
}

function check(p: BigParams, t: Tally): void {
  expectCount('pongs from the pinged neighbour', t.pongs, p.actors * p.pings);
  expectCount('pongs from another neighbour', t.wrong, 0);
}

// ---- troupe:receive -------------------------------------------------------------------------

type BigMsg =
  { type: 'neighbours'; refs: readonly ActorRef<BigMsg, Pong>[] } | { type: 'start' } | Ping | Pong;

interface BigState {
  neighbours: readonly ActorRef<BigMsg, Pong>[];
  readonly random: Random;
  /** The neighbour whose pong we wait for. */
  expected: number;
  pongs: number;
  wrong: number;
}

/** Actor `id`: pings a random neighbour, waits for its pong, `pings` times; then reports. */
function bigActor(id: number, pings: number, sink: ActorRef<Report>) {
  const init = (): BigState => ({
    neighbours: [],
    random: new Random(id),
    expected: -1,
    pongs: 0,
    wrong: 0,
  });
  const pingNext = (s: BigState) => {
    s.expected = s.random.nextInt(s.neighbours.length);
    s.neighbours[s.expected]!.tell({ type: 'ping', from: id });
  };
  return fromReceive<BigState, BigMsg, Pong>(init, (s, msg, ctx) => {
    switch (msg.type) {
      case 'ping':
        ctx.reply({ type: 'pong', from: id });
        break;
      case 'pong':
        if (msg.from === s.expected) s.pongs++;
        else s.wrong++;
        if (s.pongs + s.wrong === pings)
          sink.tell({ type: 'report', pongs: s.pongs, wrong: s.wrong });
        else pingNext(s);
        break;
      case 'start':
        pingNext(s);
        break;
      case 'neighbours':
        s.neighbours = msg.refs;
        break;
    }
    return s;
  });
}

/** Sums `actors` reports and hands the sum to `done`. */
function sink(actors: number, done: (t: Tally) => void) {
  return fromReceive<Tally & { reports: number }, Report>(
    { reports: 0, pongs: 0, wrong: 0 },
    (s, msg) => {
      const next = {
        reports: s.reports + 1,
        pongs: s.pongs + msg.pongs,
        wrong: s.wrong + msg.wrong,
      };
      if (next.reports === actors) done(next);
      return next;
    },
  );
}

function onTroupe(p: BigParams): Promise<Sample> {
  return withSystem(async (system) => {
    const done = completion<Tally>(system);
    const reports = system.spawn(sink(p.actors, done.resolve));
    const refs: ActorRef<BigMsg, Pong>[] = [];
    for (let id = 0; id < p.actors; id++) refs.push(system.spawn(bigActor(id, p.pings, reports)));
    for (const r of refs) r.tell({ type: 'neighbours', refs });
    await untilIdle(system); // started and introduced before the clock starts
    const t0 = performance.now();
    for (const r of refs) r.tell({ type: 'start' });
    const tally = await done.promise;
    const seconds = secondsSince(t0);
    check(p, tally);
    return { messages: 2 * p.actors * p.pings + p.actors, seconds };
  });
}

// ---- raw ------------------------------------------------------------------------------------

/** Raw actors have no sender: a ping names its sender by id, and the pong goes to that id. */
type RawBigMsg = { type: 'start' } | Ping | Pong;

async function onRaw(p: BigParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<Tally>();
  let reports = 0;
  let pongs = 0;
  let wrong = 0;
  const sinkActor = new RawActor(scheduler, (msg: Report) => {
    pongs += msg.pongs;
    wrong += msg.wrong;
    if (++reports === p.actors) resolve({ pongs, wrong });
  });
  const actors: RawActor<RawBigMsg>[] = [];
  for (let id = 0; id < p.actors; id++) {
    const random = new Random(id);
    let expected = -1;
    let ok = 0;
    let bad = 0;
    const pingNext = () => {
      expected = random.nextInt(actors.length);
      actors[expected]!.tell({ type: 'ping', from: id });
    };
    actors.push(
      new RawActor(scheduler, (msg: RawBigMsg) => {
        if (msg.type === 'ping') actors[msg.from]!.tell({ type: 'pong', from: id });
        else if (msg.type === 'pong') {
          if (msg.from === expected) ok++;
          else bad++;
          if (ok + bad === p.pings) sinkActor.tell({ type: 'report', pongs: ok, wrong: bad });
          else pingNext();
        } else pingNext();
      }),
    );
  }
  const t0 = performance.now();
  for (const a of actors) a.tell({ type: 'start' });
  const tally = await promise;
  const seconds = secondsSince(t0);
  check(p, tally);
  return { messages: 2 * p.actors * p.pings + p.actors, seconds };
}

export const big: Benchmark<BigParams> = {
  name: 'big',
  describe: (p) =>
    `${p.actors} actors × ${p.pings.toLocaleString('en')} pings to random neighbours, each answered`,
  unit: 'msgs/s',
  params: { full: { actors: 120, pings: 20_000 }, quick: { actors: 120, pings: 2_000 } },
  scale: (p, f) => ({ actors: p.actors, pings: scaleCount(p.pings, f) }),
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe,
  },
};
