/**
 * supervisor-children (issue 21): what a simple-one-for-one supervisor costs per dynamic
 * child. `children` children are started from its template with `startChild` (IN_FLIGHT
 * asks at a time), then retired: every even one finishes by itself (it is told `done` and
 * stops normally; the template is `transient`, so it is not restarted and the supervisor
 * forgets it), every odd one is stopped with `terminateChild` (IN_FLIGHT at a time). The
 * run ends when the supervisor answers `countChildren` with no child left: it has seen
 * every exit.
 *
 * msgs/s is **children/s**: children started and retired per second (each child counted
 * once, its start and its end). The supervisor keeps its dynamic children in a Map keyed by
 * name, so a start and an exit cost O(1) whatever the number of children alive; before
 * that, each exit scanned the list (retiring 20,000 children took 6–8 s).
 *
 * The run fails on any dead letter and checks its counts: every child started once
 * (`init`), stopped once (its stop hook), and none is left.
 */
import {
  countChildren,
  createSystem,
  fromReceive,
  startChild,
  supervise,
  terminateChild,
  whichChildren,
  type ActorRef,
  type SupervisorRef,
} from '../../index.ts';
import { LostMessageError, untilIdle } from '../fresh-system.ts';
import { expectCount, scaleCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';

export interface SupervisorChildrenParams {
  readonly children: number;
}

type ChildMsg = 'done';

/**
 * Requests to the supervisor in flight at once (startChild, then terminateChild waves), well
 * under its mailbox's default capacity (10,000): an ask that does not fit would be a dead letter.
 */
const IN_FLIGHT = 1_000;

/** What the children did, counted outside the actors (the bench reads it). */
interface Tally {
  started: number;
  stopped: number;
}

/** One behaviour for every child: counts its start and its stop, stops itself on `done`. */
function child(tally: Tally) {
  return fromReceive<null, ChildMsg>(
    () => {
      tally.started++;
      return null;
    },
    (state, _msg, ctx) => {
      ctx.stop();
      return state;
    },
    { stop: () => void tally.stopped++ },
  );
}

async function onTroupe({ children }: SupervisorChildrenParams): Promise<Sample> {
  const system = createSystem();
  try {
    const lost = Promise.withResolvers<never>();
    system.deadLetters.subscribe((letter) => lost.reject(new LostMessageError(letter)));
    const tally: Tally = { started: 0, stopped: 0 };
    const behaviour = child(tally);
    const sup: SupervisorRef = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        children: [{ id: 'c', behaviour: () => behaviour, restart: 'transient' }],
      }),
      { name: 'sup' },
    );
    await untilIdle(system);
    const t0 = performance.now();
    const run = async (): Promise<void> => {
      const refs: ActorRef<ChildMsg>[] = [];
      for (let i = 0; i < children; i += IN_FLIGHT) {
        const wave: Promise<ActorRef<ChildMsg> | undefined>[] = [];
        for (let j = i; j < Math.min(children, i + IN_FLIGHT); j++)
          wave.push(startChild<ChildMsg>(sup, undefined));
        for (const ref of await Promise.all(wave)) refs.push(ref!);
      }
      let wave: Promise<void>[] = [];
      for (let i = 0; i < refs.length; i++) {
        if (i % 2 === 0) refs[i]!.tell('done');
        else wave.push(terminateChild(sup, refs[i]!));
        if (wave.length === IN_FLIGHT) {
          await Promise.all(wave);
          wave = [];
        }
      }
      await Promise.all(wave);
      // every child-terminated notice reaches the supervisor before this request
      await untilIdle(system);
      expectCount('children left (countChildren.active)', (await countChildren(sup)).active, 0);
    };
    await Promise.race([run(), lost.promise]);
    const seconds = secondsSince(t0);
    expectCount('children started', tally.started, children);
    expectCount('children stopped', tally.stopped, children);
    expectCount('children the supervisor still lists', (await whichChildren(sup)).length, 0);
    return { messages: children, seconds };
  } finally {
    await system.shutdown();
  }
}

export const supervisorChildren: Benchmark<SupervisorChildrenParams> = {
  name: 'supervisor-children',
  describe: (p) =>
    `${p.children.toLocaleString('en')} children started under a simple-one-for-one supervisor, then retired (half stop by themselves, half by terminateChild)`,
  unit: 'children/s',
  params: { full: { children: 40_000 }, quick: { children: 4_000 } },
  scale: (p, f) => ({ children: scaleCount(p.children, f, 2) }),
  impls: { 'troupe:receive': onTroupe },
};
