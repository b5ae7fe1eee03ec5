/**
 * Typed refs: checked by `tsc --noEmit` (npm test's type check): each @ts-expect-error below
 * must stay an error, or the type check fails.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { fromReceive, type ActorRef } from '../../index.ts';
import { testSystem } from '../support/system.ts';

type Msg = { type: 'add'; n: number } | { type: 'get' };

describe('typed refs', () => {
  it('tell accepts only the actor’s message type, and ask resolves to its reply type', async () => {
    const { system } = testSystem();
    const counter = system.spawn(
      fromReceive<number, Msg, number>(0, (n, m, ctx) => {
        if (m.type === 'get') ctx.reply(n);
        return m.type === 'add' ? n + m.n : n;
      }),
    );
    expectTypeOf(counter).toEqualTypeOf<ActorRef<Msg, number>>();
    counter.tell({ type: 'add', n: 2 });
    const neverCalled = (): void => {
      // @ts-expect-error: not a message of this actor
      counter.tell({ type: 'mul', n: 2 });
      // @ts-expect-error: n must be a number
      counter.tell({ type: 'add', n: '2' });
    };
    expect(typeof neverCalled).toBe('function');
    const got = await counter.ask({ type: 'get' });
    expectTypeOf(got).toEqualTypeOf<number>();
    expect(got).toBe(2);
    await system.shutdown();
  });

  it('ctx.reply accepts only the reply type', () => {
    fromReceive<null, Msg, number>(null, (s, _m, ctx) => {
      // @ts-expect-error: the reply type is number
      ctx.reply('two');
      return s;
    });
  });
});
