/**
 * Entities on one node (no Redis: the embedded directory and in-memory snapshots): the first
 * message activates, an idle entity is passivated and comes back from its snapshot, bad kinds
 * and ids are refused naming the field, and a kind nobody defined is a dead letter with a
 * typed error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSystem,
  fromReceive,
  InvalidOptionError,
  type ActorRef,
  type ActorSystem,
  type DeadLetter,
} from '../../index.ts';
import { EntityNotDefinedError } from '../../runtime/cluster/entities.ts';
import { ACTIVATIONS_KEPT, LocalDirectory } from '../../runtime/cluster/directory.ts';
import { until } from '../support/until.ts';

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

function system(): ActorSystem {
  const s = createSystem();
  systems.push(s);
  return s;
}

type Msg =
  | { type: 'add'; n: number }
  | { type: 'get' }
  | { type: 'who' }
  | { type: 'remind'; inMs: number; n: number };

/** A persistent tally: its state is its snapshot. */
const tally = fromReceive<number, Msg, number | string>(
  0,
  (sum, m, ctx) => {
    if (m.type === 'add') return sum + m.n;
    if (m.type === 'remind') {
      ctx.remindAt(Date.now() + m.inMs, { type: 'add', n: m.n });
      return sum;
    }
    ctx.reply(m.type === 'get' ? sum : ctx.self.path);
    return sum;
  },
  { persist: (s) => s, restore: (s) => s as number },
);

describe('LocalDirectory', () => {
  it('counts the activations of the latest ACTIVATIONS_KEPT entities, not of every entity ever', async () => {
    const dir = new LocalDirectory('n1');
    const activate = async (id: string) => {
      const claim = await dir.claim('k', id);
      await dir.release('k', id, claim.epoch);
    };
    await activate('first');
    await activate('first');
    for (let i = 0; i < ACTIVATIONS_KEPT - 1; i++) await activate(`e${i}`);
    // 'first' is the oldest of ACTIVATIONS_KEPT: still counted
    expect(dir.activations.get('k/first')).toBe(2);
    expect(dir.activations.size).toBe(ACTIVATIONS_KEPT);
    // activated again, it is the latest: the next new entity drops e0, not it
    await activate('first');
    await activate('one-more');
    expect(dir.activations.size).toBe(ACTIVATIONS_KEPT);
    expect(dir.activations.get('k/first')).toBe(3);
    expect(dir.activations.has('k/e0')).toBe(false);
    expect(dir.activations.get('k/e1')).toBe(1);
  });
});

describe('entities on one node', () => {
  it('activates an entity on its first message, once, and answers by kind and id', async () => {
    const s = system();
    s.define('tally', tally);
    const a = s.entity('tally', 'alice') as ActorRef<Msg, number>;
    expect(a.address).toBe('troupe:entity/tally/alice');
    a.tell({ type: 'add', n: 2 });
    a.tell({ type: 'add', n: 3 });
    expect(await a.ask({ type: 'get' })).toBe(5);
    // another ref to the same entity reaches the same activation
    expect(await s.entity('tally', 'alice').ask({ type: 'get' })).toBe(5);
    expect(await s.entity('tally', 'bob').ask({ type: 'get' })).toBe(0);
    const dir = s.entities.directory as LocalDirectory;
    expect(dir.activations.get('tally/alice')).toBe(1);
    expect(dir.activations.get('tally/bob')).toBe(1);
    // ids of any characters
    const odd = s.entity('tally', 'a/b c:é');
    odd.tell({ type: 'add', n: 1 });
    expect(await odd.ask({ type: 'get' })).toBe(1);
  });

  it('takes ids of any length, and one entity whatever the spelling of its address', async () => {
    const s = system();
    s.define('tally', tally);
    const long = s.entity('tally', 'x'.repeat(1_000)) as ActorRef<Msg, number>;
    long.tell({ type: 'add', n: 4 });
    expect(await long.ask({ type: 'get' })).toBe(4);
    s.entity('tally', 'a').tell({ type: 'add', n: 1 });
    const spelt = s.refOf('troupe:entity/tally/%61' as never) as ActorRef<Msg, number>;
    expect(await spelt.ask({ type: 'get' })).toBe(1);
    expect((s.entities.directory as LocalDirectory).activations.get('tally/a')).toBe(1);
  });

  it('passivates an idle entity and reactivates it from its snapshot on its next message', async () => {
    const s = system();
    s.define('tally', tally, { passivateAfterMs: 50 });
    const a = s.entity('tally', 'x') as ActorRef<Msg, number>;
    a.tell({ type: 'add', n: 7 });
    expect(await a.ask({ type: 'get' })).toBe(7);
    expect(s.entities.activeCount).toBe(1);
    await until(() => s.entities.activeCount === 0, 2_000);
    // its next message brings it back, from the snapshot
    a.tell({ type: 'add', n: 1 });
    expect(await a.ask({ type: 'get' })).toBe(8);
    expect((s.entities.directory as LocalDirectory).activations.get('tally/x')).toBe(2);
  });

  it('wakes a passivated entity with its reminder, from its snapshot', async () => {
    const s = system();
    s.define('tally', tally, { passivateAfterMs: 30 });
    const a = s.entity('tally', 'sleepy') as ActorRef<Msg, number>;
    a.tell({ type: 'add', n: 1 });
    a.tell({ type: 'remind', inMs: 300, n: 10 });
    expect(await a.ask({ type: 'get' })).toBe(1);
    await until(() => s.entities.activeCount === 0, 2_000);
    const dir = s.entities.directory as LocalDirectory;
    expect(dir.activations.get('tally/sleepy')).toBe(1);
    // the reminder brings it back and is handled
    await until(() => dir.activations.get('tally/sleepy') === 2, 3_000);
    expect(await a.ask({ type: 'get' })).toBe(11);
  });

  it('refuses a reminder outside an entity, and a bad time', async () => {
    const s = system();
    s.define('tally', tally);
    const codes = s.spawn(
      fromReceive<null, number | Date, string>(null, (st, time, ctx) => {
        try {
          ctx.remindAt(time, 'x' as never);
          ctx.reply('ok');
        } catch (e) {
          ctx.reply((e as { code?: string }).code ?? String(e));
        }
        return st;
      }),
    );
    expect(await codes.ask(Date.now())).toBe('ERR_NOT_AN_ENTITY');
    const bad = s.entity('tally', 'b') as ActorRef<Msg, number>;
    const dead: DeadLetter[] = [];
    s.deadLetters.subscribe((d) => dead.push(d));
    bad.tell({ type: 'remind', inMs: Number.NaN, n: 1 });
    await until(() => dead.length > 0);
    expect(dead[0]!.reason).toBe('failed');
    expect(String(dead[0]!.error)).toMatch(/time/);
  });

  it('refuses bad kinds, ids and options, naming the field', () => {
    const s = system();
    expect(() => s.define('bad kind', tally)).toThrow(InvalidOptionError);
    expect(() => s.define('k', {} as never)).toThrow(/behaviour/);
    expect(() => s.define('k', tally, { passivateAfterMs: -1 })).toThrow(/passivateAfterMs/);
    expect(() => s.define('k', tally, { placement: 'random' as never })).toThrow(/placement/);
    expect(() => s.define('k', tally, { nope: 1 } as never)).toThrow(/options\.nope/);
    s.define('k', tally);
    expect(() => s.define('k', tally)).toThrow(/not defined yet/);
    expect(() => s.entity('k', '')).toThrow(/id/);
    expect(() => s.entity('no/kind', 'x')).toThrow(/kind/);
  });

  it('sends a message for a kind nobody defined to dead letters, with EntityNotDefinedError', async () => {
    const s = system();
    const dead: DeadLetter[] = [];
    s.deadLetters.subscribe((d) => dead.push(d));
    s.entity('ghost', '1').tell('boo');
    await until(() => dead.length === 1);
    expect(dead[0]!.reason).toBe('unknown-actor');
    expect(dead[0]!.error).toBeInstanceOf(EntityNotDefinedError);
    expect(dead[0]!.message).toBe('boo');
  });
});
