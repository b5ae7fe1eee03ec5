import { describe, expect, it } from 'vitest';
import { ASK_TIMEOUT_MS, fromReceive, type ActorRef } from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type Q = { type: 'get' } | { type: 'boom' };

/** Counts `get`s and answers with the count; fails on `boom`. */
function holder() {
  return fromReceive<number, Q, number>(0, (n, msg, ctx) => {
    if (msg.type === 'boom') throw new Error('boom');
    ctx.reply(n + 1);
    return n + 1;
  });
}

describe('ask', () => {
  it('resolves with the reply', async () => {
    const { system } = testSystem();
    const ref = system.spawn(holder());
    await expect(ref.ask({ type: 'get' })).resolves.toBe(1);
    await expect(ref.ask({ type: 'get' })).resolves.toBe(2);
    await system.shutdown();
  });

  it('rejects with AskTimeoutError when no reply comes within the timeout, and sends the late reply to dead letters', async () => {
    const { system, clock } = testSystem();
    const slow = system.spawn(
      fromReceive<ActorRef<number> | undefined, 'q' | 'answer', number>(
        undefined,
        (saved, m, ctx) => {
          if (m === 'q') return ctx.replyTo; // answer later
          saved?.tell(42);
          return undefined;
        },
      ),
    );
    const outcome = slow
      .ask('q', { timeout: 1_000 })
      .catch((e: { code: string; timeoutMs: number }) => e);
    await clock.advance(999);
    expect(system.timers.size).toBe(1);
    await clock.advance(1);
    await expect(outcome).resolves.toMatchObject({ code: 'ERR_ASK_TIMEOUT', timeoutMs: 1_000 });
    slow.tell('answer');
    await settle(system);
    expect(system.deadLetters.recent()).toMatchObject([{ message: 42, reason: 'ask-timed-out' }]);
    await system.shutdown();
  });

  it('lets an actor keep ctx.replyTo and answer after other messages', async () => {
    const { system } = testSystem();
    const later = system.spawn(
      fromReceive<ActorRef<string> | undefined, 'q' | 'answer', string>(
        undefined,
        (saved, m, ctx) => {
          if (m === 'q') return ctx.replyTo;
          saved?.tell('done');
          return undefined;
        },
      ),
    );
    const p = later.ask('q');
    later.tell('answer');
    await expect(p).resolves.toBe('done');
    await system.shutdown();
  });

  it('uses ASK_TIMEOUT_MS by default', async () => {
    const { system, clock } = testSystem();
    const mute = system.spawn(fromReceive(null, (s, _m: string) => s));
    const outcome = mute.ask('q').catch((e: { code: string; timeoutMs: number }) => e);
    await clock.advance(ASK_TIMEOUT_MS - 1);
    await settle(system);
    let settled = false;
    void outcome.then(() => (settled = true));
    await settle(system);
    expect(settled).toBe(false);
    await clock.advance(1);
    await expect(outcome).resolves.toMatchObject({
      code: 'ERR_ASK_TIMEOUT',
      timeoutMs: ASK_TIMEOUT_MS,
    });
    await system.shutdown();
  });

  it('shares one timer structure: a thousand pending asks arm one clock timer', async () => {
    const { system, clock } = testSystem();
    const mute = system.spawn(fromReceive(null, (s, _m: number) => s));
    const all = [];
    for (let i = 0; i < 1000; i++)
      all.push(mute.ask(i, { timeout: 100 + i }).catch(() => 'timeout'));
    expect(system.timers.size).toBe(1000);
    expect(clock.pending).toBe(1);
    await clock.advance(2000);
    expect(await Promise.all(all)).toEqual(Array(1000).fill('timeout'));
    await system.shutdown();
  });

  it('rejects at once with AskDeliveryError when the target does not exist', async () => {
    const { system } = testSystem();
    const ghost = system.refOf(system.addressOf('/user/nobody' as never));
    await expect(ghost.ask('q')).rejects.toMatchObject({
      code: 'ERR_ASK_UNDELIVERED',
      delivery: 'dead-letter',
    });
    await system.shutdown();
  });

  it('rejects at once with ActorFailedError when the target fails while handling the ask', async () => {
    const { system } = testSystem();
    const ref = system.spawn(holder());
    await expect(ref.ask({ type: 'boom' })).rejects.toMatchObject({
      code: 'ERR_ACTOR_FAILED',
      path: '/user/$0',
    });
    await system.shutdown();
  });

  it('refuses a bad timeout with ERR_INVALID_OPTION naming options.timeout', async () => {
    const { system } = testSystem();
    const ref = system.spawn(holder());
    await expect(ref.ask({ type: 'get' }, { timeout: -1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      field: 'options.timeout',
    });
    await expect(ref.ask({ type: 'get' }, { timeout: Number.NaN })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    await system.shutdown();
  });

  it('rejects pending asks with SystemTerminatedError at shutdown', async () => {
    const { system } = testSystem();
    const mute = system.spawn(fromReceive(null, (s, _m: string) => s));
    const p = mute.ask('q', { timeout: Infinity });
    await settle(system);
    await system.shutdown();
    await expect(p).rejects.toMatchObject({ code: 'ERR_SYSTEM_TERMINATED' });
  });
});
