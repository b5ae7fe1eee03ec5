/**
 * Nothing is kept for what can never be answered: asks to a node that is down or was never
 * reachable, and watches of its actors, leave no entry behind (bounded memory).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AskDeliveryError, createSystem, type ActorRef, type ActorSystem } from '../../index.ts';

const SECRET = 'a-secret-of-16-chars-or-more';
const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

/** What the system holds for asks: temporary receivers, timers, per-node waiters. */
function held(system: ActorSystem): {
  temps: number;
  timers: number;
  asks: number;
  watches: number;
} {
  const s = system as unknown as { registry: Map<string, unknown>; timers: { size: number } };
  let temps = 0;
  for (const k of s.registry.keys()) if (k.startsWith('/temp/')) temps++;
  return { temps, timers: s.timers.size, ...system.nodes!.waiting };
}

describe('nodes: nothing kept for a node that cannot be reached', () => {
  it('1,000,000 asks to a dead node and to an unknown one all fail at once, keeping nothing', async () => {
    const a = createSystem({
      node: { name: 'a' },
      secret: SECRET,
      // a configured peer that never answers (nothing listens on port 9)
      peers: [{ name: 'dead', url: 'ws://127.0.0.1:9' }],
    });
    systems.push(a);
    await a.nodeReady;
    const before = held(a);
    const dead = a.refOf('troupe://dead/user/x' as never) as ActorRef<string>;
    const ghost = a.refOf('troupe://ghost/user/x' as never) as ActorRef<string>;
    const ASKS = 1_000_000;
    const BATCH = 10_000;
    let failed = 0;
    for (let i = 0; i < ASKS; i += BATCH) {
      const round: Promise<unknown>[] = [];
      for (let j = 0; j < BATCH; j++)
        round.push(
          (j % 2 === 0 ? dead : ghost).ask('q', { timeout: 60_000 }).then(
            () => expect.unreachable('an ask to a node that is down was answered'),
            (e: unknown) => {
              expect(e).toBeInstanceOf(AskDeliveryError);
              failed++;
            },
          ),
        );
      await Promise.all(round);
      // nothing accumulates from one round to the next
      expect(held(a)).toEqual(before);
    }
    expect(failed).toBe(ASKS);
    expect(a.deadLetters.countOf('node-unreachable')).toBe(ASKS);
  }, 120_000);

  it('watches of actors on an unreachable node end at once (node-down) and keep nothing', async () => {
    const a = createSystem({ node: { name: 'a' }, secret: SECRET });
    systems.push(a);
    await a.nodeReady;
    const reasons: string[] = [];
    for (let i = 0; i < 1_000; i++)
      a.watch(a.refOf(`troupe://ghost-${i % 10}/user/x` as never), (t) => reasons.push(t.reason));
    await new Promise((r) => setImmediate(r));
    expect(reasons).toHaveLength(1_000);
    expect(new Set(reasons)).toEqual(new Set(['node-down']));
    expect(a.nodes!.waiting.watches).toBe(0);
  });
});
