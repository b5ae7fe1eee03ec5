/**
 * The router's races between ports (runtime/shards/router.ts), played frame by frame: a real
 * shard in this thread, the other two played by hand (test/support/shard-harness.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { log } from '../fixtures/shard-log.ts';
import { playShards, tick, type Played } from '../support/shard-harness.ts';
import type { ActorRef } from '../../index.ts';

/** The logger of a module already loaded here, or of a slow one loaded by one test only. */
const logger = (): { module: string; export: string } => ({
  module: new URL('../fixtures/shard-log.ts', import.meta.url).href,
  export: 'logger',
});
const slowLogger = (which: 'A' | 'B') => (): { module: string; export: string } => ({
  module: new URL(`../fixtures/shard-log-slow-${which.toLowerCase()}.ts`, import.meta.url).href,
  export: `slowLogger${which}`,
});

const spawnFrame = (path: string, origin: { module: string; export: string }) => ({
  k: 'spawn',
  path,
  parent: '/user',
  spawnId: 1,
  incarnation: 0,
  origin,
  options: {},
});

let shards: Played;
beforeEach(() => {
  log.length = 0;
  shards = playShards();
});
afterEach(() => shards.close());

describe('the router, frame by frame', () => {
  it.each([
    ['its module already loaded', logger],
    ['its module still loading', slowLogger('A')],
  ])(
    'delivers in send order what came before and after the spawn frame that places an actor here (%s)',
    async (_, origin) => {
      // m1 comes from shard 1 before the main thread's spawn frame: shard 2 asks where it goes
      shards.tell(1, '/user/rec', 'm1');
      // the frame crosses a real MessagePort: wait for it rather than a fixed tick (5 ms was
      // at the edge on a loaded machine)
      const t0 = performance.now();
      while (shards.sent(0).frames.length === 0 && performance.now() - t0 < 2_000) await tick(1);
      expect(shards.sent(0).frames).toMatchObject([{ k: 'where', path: '/user/rec' }]);
      shards.control(0, spawnFrame('/user/rec', origin()));
      shards.control(0, { k: 'placed', path: '/user/rec', shard: 2 });
      await tick();
      shards.tell(1, '/user/rec', 'm2');
      await tick();
      // the main thread's answer comes after its spawn frame
      shards.control(0, {
        k: 'route',
        path: '/user/rec',
        prefix: '/user/rec',
        shard: 2,
        placed: true,
      });
      await tick(300);
      expect(log).toEqual(['m1', 'm2']);
      expect(shards.dead).toEqual([]);
    },
  );

  it('does not acknowledge a frame while one of its messages waits for its actor’s spawn', async () => {
    shards.control(0, spawnFrame('/user/rec', slowLogger('B')()));
    shards.control(0, { k: 'placed', path: '/user/rec', shard: 2 });
    await tick();
    shards.tell(1, '/user/rec', 'm1');
    await tick(50); // the module takes 200 ms
    expect(log).toEqual([]);
    expect(shards.sent(1).frames.filter((f) => f.k === 'ack')).toEqual([]);
    await tick(300);
    expect(log).toEqual(['m1']);
    expect(shards.sent(1).frames.filter((f) => f.k === 'ack')).toMatchObject([{ seqs: [1] }]);
  });

  it('makes a message changed after tell so that it no longer packs a dead letter, and keeps the link in step', async () => {
    for (const p of ['/user/a', '/user/b', '/user/c'])
      shards.control(0, { k: 'placed', path: p, shard: 0 });
    await tick();
    const ref = (p: string) => shards.system.refOf(`troupe://n${p}` as never) as ActorRef<unknown>;
    const changed: Record<string, unknown> = { n: 1 };
    ref('/user/a').tell(changed);
    ref('/user/b').tell({ n: 2 });
    changed.big = 2n ** 80n; // the same turn: it is packed at its end
    await tick();
    ref('/user/c').tell({ n: 3 });
    ref('/user/a').tell({ n: 4 });
    await tick();
    expect(shards.sent(0).messages).toEqual([
      { to: 'troupe://n/user/b', body: { n: 2 } },
      { to: 'troupe://n/user/c', body: { n: 3 } },
      { to: 'troupe://n/user/a', body: { n: 4 } },
    ]);
    expect(shards.dead).toMatchObject([
      {
        recipient: 'troupe://n/user/a',
        reason: 'cannot-cross',
        error: expect.objectContaining({ code: 'ERR_NOT_SERIALIZABLE', at: '$.big' }),
      },
    ]);
  });

  it('forgets a placed root learnt from an answer once it is unplaced', async () => {
    shards.control(0, { k: 'placed', path: '/user/p', shard: 0 });
    await tick();
    const c = shards.system.refOf('troupe://n/user/p/c' as never) as ActorRef<unknown>;
    c.tell({ n: 0 }); // deeper than /user/p: shard 2 asks the main thread
    await tick();
    shards.control(0, {
      k: 'route',
      path: '/user/p/c',
      prefix: '/user/p/c',
      shard: 1,
      placed: true,
    });
    await tick();
    expect(shards.sent(1).messages).toEqual([{ to: 'troupe://n/user/p/c', body: { n: 0 } }]);
    shards.control(0, { k: 'unplaced', path: '/user/p/c' });
    await tick();
    // it may live with /user/p now: asked again, not sent to shard 1
    c.tell({ n: 1 });
    await tick();
    expect(shards.sent(1).messages).toHaveLength(1);
    expect(shards.sent(0).frames.filter((f) => f.k === 'where')).toHaveLength(2);
  });

  it('acknowledges the frames whose messages could not wait for a route (the held list was full)', async () => {
    // 10,000 wait for the main thread's answer about /user/nobody (never given here)
    shards.tellMany(
      1,
      '/user/nobody',
      Array.from({ length: 10_000 }, (_, i) => i),
    );
    shards.tell(1, '/user/nobody', 'one more');
    shards.tell(1, '/user/nobody', 'and another');
    const acks = () =>
      shards
        .sent(1)
        .frames.filter((f) => f.k === 'ack')
        .flatMap((f) => f.seqs as number[]);
    // the acknowledgements cross a real MessagePort: wait for them (a fixed 50 ms was too
    // short on a loaded machine), then a little more for any that should not come
    const t0 = performance.now();
    while (acks().length < 2 && performance.now() - t0 < 2_000) await tick(5);
    await tick(20);
    expect(shards.dead.map((d) => d.message)).toEqual(['one more', 'and another']);
    expect(acks().sort()).toEqual([2, 3]); // frame 1 still waits
  });
});
