import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromReceive, type ActorRef } from '../../index.ts';
import { createTestProbe, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type Rec = { from: number; seq: number };

describe('delivery', () => {
  it('delivers the messages of one sender in the order they were sent', async () => {
    const { system } = testSystem();
    const seen: number[] = [];
    const sink = system.spawn(fromReceive(null, (s, n: number) => (seen.push(n), s)));
    for (let i = 0; i < 1000; i++) sink.tell(i);
    await settle(system);
    expect(seen).toEqual([...Array(1000).keys()]);
    await system.shutdown();
  });

  it('keeps FIFO per sender→receiver pair under random interleavings of several senders', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ sender: fc.nat(4), burst: fc.integer({ min: 1, max: 20 }) }), {
          maxLength: 60,
        }),
        async (plan) => {
          const { system } = testSystem({ throughput: 3 });
          const got: Rec[] = [];
          const sink = system.spawn(fromReceive(null, (s, r: Rec) => (got.push(r), s)));
          const senders: ActorRef<number>[] = [];
          for (let i = 0; i < 5; i++) {
            senders.push(
              system.spawn(
                fromReceive(0, (next: number, burst: number) => {
                  for (let k = 0; k < burst; k++) sink.tell({ from: i, seq: next + k });
                  return next + burst;
                }),
              ),
            );
          }
          let sent = 0;
          for (const step of plan) {
            senders[step.sender]!.tell(step.burst);
            sent += step.burst;
          }
          await settle(system);
          expect(got.length).toBe(sent);
          const last = new Map<number, number>();
          for (const r of got) {
            expect(r.seq).toBe((last.get(r.from) ?? -1) + 1);
            last.set(r.from, r.seq);
          }
          await system.shutdown();
        },
      ),
      { numRuns: 100 },
    );
  });

  it('tells the sending actor through ctx.sender and answers it with ctx.reply', async () => {
    const { system } = testSystem();
    const echo = system.spawn(
      fromReceive(null, (s, msg: string, ctx) => (ctx.reply(`echo:${msg}`), s)),
    );
    const probe = createTestProbe(system);
    probe.send(echo, 'hi');
    await probe.expectMessage('echo:hi');
    await system.shutdown();
  });

  it('sends a reply without an ask or a sending actor to dead letters', async () => {
    const { system } = testSystem();
    const echo = system.spawn(fromReceive(null, (s, msg: string, ctx) => (ctx.reply(msg), s)));
    echo.tell('lost');
    await settle(system);
    expect(system.deadLetters.countOf('no-reply-address')).toBe(1);
    expect(system.deadLetters.recent()[0]).toMatchObject({
      message: 'lost',
      reason: 'no-reply-address',
    });
    await system.shutdown();
  });

  it('sends messages to a never-spawned path to dead letters as unknown-actor', async () => {
    const { system } = testSystem();
    const ghost = system.refOf(system.addressOf('/user/ghost' as never));
    expect(ghost.tell('boo')).toBe('dead-letter');
    expect(system.deadLetters.countOf('unknown-actor')).toBe(1);
    await system.shutdown();
  });

  it('does not reach an actor respawned under the same name through an old ref; an address does', async () => {
    const { system } = testSystem();
    const seen: string[] = [];
    const first = system.spawn(
      fromReceive(null, (s, m: string) => (seen.push(`1:${m}`), s)),
      { name: 'svc' },
    );
    await system.stop(first);
    expect(first.tell('a')).toBe('dead-letter');
    expect(system.deadLetters.countOf('stopped')).toBe(1);
    system.spawn(
      fromReceive(null, (s, m: string) => (seen.push(`2:${m}`), s)),
      { name: 'svc' },
    );
    // the old ref names the first spawn: a dead letter, never a message to the newcomer
    expect(first.tell('b')).toBe('dead-letter');
    expect(system.deadLetters.countOf('stopped')).toBe(2);
    // a ref revived from the address alone names whoever lives there
    expect(system.refOf(first.address).tell('c')).toBe('enqueued');
    // and so does one revived with the old spawn's uid: not
    const stale = system.refOf(first.address, (first as unknown as { uid: number }).uid);
    expect(stale.tell('d')).toBe('dead-letter');
    await settle(system);
    expect(seen).toEqual(['2:c']);
    await system.shutdown();
  });

  it('lets the scheduler interleave busy actors: no actor handles more than throughput messages in a row', async () => {
    const { system } = testSystem({ throughput: 4 });
    const order: string[] = [];
    const a = system.spawn(fromReceive(null, (s, m: number) => (order.push(`a${m}`), s)));
    const b = system.spawn(fromReceive(null, (s, m: number) => (order.push(`b${m}`), s)));
    await settle(system);
    for (let i = 0; i < 8; i++) a.tell(i);
    for (let i = 0; i < 8; i++) b.tell(i);
    await settle(system);
    expect(order).toEqual([
      'a0',
      'a1',
      'a2',
      'a3',
      'b0',
      'b1',
      'b2',
      'b3',
      'a4',
      'a5',
      'a6',
      'a7',
      'b4',
      'b5',
      'b6',
      'b7',
    ]);
    await system.shutdown();
  });

  it('yields to the event loop after the time slice so timers are not starved', async () => {
    const { system } = testSystem({ timeSliceMs: 0 });
    let handled = 0;
    let immediateRanAt = -1;
    const busy = system.spawn(
      fromReceive(null, (s, _m: number) => (handled++, s)),
      { mailbox: { capacity: Infinity } },
    );
    for (let i = 0; i < 64 * 200; i++) busy.tell(i);
    setImmediate(() => (immediateRanAt = handled));
    await settle(system);
    expect(handled).toBe(64 * 200);
    expect(immediateRanAt).toBeGreaterThan(0);
    expect(immediateRanAt).toBeLessThan(handled);
    await system.shutdown();
  });
});
