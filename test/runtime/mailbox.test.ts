import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Mailbox, DEFAULT_MAILBOX_CAPACITY } from '../../runtime/core/mailbox.ts';

/** Shifts everything out, returning [msg, meta] pairs in the order they came. */
function shiftAll(mb: Mailbox): [unknown, unknown][] {
  const out: [unknown, unknown][] = [];
  while (mb.size > 0) {
    const msg = mb.shift();
    out.push([msg, mb.meta]);
  }
  return out;
}

describe('Mailbox', () => {
  it('has a default capacity of 10,000 messages', () => {
    expect(DEFAULT_MAILBOX_CAPACITY).toBe(10_000);
  });

  it('keeps the capacity and overflow policy it was built with', () => {
    const mb = new Mailbox(5, 'reject');
    expect(mb.capacity).toBe(5);
    expect(mb.overflow).toBe('reject');
    expect(mb.size).toBe(0);
  });

  it('returns messages in the order they were pushed', () => {
    const mb = new Mailbox(100, 'drop-newest');
    for (let i = 0; i < 5; i++) mb.push(`m${i}`, null);
    expect(mb.size).toBe(5);
    expect([mb.shift(), mb.shift(), mb.shift(), mb.shift(), mb.shift()]).toEqual([
      'm0',
      'm1',
      'm2',
      'm3',
      'm4',
    ]);
    expect(mb.size).toBe(0);
  });

  it('stores each meta beside its message and exposes it after shift', () => {
    const mb = new Mailbox(100, 'drop-newest');
    const metaA = { from: 'a' };
    const metaB = { from: 'b' };
    mb.push('x', metaA);
    mb.push('y', metaB);
    mb.push('z', undefined);
    expect(mb.shift()).toBe('x');
    expect(mb.meta).toBe(metaA);
    expect(mb.shift()).toBe('y');
    expect(mb.meta).toBe(metaB);
    expect(mb.shift()).toBe('z');
    expect(mb.meta).toBeUndefined();
  });

  it('keeps falsy messages and metas (undefined, null, 0, empty string) as they are', () => {
    const mb = new Mailbox(100, 'drop-newest');
    mb.push(undefined, 0);
    mb.push(null, '');
    mb.push(0, null);
    mb.push('', false);
    expect(shiftAll(mb)).toEqual([
      [undefined, 0],
      [null, ''],
      [0, null],
      ['', false],
    ]);
  });

  it('allocates no storage until a second message queues behind the first', () => {
    const mb = new Mailbox(DEFAULT_MAILBOX_CAPACITY, 'drop-newest');
    expect(mb.allocated).toBe(0);
    mb.push('first', 'm1');
    expect(mb.allocated).toBe(0);
    expect(mb.shift()).toBe('first');
    expect(mb.meta).toBe('m1');
    mb.push('again', null);
    expect(mb.allocated).toBe(0);
    mb.push('second', null);
    expect(mb.allocated).toBe(8);
    expect(shiftAll(mb).map(([m]) => m)).toEqual(['again', 'second']);
  });

  it('holds the first message itself, then a segment of 8, and adds one twice as large only when the 10th arrives', () => {
    const mb = new Mailbox(DEFAULT_MAILBOX_CAPACITY, 'drop-newest');
    for (let i = 0; i < 9; i++) mb.push(i, null);
    expect(mb.allocated).toBe(8);
    mb.push(9, null);
    expect(mb.allocated).toBe(8 + 16);
    expect(shiftAll(mb).map(([m]) => m)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps FIFO order when messages are pushed behind a held first message that is then shifted', () => {
    const mb = new Mailbox(DEFAULT_MAILBOX_CAPACITY, 'drop-newest');
    mb.push('a', 'ma');
    mb.push('b', 'mb');
    expect(mb.shift()).toBe('a');
    mb.push('c', 'mc');
    expect(shiftAll(mb)).toEqual([
      ['b', 'mb'],
      ['c', 'mc'],
    ]);
  });

  it('keeps FIFO order with metas across segments while being shifted and pushed', () => {
    const mb = new Mailbox(DEFAULT_MAILBOX_CAPACITY, 'drop-newest');
    for (let i = 0; i < 6; i++) mb.push(i, `meta${i}`);
    expect([mb.shift(), mb.shift(), mb.shift(), mb.shift()]).toEqual([0, 1, 2, 3]);
    for (let i = 6; i < 14; i++) mb.push(i, `meta${i}`);
    expect(mb.size).toBe(10);
    expect(shiftAll(mb)).toEqual(
      [4, 5, 6, 7, 8, 9, 10, 11, 12, 13].map((i) => [i, `meta${i}`] as [number, string]),
    );
  });

  it('frees the segments it has read past, and grows segments up to 1,024 messages', () => {
    const mb = new Mailbox(Infinity, 'drop-newest');
    for (let i = 0; i < 5000; i++) mb.push(i, null);
    // the first held in the mailbox, then 8 + 16 + … + 512 = 1016, then segments of 1,024
    expect(mb.allocated).toBe(1016 + 4 * 1024);
    for (let i = 0; i < 1017; i++) mb.shift();
    expect(mb.allocated).toBe(4 * 1024);
    expect(mb.shift()).toBe(1017);
  });

  it('keeps a small segment after draining by shift', () => {
    const mb = new Mailbox(Infinity, 'drop-newest');
    for (let i = 0; i < 8; i++) mb.push(i, null);
    shiftAll(mb);
    expect(mb.allocated).toBe(8);
    mb.push('again', null);
    expect(mb.allocated).toBe(8);
  });

  it('releases a large segment when it empties by shift', () => {
    const mb = new Mailbox(Infinity, 'drop-newest');
    for (let i = 0; i < 1025; i++) mb.push(i, null);
    const out = shiftAll(mb);
    expect(out).toHaveLength(1025);
    expect(out[1024]![0]).toBe(1024);
    expect(mb.allocated).toBe(0);
  });

  it('works again after releasing its storage', () => {
    const mb = new Mailbox(Infinity, 'drop-newest');
    for (let i = 0; i < 2000; i++) mb.push(i, null);
    shiftAll(mb);
    mb.push('again', 'm');
    expect(mb.shift()).toBe('again');
    expect(mb.meta).toBe('m');
  });

  it('drains every message with its meta in FIFO order, then holds nothing', () => {
    const mb = new Mailbox(100, 'drop-oldest');
    for (let i = 0; i < 5; i++) mb.push(i, { n: i });
    mb.shift();
    for (let i = 5; i < 10; i++) mb.push(i, { n: i });
    const seen: [unknown, unknown][] = [];
    mb.drain((msg, meta) => seen.push([msg, meta]));
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [i, { n: i }]));
    expect(mb.size).toBe(0);
    expect(mb.meta).toBeUndefined();
    expect(mb.allocated).toBe(0);
  });

  it('drains an empty mailbox without calling back', () => {
    const mb = new Mailbox(100, 'drop-newest');
    let calls = 0;
    mb.drain(() => calls++);
    expect(calls).toBe(0);
    expect(mb.size).toBe(0);
  });

  it('releases its storage after a large drain', () => {
    const mb = new Mailbox(Infinity, 'drop-newest');
    for (let i = 0; i < 5000; i++) mb.push(i, null);
    let n = 0;
    mb.drain((msg) => {
      expect(msg).toBe(n++);
    });
    expect(n).toBe(5000);
    expect(mb.allocated).toBe(0);
  });

  it('is not full below its capacity, full at its capacity, and stays full past it', () => {
    const mb = new Mailbox(3, 'drop-newest');
    expect(mb.isFull).toBe(false); // 0
    mb.push('a', null);
    mb.push('b', null);
    expect(mb.isFull).toBe(false); // capacity - 1
    mb.push('c', null);
    expect(mb.isFull).toBe(true); // at capacity
    mb.push('d', null); // the caller ignored isFull: still stores, still full
    expect(mb.isFull).toBe(true);
    mb.shift();
    mb.shift();
    expect(mb.isFull).toBe(false);
  });

  it('is full at once with capacity 1 after one message', () => {
    const mb = new Mailbox(1, 'fail');
    expect(mb.isFull).toBe(false);
    mb.push('only', null);
    expect(mb.isFull).toBe(true);
    mb.shift();
    expect(mb.isFull).toBe(false);
  });

  it('is never full with capacity Infinity', () => {
    const mb = new Mailbox(Infinity, 'drop-newest');
    for (let i = 0; i < 20_000; i++) mb.push(i, null);
    expect(mb.isFull).toBe(false);
    expect(mb.size).toBe(20_000);
  });

  it('behaves like an array queue over any sequence of pushes and shifts', () => {
    type Op = { op: 'push'; msg: number; meta: string } | { op: 'shift' } | { op: 'drain' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          op: fc.constant('push' as const),
          msg: fc.integer(),
          meta: fc.string(),
        }),
      },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('shift' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('drain' as const) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const mb = new Mailbox(Infinity, 'drop-newest');
        const model: [number, string][] = [];
        for (const o of ops) {
          if (o.op === 'push') {
            mb.push(o.msg, o.meta);
            model.push([o.msg, o.meta]);
          } else if (o.op === 'shift') {
            if (model.length === 0) continue; // shift requires size > 0
            const [msg, meta] = model.shift()!;
            expect(mb.shift()).toBe(msg);
            expect(mb.meta).toBe(meta);
          } else {
            const seen: [unknown, unknown][] = [];
            mb.drain((m, meta) => seen.push([m, meta]));
            expect(seen).toEqual(model);
            model.length = 0;
          }
          expect(mb.size).toBe(model.length);
        }
        expect(shiftAll(mb)).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });
});
