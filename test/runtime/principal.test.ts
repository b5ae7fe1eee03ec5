/**
 * The principal a message acts for (runtime/core/principal.ts): stamped copies only, narrowing
 * only narrows, and it rides with what an actor sends while it handles such a message: in its
 * thread, across threads, through the envelope.
 */
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../../index.ts';
import {
  InvalidPrincipalError,
  grants,
  isStamped,
  narrowPrincipal,
  stampPrincipal,
} from '../../runtime/core/principal.ts';
import { InvalidEnvelopeError, open, seal } from '../../runtime/core/boundary.ts';
import { MessageMeta } from '../../runtime/core/envelope.ts';
import { chain, type ChainMsg, type Seen } from '../fixtures/principal-behaviours.ts';
import { until } from '../support/until.ts';

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

function system(options: Parameters<typeof createSystem>[0] = {}): ActorSystem {
  const s = createSystem(options);
  systems.push(s);
  return s;
}

function collector(sys: ActorSystem): { ref: ActorRef<Seen>; seen: Seen[] } {
  const seen: Seen[] = [];
  const ref = sys.spawn(
    fromReceive<null, Seen>(null, (s, m) => {
      seen.push(m);
      return s;
    }),
  );
  return { ref, seen };
}

describe('stamped principals', () => {
  it('stamps a frozen deep copy, and refuses one without a string id or with bad scopes', () => {
    const given = { id: 'alice', scopes: ['read'], org: { name: 'acme' } };
    const p = stampPrincipal(given);
    expect(p).toEqual(given);
    expect(p).not.toBe(given);
    expect(isStamped(p)).toBe(true);
    expect(isStamped(given)).toBe(false);
    expect(Object.isFrozen(p) && Object.isFrozen(p.org) && Object.isFrozen(p.scopes)).toBe(true);
    // stamping a stamped one gives it back
    expect(stampPrincipal(p)).toBe(p);
    for (const bad of [null, 'alice', [], {}, { id: 7 }, { id: '' }, { id: 'a', scopes: [1] }])
      expect(() => stampPrincipal(bad)).toThrow(InvalidPrincipalError);
  });

  it('narrows: keeps only scopes both hold; one without scopes narrows to the given ones', () => {
    const p = stampPrincipal({ id: 'alice', scopes: ['read', 'write'] });
    const n = narrowPrincipal(p, ['write', 'admin']);
    expect(n.scopes).toEqual(['write']);
    expect(isStamped(n)).toBe(true);
    expect(narrowPrincipal(stampPrincipal({ id: 'bob' }), ['read']).scopes).toEqual(['read']);
    expect(grants(n, 'write')).toBe(true);
    expect(grants(n, 'admin')).toBe(false);
    expect(grants(stampPrincipal({ id: 'carol' }), 'anything')).toBe(true);
    expect(() => narrowPrincipal({ id: 'mallory', scopes: ['x'] }, ['x'])).toThrow(
      InvalidPrincipalError,
    );
  });
});

describe('the principal rides with what its message causes', () => {
  it('reaches every actor down a chain of plain tells, and only for that message', async () => {
    const sys = system();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => sys.spawn(chain, { name })) as ActorRef<
      ChainMsg,
      Seen
    >[];
    const out = collector(sys);
    const alice = stampPrincipal({ id: 'alice' });
    // the ask acts for alice: a tells b, b tells c, c reports
    await a!.ask(
      { type: 'chain', via: [b!, c!], report: out.ref, ack: true },
      { principal: alice },
    );
    await until(() => out.seen.length === 1);
    expect(out.seen[0]).toMatchObject({ id: 'alice', stamped: true, frozen: true });
    // the next message acts for nobody: nothing is left over from the last
    a!.tell({ type: 'chain', via: [b!, c!], report: out.ref });
    await until(() => out.seen.length === 2);
    expect(out.seen[1]!.id).toBeNull();
    b!.tell({ type: 'later', report: out.ref });
    await until(() => out.seen.length === 3);
    expect(out.seen[2]!.id).toBeNull();
  });

  it('carries it on an ask made in the turn; a forged one is refused', async () => {
    const sys = system();
    const a = sys.spawn(chain, { name: 'a' }) as ActorRef<ChainMsg, Seen>;
    const b = sys.spawn(chain, { name: 'b' }) as ActorRef<ChainMsg, Seen>;
    const bob = stampPrincipal({ id: 'bob' });
    expect(await a.ask({ type: 'ask-who', of: b }, { principal: bob })).toMatchObject({
      id: 'bob',
    });
    // from host code, an ask acts for nobody unless given a stamped principal
    expect((await b.ask({ type: 'who' })).id).toBeNull();
    await expect(b.ask({ type: 'who' }, { principal: { id: 'bob' } })).rejects.toBeInstanceOf(
      InvalidPrincipalError,
    );
    // a behaviour's own copy is not a principal either
    await expect(
      b.ask({ type: 'who' }, { principal: { ...bob } as typeof bob }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_PRINCIPAL' });
  });

  it('crosses threads: actors on two worker shards see it, stamped again on each', async () => {
    const sys = system({ shards: 3 });
    const a = sys.spawn(chain, { name: 'a', shard: 1 }) as ActorRef<ChainMsg, Seen>;
    const b = sys.spawn(chain, { name: 'b', shard: 2 }) as ActorRef<ChainMsg, Seen>;
    const out = collector(sys);
    const carol = stampPrincipal({ id: 'carol', scopes: ['read'] });
    await a.ask({ type: 'chain', via: [b], report: out.ref, ack: true }, { principal: carol });
    await until(() => out.seen.length === 1);
    expect(out.seen[0]).toMatchObject({ id: 'carol', stamped: true, frozen: true });
    expect(out.seen[0]!.thread).not.toBe(threadId);
    // and an ask from a worker shard to the main thread's actor
    const m = sys.spawn(chain, { name: 'm' }) as ActorRef<ChainMsg, Seen>;
    const r = await a.ask({ type: 'ask-who', of: m }, { principal: carol });
    expect(r).toMatchObject({ id: 'carol', stamped: true, thread: threadId });
  });

  it('crosses nodes: an actor on the other node sees it, stamped again there', async () => {
    const secret = 'a-secret-of-16-chars-or-more';
    const a = system({ node: { name: 'a' }, secret });
    await a.nodeReady;
    const b = system({
      node: { name: 'b' },
      peers: [{ name: 'a', url: `ws://127.0.0.1:${a.nodes!.net.port}` }],
      secret,
    });
    await b.nodeReady;
    await until(() => a.nodes!.net.isUp('b') && b.nodes!.net.isUp('a'));
    a.spawn(chain, { name: 'far' });
    const far = b.refOf('troupe://a/user/far' as never) as ActorRef<ChainMsg, Seen>;
    const near = b.spawn(chain, { name: 'near' }) as ActorRef<ChainMsg, Seen>;
    const out = collector(b);
    const erin = stampPrincipal({ id: 'erin', scopes: ['x'] });
    // b's actor tells a's actor in its turn, which reports back to b
    await near.ask({ type: 'chain', via: [far], report: out.ref, ack: true }, { principal: erin });
    await until(() => out.seen.length === 1);
    expect(out.seen[0]).toMatchObject({ id: 'erin', stamped: true, frozen: true });
    // and an ask across: the reply says what the far actor saw
    expect(await near.ask({ type: 'ask-who', of: far }, { principal: erin })).toMatchObject({
      id: 'erin',
      stamped: true,
    });
  });

  it('goes in the envelope and is stamped again when it is opened; a bad one is refused', () => {
    const sys = system();
    const to = sys.spawn(chain, { name: 'x' });
    const dave = stampPrincipal({ id: 'dave', scopes: ['a'] });
    const e = seal('user', to, { type: 'who' }, new MessageMeta(null, null, 0, null, dave));
    expect(e.principal).toEqual({ id: 'dave', scopes: ['a'] });
    const opened = open(JSON.parse(JSON.stringify(e)), sys.refOf);
    expect(opened.meta?.principal).toEqual(dave);
    expect(isStamped(opened.meta?.principal)).toBe(true);
    expect(() => open({ ...e, principal: { id: 3 } }, sys.refOf)).toThrow(InvalidEnvelopeError);
  });
});
