/**
 * The ball passers shared by pingpong and threadring: each actor knows one peer (`connect`)
 * and passes the ball on to it; the ball carries the hops still to make, and the actor that
 * receives it at 0 ends the run. Pingpong is two passers that are each other's peer; the
 * thread ring is N passers, each connected to the next.
 *
 * A run of `hops` messages: the bench throws the ball in with `left: hops - 1`, so the
 * receivers see hops - 1, hops - 2, …, 0 (one new ball object per hop, in every
 * implementation).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { assign, createActor, sendTo, setup, type Actor, type AnyActorRef } from 'xstate';
import {
  asTarget,
  fromMachine,
  fromReceive,
  type ActorRef,
  type ActorSystem,
  type Behaviour,
} from '../../index.ts';
import { completion, untilIdle } from '../fresh-system.ts';
import { expectCount, secondsSince, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';

export type Ball = { type: 'ball'; left: number };

// ---- troupe:receive -------------------------------------------------------------------------

export type PasserMsg<Peer> = { type: 'connect'; peer: Peer } | Ball;
type ReceivePasserMsg = PasserMsg<ActorRef<Ball>>;

/** A passer as a plain function: the state is its peer; `finished` runs at the last hop. */
export function passer(finished: () => void) {
  return fromReceive<ActorRef<Ball> | null, ReceivePasserMsg>(null, (peer, msg) => {
    if (msg.type === 'connect') return msg.peer;
    if (msg.left === 0) finished();
    else peer!.tell({ type: 'ball', left: msg.left - 1 });
    return peer;
  });
}

// ---- the XState machine (troupe:machine and xstate) -----------------------------------------

/**
 * A passer as an XState machine; `finished` is provided per run. The same machine runs in
 * troupe (the peer is a troupe ref, `sendTo` tells it) and bare (the peer is an XState actor).
 */
export const passerMachine = setup({
  types: {} as {
    context: { peer: AnyActorRef | null };
    events: PasserMsg<AnyActorRef>;
  },
  actions: {
    finished: () => {
      throw new Error('passerMachine: provide the finished action');
    },
  },
}).createMachine({
  id: 'passer',
  context: { peer: null },
  on: {
    connect: { actions: assign({ peer: ({ event }) => event.peer }) },
    ball: [
      { guard: ({ event }) => event.left === 0, actions: 'finished' },
      {
        actions: sendTo(
          ({ context }) => context.peer!,
          ({ event }): Ball => ({ type: 'ball', left: event.left - 1 }),
        ),
      },
    ],
  },
});

// ---- running a ring of `actors` passers for `hops` hops, per implementation -----------------

/** Pingpong is a ring of two. */
export async function ringOnTroupe(
  system: ActorSystem,
  kind: 'receive' | 'machine',
  actors: number,
  hops: number,
): Promise<Sample> {
  const done = completion<void>(system);
  const finished = () => done.resolve();
  const behaviour: Behaviour<PasserMsg<any>, any, any> = kind === 'receive'
    ? passer(finished)
    : fromMachine(passerMachine.provide({ actions: { finished } }));
  const ring: ActorRef<PasserMsg<any>>[] = [];
  for (let i = 0; i < actors; i++) ring.push(system.spawn(behaviour));
  for (let i = 0; i < actors; i++) {
    const next = ring[(i + 1) % actors]!;
    ring[i]!.tell({ type: 'connect', peer: kind === 'receive' ? next : asTarget(next) });
  }
  await untilIdle(system); // started and connected before the clock starts
  const t0 = performance.now();
  ring[0]!.tell({ type: 'ball', left: hops - 1 });
  await done.promise;
  return { messages: hops, seconds: secondsSince(t0) };
}

export function ringOnXState(actors: number, hops: number): Sample {
  let finishedAt = -1;
  const machine = passerMachine.provide({
    actions: { finished: () => void (finishedAt = performance.now()) },
  });
  const ring: Actor<typeof machine>[] = [];
  for (let i = 0; i < actors; i++) ring.push(createActor(machine).start());
  for (let i = 0; i < actors; i++)
    ring[i]!.send({ type: 'connect', peer: ring[(i + 1) % actors]! });
  const t0 = performance.now();
  // XState delivers synchronously: send returns once the ball has stopped
  ring[0]!.send({ type: 'ball', left: hops - 1 });
  for (const a of ring) a.stop();
  expectCount('balls that reached 0', finishedAt < 0 ? 0 : 1, 1);
  return { messages: hops, seconds: (finishedAt - t0) / 1000 };
}

/** A raw passer: the same protocol as `passer`, the peer in the closure. */
function rawPasser(scheduler: RawScheduler, finished: () => void): RawActor<RawPasserMsg> {
  let peer: RawActor<RawPasserMsg> | null = null;
  return new RawActor(scheduler, (msg: RawPasserMsg) => {
    if (msg.type === 'connect') peer = msg.peer;
    else if (msg.left === 0) finished();
    else peer!.tell({ type: 'ball', left: msg.left - 1 });
  });
}
type RawPasserMsg = { type: 'connect'; peer: RawActor<RawPasserMsg> } | Ball;

export async function ringOnRaw(actors: number, hops: number): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<void>();
  const ring: RawActor<RawPasserMsg>[] = [];
  for (let i = 0; i < actors; i++) ring.push(rawPasser(scheduler, resolve));
  for (let i = 0; i < actors; i++)
    ring[i]!.tell({ type: 'connect', peer: ring[(i + 1) % actors]! });
  await nextTurn(); // the connections are handled before the clock starts
  const t0 = performance.now();
  ring[0]!.tell({ type: 'ball', left: hops - 1 });
  await promise;
  return { messages: hops, seconds: secondsSince(t0) };
}
