import { describe, expect, it } from 'vitest';
import { actorContext, fromStore, InMemoryStore, type Terminated } from '../../index.ts';
import { createTestProbe, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

const counterStore = () =>
  fromStore({
    context: { count: 0 },
    on: {
      inc: (ctx, e: { by: number }) => ({ count: ctx.count + e.by }),
      get: (ctx, _e: object, enq) => {
        enq.effect(() => actorContext<unknown, number>().reply(ctx.count));
        return ctx;
      },
      bad: (_ctx, _e: object): { count: number } => {
        throw new Error('bad transition');
      },
    },
  });

describe('fromStore', () => {
  it('handles messages as store events and replies from an effect', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counterStore());
    ref.tell({ type: 'inc', by: 2 });
    ref.tell({ type: 'inc', by: 3 });
    await expect(ref.ask({ type: 'get' })).resolves.toBe(5);
    await system.shutdown();
  });

  it('turns a throwing transition into a failure of the actor', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counterStore());
    const probe = createTestProbe(system);
    probe.watch(ref);
    ref.tell({ type: 'bad' });
    const t = await probe.expectMessage<Terminated>();
    expect(t).toMatchObject({ type: 'troupe.terminated', reason: 'failed' });
    await system.shutdown();
  });

  it('persists its context and starts from it', async () => {
    const store = new InMemoryStore();
    const a = testSystem();
    const ref = a.system.spawn(counterStore(), { name: 'c', persistence: { store } });
    ref.tell({ type: 'inc', by: 4 });
    await settle(a.system);
    await a.system.shutdown();
    const b = testSystem();
    const again = b.system.spawn(counterStore(), { name: 'c', persistence: { store } });
    await expect(again.ask({ type: 'get' })).resolves.toBe(4);
    await b.system.shutdown();
  });

  it('refuses actorContext() outside an actor with ERR_NO_ACTOR_CONTEXT', () => {
    expect(() => actorContext()).toThrow(expect.objectContaining({ code: 'ERR_NO_ACTOR_CONTEXT' }));
  });
});
