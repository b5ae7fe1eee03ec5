import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout } from 'node:timers/promises';
import {
  createSystem,
  fromReceive,
  InvalidOptionError,
  supervise,
  type ActorRef,
  type ActorSystem,
} from '../../index.ts';
import {
  inspectorBehaviour,
  resolveInspectorOptions,
  type ActorDetail,
  type ChildrenPage,
  type InspectorMsg,
  type InspectorView,
} from '../../runtime/inspector/inspector.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';
import { connect, type TroupeClient } from '../../protocol/client/node.ts';
import { until } from '../support/until.ts';
import { board } from '../fixtures/gateway-behaviours.ts';

const systems: ActorSystem[] = [];
const clients: TroupeClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

async function withInspector(sampleMs = 50): Promise<ActorSystem> {
  const s = createSystem({
    gateway: {
      authenticate: () => ({ id: 'x' }),
      authorize: () => true,
      inspector: { sampleMs, topChildren: 3 },
    },
  });
  systems.push(s);
  await s.gateway!.ready;
  return s;
}

const worker = fromReceive(0, (n: number, m: { type: 'work' | 'fail' }) => {
  if (m.type === 'fail') throw new Error('boom');
  return n + 1;
});

describe('the inspector actor', () => {
  it('publishes totals, the top of the tree with subtree sums, rates and the feed, while watched', async () => {
    const s = await withInspector();
    s.spawn(
      supervise({
        strategy: 'one-for-one',
        intensity: 5,
        children: [
          { id: 'a', behaviour: worker },
          { id: 'b', behaviour: worker },
        ],
      }),
      { name: 'team' },
    );
    for (let i = 0; i < 5; i++) s.spawn(worker, { name: `w${i}` });
    const c = connect(s.gateway!.url, { token: 't' });
    clients.push(c);
    let view: InspectorView | null = null;
    await c.subscribe<InspectorView>('/system/inspector', (v) => (view = v)).ready;
    const a = s.refOf(`troupe://${s.nodeId}/user/team/a` as never);
    const tick = setInterval(() => {
      for (let i = 0; i < 50; i++) a.tell({ type: 'work' });
    }, 10);
    try {
      await until(() => (view?.roots[0]?.subtree?.rate ?? 0) > 0);
    } finally {
      clearInterval(tick);
    }
    a.tell({ type: 'fail' });
    await until(() =>
      view!.feed.some((f) => f.type === 'child-restarted' && f.path === '/user/team/a'),
    );
    const v = view!;
    expect(v.node).toBe(s.nodeId);
    // /user, its 6 children and the team's 2; /system and its children
    expect(v.roots.map((r) => r.path)).toEqual(['/user', '/system']);
    expect(v.roots[0]!.subtree!.actors).toBe(1 + 6 + 2);
    expect(v.totals.actors).toBeGreaterThanOrEqual(9 + 2);
    // the top is bounded: 3 of the 6 children, and the count
    expect(v.top['/user']!.total).toBe(6);
    expect(v.top['/user']!.children.map((x) => x.name)).toEqual(['team', 'w0', 'w1']);
    const team = v.top['/user']!.children[0]!;
    expect(team).toMatchObject({ kind: 'supervisor', children: 2 });
    await until(() => (view!.top['/user']!.children[0]!.subtree?.restarts ?? 0) === 1);
    expect(view!.feed.find((f) => f.type === 'child-failed')?.error).toContain('boom');
  });

  it('answers children a page at a time, and an actor with its tapped messages', async () => {
    const s = await withInspector();
    for (let i = 0; i < 12; i++) s.spawn(worker, { name: `w${i}` });
    const insp = s.gateway!.inspector!;
    const page = (await insp.ask({
      type: 'children',
      path: '/user',
      offset: 5,
      limit: 4,
    })) as ChildrenPage;
    expect(page.total).toBe(12);
    expect(page.children.map((x) => x.name)).toEqual(['w5', 'w6', 'w7', 'w8']);
    const none = (await insp.ask({ type: 'children', path: '/user/nobody' })) as ChildrenPage;
    expect(none).toMatchObject({ total: 0, children: [] });
    // the first ask taps it; messages after that are recorded
    const first = (await insp.ask({ type: 'actor', path: '/user/w3' })) as ActorDetail;
    expect(first.info).toMatchObject({ name: 'w3', kind: 'receive', status: 'running' });
    expect(first.messages).toEqual([]);
    const w3 = s.refOf(`troupe://${s.nodeId}/user/w3` as never);
    w3.tell({ type: 'work' });
    w3.tell({ type: 'work' });
    await setTimeout(10);
    const d = (await insp.ask({ type: 'actor', path: '/user/w3' })) as ActorDetail;
    expect(d.messages.map((m) => m.type)).toEqual(['work', 'work']);
    expect(((await insp.ask({ type: 'actor', path: '/user/x' })) as ActorDetail).info).toBeNull();
  });

  it('shows shards as groups, and an actor on another shard by its stand-in', async () => {
    const s = createSystem({
      shards: 2,
      gateway: {
        authenticate: () => ({ id: 'x' }),
        authorize: () => true,
        inspector: { sampleMs: 50 },
      },
    });
    systems.push(s);
    await s.gateway!.ready;
    const far = s.spawn(board, { name: 'far', shard: 1 });
    await far.ask({ type: 'get' });
    const c = connect(s.gateway!.url, { token: 't' });
    clients.push(c);
    let view: InspectorView | null = null;
    await c.subscribe<InspectorView>('/system/inspector', (v) => (view = v)).ready;
    await until(() => (view?.shards.length ?? 0) === 2 && view!.shards[1]!.actors >= 1);
    const row = view!.top['/user']!.children.find((x) => x.name === 'far');
    expect(row).toMatchObject({ shard: 1 });
  });

  it('refuses bad inspector options naming the field; `inspector: false` spawns none', () => {
    for (const [inspector, field] of [
      [{ sampleMs: 0 }, 'options.gateway.inspector.sampleMs'],
      [{ rate: 1 }, 'options.gateway.inspector.rate'],
      ['yes', 'options.gateway.inspector'],
    ] as const) {
      let error: unknown;
      try {
        createSystem({
          gateway: {
            authenticate: () => null,
            authorize: () => true,
            inspector: inspector as never,
          },
        });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).field).toBe(field);
    }
    const s = createSystem({
      gateway: { authenticate: () => null, authorize: () => true, inspector: false },
    });
    systems.push(s);
    expect(s.gateway!.inspector).toBeNull();
  });
});

describe('the inspector against a hostile client (simulated time)', () => {
  /** An inspector sampling every 100 ms, on a simulated clock, and its snapshots counted. */
  function sampled(options: Record<string, unknown> = {}) {
    const t = testSystem();
    systems.push(t.system);
    const insp = t.system.spawnSystemActor(
      inspectorBehaviour(
        resolveInspectorOptions({ sampleMs: 100, ...options }, 'options.gateway.inspector'),
      ),
      { name: 'inspector' },
    ) as ActorRef<InspectorMsg>;
    const views: InspectorView[] = [];
    const watch = () =>
      t.system.subscribe(insp, (u) => {
        if (u.type === 'troupe.snapshot') views.push(u.snapshot as InspectorView);
      });
    const advance = (ms: number) => t.clock.advance(ms, () => settle(t.system));
    return { ...t, insp, views, watch, advance };
  }

  it('samples once per sampleMs however many samples a client asks for', async () => {
    const { insp, views, watch, advance } = sampled();
    watch();
    await advance(0);
    for (let i = 0; i < 150; i++) insp.tell({ type: 'sample' });
    const before = views.length;
    await advance(1_000);
    // one loop: ten samples in a second (151 loops made 1,510)
    expect(views.length - before).toBeGreaterThanOrEqual(9);
    expect(views.length - before).toBeLessThanOrEqual(11);
    const ats = views.slice(before).map((v) => v.at);
    expect(new Set(ats).size).toBe(ats.length);
  });

  it('arms no timer while nobody watches, and wakes with a fresh sample for a new subscriber', async () => {
    const { system, clock, insp, views, watch, advance } = sampled();
    await advance(0);
    const idle = clock.pending;
    const stop = watch();
    await advance(0);
    expect(clock.pending).toBe(idle + 1);
    for (let i = 0; i < 150; i++) insp.tell({ type: 'sample' });
    await advance(500);
    stop();
    await advance(1_000);
    // the loop found no subscriber and was not re-armed; samples asked for now arm nothing
    expect(clock.pending).toBe(idle);
    for (let i = 0; i < 150; i++) insp.tell({ type: 'sample' });
    await advance(10_000);
    expect(clock.pending).toBe(idle);
    const seen = views.length;
    const at = system.clock.now();
    watch();
    await advance(0);
    expect(views.length).toBeGreaterThan(seen);
    expect(views.at(-1)!.at).toBe(at);
  });

  it('taps at most maxTaps actors, ending the one that would end first', async () => {
    const { system, insp, advance } = sampled({ maxTaps: 2, tapMs: 1_000 });
    for (let i = 0; i < 3; i++) system.spawn(worker, { name: `t${i}` });
    await advance(0);
    for (let i = 0; i < 3; i++) {
      await insp.ask({ type: 'actor', path: `/user/t${i}` });
      await advance(10);
    }
    const tapped = [0, 1, 2].map((i) => system.cellAt(`/user/t${i}`)!.tap !== null);
    expect(tapped).toEqual([false, true, true]);
    // nobody watches, yet the taps end on time
    await advance(2_000);
    expect([1, 2].map((i) => system.cellAt(`/user/t${i}`)!.tap)).toEqual([null, null]);
  });
});
