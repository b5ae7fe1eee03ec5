import { describe, expect, it } from 'vitest';
import {
  fromReceive,
  type ActorRef,
  type DeliveryFailed,
  type OverflowPolicy,
} from '../../index.ts';
import { createTestProbe, settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

/** An actor that records what it handles; it starts handling only when told `open`. */
function gated(policy: OverflowPolicy, capacity: number) {
  const { system, logs } = testSystem();
  const handled: number[] = [];
  const ref = system.spawn(
    fromReceive(null, (s, m: number) => (handled.push(m), s)),
    { name: 'gated', mailbox: { capacity, overflow: policy } },
  );
  return { system, logs, handled, ref };
}

/** Fills the mailbox synchronously (no turn runs in between), so the capacity is what counts. */
function fill(ref: ActorRef<number>, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(ref.tell(i));
  return out;
}

describe('mailbox overflow policies', () => {
  it('drop-newest: accepts up to capacity, drops the one past it to dead letters', async () => {
    const { system, handled, ref } = gated('drop-newest', 3);
    expect(fill(ref, 4)).toEqual(['enqueued', 'enqueued', 'enqueued', 'dropped']);
    await settle(system);
    expect(handled).toEqual([0, 1, 2]);
    expect(system.deadLetters.recent()).toMatchObject([{ message: 3, reason: 'mailbox-full' }]);
    await system.shutdown();
  });

  it('drop-oldest: the oldest queued message makes room for the new one', async () => {
    const { system, handled, ref } = gated('drop-oldest', 3);
    expect(fill(ref, 4)).toEqual(['enqueued', 'enqueued', 'enqueued', 'enqueued']);
    await settle(system);
    expect(handled).toEqual([1, 2, 3]);
    expect(system.deadLetters.recent()).toMatchObject([{ message: 0, reason: 'dropped-oldest' }]);
    await system.shutdown();
  });

  it('reject: refuses the one past capacity synchronously, as the return value of tell', async () => {
    const { system, handled, ref } = gated('reject', 2);
    expect(fill(ref, 3)).toEqual(['enqueued', 'enqueued', 'rejected']);
    await settle(system);
    expect(handled).toEqual([0, 1]);
    const letter = system.deadLetters.recent()[0]!;
    expect(letter).toMatchObject({ message: 2, reason: 'mailbox-full' });
    expect((letter.error as { code: string }).code).toBe('ERR_MAILBOX_FULL');
    await system.shutdown();
  });

  it('reject: the sending actor receives a troupe.delivery-failed notice with the error', async () => {
    const { system, ref } = gated('reject', 1);
    const notices: DeliveryFailed[] = [];
    const sender = system.spawn(
      fromReceive(null, (s, m: 'go' | DeliveryFailed) => {
        if (m === 'go') {
          ref.tell(1);
          ref.tell(2);
        } else notices.push(m);
        return s;
      }),
    );
    sender.tell('go');
    await settle(system);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      type: 'troupe.delivery-failed',
      message: 2,
      error: { code: 'ERR_MAILBOX_FULL', capacity: 1, policy: 'reject' },
    });
    expect(notices[0]!.to.path).toBe('/user/gated');
    await system.shutdown();
  });

  it('reject: a notice that finds the sender’s own reject mailbox full is a dead letter, not another notice', async () => {
    // a (capacity 1, reject) fills its own mailbox, then overflows b (capacity 1, reject): the
    // notice to a overflows a too, and must end there (it used to recurse until the stack blew)
    const { system } = testSystem();
    const b = system.spawn(
      fromReceive(null, (s, _m: string) => s),
      {
        name: 'b',
        mailbox: { capacity: 1, overflow: 'reject' },
      },
    );
    const results: string[] = [];
    const reasons: string[] = [];
    system.deadLetters.subscribe((d) => reasons.push(`${d.reason} → ${d.recipient}`));
    const a: ActorRef<string> = system.spawn(
      fromReceive(null, (s, m: string | DeliveryFailed) => {
        if (m === 'go') results.push(a.tell('fill'), b.tell('x'), b.tell('y'));
        return s;
      }),
      { name: 'a', mailbox: { capacity: 1, overflow: 'reject' } },
    );
    let terminated = false;
    system.watch(a, () => (terminated = true));
    a.tell('go');
    await settle(system);
    expect(results).toEqual(['enqueued', 'enqueued', 'rejected']);
    expect(terminated).toBe(false);
    expect(reasons).toEqual([
      'mailbox-full → troupe://local/user/b',
      'mailbox-full → troupe://local/user/a',
    ]);
    await system.shutdown();
  });

  it('fail: the message past capacity goes to dead letters and the actor fails with MailboxFullError', async () => {
    const { system, logs, ref } = gated('fail', 2);
    const probe = createTestProbe(system);
    probe.watch(ref);
    expect(fill(ref, 3)).toEqual(['enqueued', 'enqueued', 'rejected']);
    const t = await probe.expectMessage<{
      type: string;
      reason: string;
      error: { code: string };
    }>();
    expect(t).toMatchObject({
      type: 'troupe.terminated',
      reason: 'failed',
      error: { code: 'ERR_MAILBOX_FULL' },
    });
    expect(system.deadLetters.countOf('mailbox-full')).toBe(1);
    expect(logs.some((l) => l.level === 'error' && l.message.includes('/user/gated'))).toBe(true);
    await system.shutdown();
  });

  it('accepts exactly capacity messages at the default capacity of a system option', async () => {
    const { system } = testSystem({ mailbox: { capacity: 5 } });
    const ref = system.spawn(fromReceive(null, (s, _m: number) => s));
    expect(fill(ref, 6).filter((d) => d === 'enqueued')).toHaveLength(5);
    await system.shutdown();
  });

  it('lets system messages jump the queue: a stop is handled before queued user messages', async () => {
    const { system, handled, ref } = gated('drop-newest', 100);
    fill(ref, 10);
    const stopped = system.stop(ref);
    await stopped;
    expect(handled).toEqual([]);
    expect(system.deadLetters.countOf('stopped')).toBe(10);
    await system.shutdown();
  });
});
