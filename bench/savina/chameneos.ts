/**
 * chameneos (Savina "Chameneos", from the Computer Language Benchmarks Game): `chameneos`
 * creatures, each with a colour (red, yellow, blue by turns), go to a mall to meet. The mall
 * (a broker actor) keeps at most one creature waiting; when a second arrives it forwards the
 * newcomer's request to the waiting one and counts a meeting. The waiting creature takes the
 * complement of the two colours (the same colour if they match, else the third one), tells
 * the newcomer that colour (`change`), and both go back to the mall. After `meetings`
 * meetings the mall answers every request with `exit`; each creature then fades and reports
 * how many meetings it took part in. The run ends when all have reported; the reports must
 * add up to 2 × meetings.
 *
 * It stresses one hot actor that every other actor talks to (the mall's mailbox holds up to
 * one request per creature) and symmetric messaging between many actors.
 *
 * msgs/s counts every message the actors send each other: `meet` to the mall
 * (chameneos + 2 × meetings), the forwarded `meet` and the `change` (one each per meeting),
 * `exit` and the report (one each per creature): 4 × meetings + 3 × chameneos.
 */
import { fromReceive, type ActorRef } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, scaleCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';

export interface ChameneosParams {
  readonly chameneos: number;
  readonly meetings: number;
}

const RED = 0;
const YELLOW = 1;
const BLUE = 2;
type Colour = typeof RED | typeof YELLOW | typeof BLUE;
const COLOURS: readonly Colour[] = [RED, YELLOW, BLUE];

/** The colour two creatures take when they meet: the same if they match, else the third. */
export function complement(a: Colour, b: Colour): Colour {
  return a === b ? a : ((3 - a - b) as Colour);
}

/** Messages, generic in how a creature is addressed (a troupe ref, a raw actor). */
type Meet<C> = { type: 'meet'; colour: Colour; chameneo: C };
type MallMsg<C> = Meet<C> | { type: 'faded'; meetings: number };
type ChameneoMsg<C> = { type: 'start' } | Meet<C> | { type: 'change'; colour: Colour } | Exit;
type Exit = { type: 'exit' };

const EXIT: Exit = { type: 'exit' };
const START = { type: 'start' } as const;

/** What the mall reports at the end: meetings summed over the creatures, requests it received. */
interface MallReport {
  readonly meetings: number;
  readonly requests: number;
}

function expectedMessages({ chameneos, meetings }: ChameneosParams): number {
  return 4 * meetings + 3 * chameneos;
}

function check(p: ChameneosParams, report: MallReport): void {
  expectCount('meetings reported by the chameneos', report.meetings, 2 * p.meetings);
  expectCount('meeting requests at the mall', report.requests, p.chameneos + 2 * p.meetings);
}

// ---- troupe:receive -------------------------------------------------------------------------

type Ref = ActorRef<ChameneoMsg<Ref>>;

interface Mall {
  waiting: Ref | null;
  meetingsLeft: number;
  requests: number;
  faded: number;
  meetings: number;
}

/** The mall: pairs the creatures, then sends them home; `done` gets the totals. */
function mall(chameneos: number, meetings: number, done: (report: MallReport) => void) {
  const init = (): Mall => ({
    waiting: null,
    meetingsLeft: meetings,
    requests: 0,
    faded: 0,
    meetings: 0,
  });
  return fromReceive<Mall, MallMsg<Ref>>(init, (m, msg) => {
    if (msg.type === 'faded') {
      m.meetings += msg.meetings;
      if (++m.faded === chameneos) done({ meetings: m.meetings, requests: m.requests });
      return m;
    }
    m.requests++;
    if (m.meetingsLeft === 0) msg.chameneo.tell(EXIT);
    else if (m.waiting === null) m.waiting = msg.chameneo;
    else {
      m.meetingsLeft--;
      m.waiting.tell(msg); // the waiting creature meets the newcomer
      m.waiting = null;
    }
    return m;
  });
}

interface Chameneo {
  colour: Colour;
  meetings: number;
}

/** A creature: goes to the mall at start and after every meeting. */
function chameneo(mallRef: ActorRef<MallMsg<Ref>>, colour: Colour) {
  return fromReceive<Chameneo, ChameneoMsg<Ref>>(
    () => ({ colour, meetings: 0 }),
    (c, msg, ctx) => {
      switch (msg.type) {
        case 'start':
          break;
        case 'meet': // the mall paired us with msg.chameneo
          c.colour = complement(c.colour, msg.colour);
          c.meetings++;
          msg.chameneo.tell({ type: 'change', colour: c.colour });
          break;
        case 'change': // the other one told us our new colour
          c.colour = msg.colour;
          c.meetings++;
          break;
        case 'exit':
          mallRef.tell({ type: 'faded', meetings: c.meetings });
          ctx.stop();
          return c;
      }
      mallRef.tell({ type: 'meet', colour: c.colour, chameneo: ctx.self });
      return c;
    },
  );
}

function onTroupe(p: ChameneosParams): Promise<Sample> {
  return withSystem(async (system) => {
    const done = completion<MallReport>(system);
    const mallRef = system.spawn(mall(p.chameneos, p.meetings, done.resolve));
    const creatures: Ref[] = [];
    for (let i = 0; i < p.chameneos; i++)
      creatures.push(system.spawn(chameneo(mallRef, COLOURS[i % 3]!)));
    await untilIdle(system);
    const t0 = performance.now();
    for (const c of creatures) c.tell(START);
    const report = await done.promise;
    const seconds = secondsSince(t0);
    check(p, report);
    return { messages: expectedMessages(p), seconds };
  });
}

// ---- raw ------------------------------------------------------------------------------------

type RawRef = RawActor<ChameneoMsg<RawRef>>;

async function onRaw(p: ChameneosParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<MallReport>();
  let waiting: RawRef | null = null;
  let meetingsLeft = p.meetings;
  let requests = 0;
  let faded = 0;
  let total = 0;
  const mallActor = new RawActor(scheduler, (msg: MallMsg<RawRef>) => {
    if (msg.type === 'faded') {
      total += msg.meetings;
      if (++faded === p.chameneos) resolve({ meetings: total, requests });
      return;
    }
    requests++;
    if (meetingsLeft === 0) msg.chameneo.tell(EXIT);
    else if (waiting === null) waiting = msg.chameneo;
    else {
      meetingsLeft--;
      waiting.tell(msg);
      waiting = null;
    }
  });
  const creatures: RawRef[] = [];
  for (let i = 0; i < p.chameneos; i++) {
    let colour = COLOURS[i % 3]!;
    let meetings = 0;
    const self: RawRef = new RawActor(scheduler, (msg: ChameneoMsg<RawRef>) => {
      switch (msg.type) {
        case 'start':
          break;
        case 'meet':
          colour = complement(colour, msg.colour);
          meetings++;
          msg.chameneo.tell({ type: 'change', colour });
          break;
        case 'change':
          colour = msg.colour;
          meetings++;
          break;
        case 'exit':
          mallActor.tell({ type: 'faded', meetings });
          return;
      }
      mallActor.tell({ type: 'meet', colour, chameneo: self });
    });
    creatures.push(self);
  }
  const t0 = performance.now();
  for (const c of creatures) c.tell(START);
  const report = await promise;
  const seconds = secondsSince(t0);
  check(p, report);
  return { messages: expectedMessages(p), seconds };
}

export const chameneos: Benchmark<ChameneosParams> = {
  name: 'chameneos',
  describe: (p) =>
    `${p.chameneos} chameneos, ${p.meetings.toLocaleString('en')} meetings at a mall actor`,
  unit: 'msgs/s',
  params: {
    full: { chameneos: 100, meetings: 200_000 },
    quick: { chameneos: 100, meetings: 20_000 },
  },
  scale: (p, f) => ({ chameneos: p.chameneos, meetings: scaleCount(p.meetings, f) }),
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe,
  },
};
