/**
 * The isolate pool: ready sandboxes prepared ahead, isolates reused only within a trust
 * domain (and memory limit), never after a failure, and at most `maxIsolates` alive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../../sandbox/engine.ts';
import { DEFAULT_LIMITS } from '../../sandbox/limits.ts';
import {
  IsolatePool,
  resolvePoolOptions,
  SandboxPoolExhaustedError,
  type Lease,
} from '../../sandbox/pool.ts';
import { InvalidOptionError } from '../../index.ts';

const pools: IsolatePool[] = [];
function pool(maxIsolates: number, warm: number): IsolatePool {
  const p = new IsolatePool({ maxIsolates, warm });
  pools.push(p);
  return p;
}
afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

/** The isolate behind a sandbox's lease (tests only). */
function isolateOf(p: IsolatePool, domain: string): { lease: Lease; again: () => void } {
  const lease = p.acquire(domain, 16);
  return { lease, again: () => p.release(lease, true) };
}

describe('the isolate pool', () => {
  it('prepares ready sandboxes ahead: an acquire after prewarm is not a cold start', async () => {
    const p = pool(8, 2);
    await p.prewarm('a', 16);
    expect(p.stats()).toMatchObject({ ready: 2, live: 2, cold: 0 });
    const l = p.acquire('a', 16);
    expect(p.stats()).toMatchObject({ leased: 1, cold: 0 });
    p.release(l, true);
  });

  it('reuses an isolate for the same domain only, with a fresh context each time', async () => {
    const p = pool(8, 1);
    const a = isolateOf(p, 'a');
    const first = a.lease.isolate;
    // state left in the context of one use…
    a.lease.context.global.setSync('leftover', 42);
    a.again();
    await p.prewarm('a', 16);
    const b = p.acquire('a', 16);
    expect(b.isolate).toBe(first);
    // …is not in the next one's
    expect(b.context.evalSync('typeof leftover')).toBe('undefined');
    p.release(b, true);
    await p.prewarm('a', 16);
    const other = p.acquire('b', 16);
    expect(other.isolate).not.toBe(first);
    p.release(other, true);
  });

  it('never gives back an isolate after a failure', () => {
    const p = pool(8, 1);
    const s = new Sandbox('/t', DEFAULT_LIMITS, '', 'x', p);
    s.load('function receive(s) { throw new Error("no") }', 't');
    expect(() => s.call('i', '{"input":0}', '{"$ref":"troupe://local/t"}')).not.toThrow();
    expect(() => s.call('r', '{}', '')).toThrow(/no/);
    const before = p.stats().disposed;
    s.release();
    expect(p.stats().disposed).toBe(before + 1);
  });

  it('holds at most maxIsolates: makes room from other keys, then refuses', () => {
    const p = pool(2, 0);
    const a = p.acquire('a', 16);
    p.release(a, true); // kept idle for 'a'
    const b1 = p.acquire('b', 16);
    const b2 = p.acquire('b', 16); // room made by disposing a's idle isolate
    expect(p.stats()).toMatchObject({ live: 2, leased: 2 });
    expect(() => p.acquire('c', 16)).toThrow(SandboxPoolExhaustedError);
    p.release(b1, false);
    const c = p.acquire('c', 16);
    expect(p.stats().live).toBe(2);
    p.release(b2, true);
    p.release(c, true);
  });

  it('an acquire does not fail while isolates are only being prepared', () => {
    const p = pool(3, 2);
    const first = p.acquire('a', 16); // the pool starts preparing two more for 'a'
    const pending = p.prewarm('a', 16);
    const second = p.acquire('a', 16);
    const other = p.acquire('b', 16);
    expect(p.stats().leased).toBe(3);
    for (const l of [first, second, other]) p.release(l, true);
    return pending;
  });

  it('keys isolates by memory limit too (it is fixed when an isolate is made)', () => {
    const p = pool(8, 0);
    const small = p.acquire('a', 16);
    const first = small.isolate;
    p.release(small, true);
    const big = p.acquire('a', 64);
    expect(big.isolate).not.toBe(first);
    p.release(big, true);
  });

  it('checks its options, naming the field', () => {
    expect(() => resolvePoolOptions('sandbox.pool', { maxIsolates: 0 })).toThrow(
      /sandbox\.pool\.maxIsolates/,
    );
    expect(() => resolvePoolOptions('sandbox.pool', { warm: -1 })).toThrow(InvalidOptionError);
    expect(() => resolvePoolOptions('sandbox.pool', { maxIsolates: 2, warm: 3 })).toThrow(
      /sandbox\.pool\.warm/,
    );
    expect(() => resolvePoolOptions('sandbox.pool', { size: 3 })).toThrow(/sandbox\.pool\.size/);
  });
});
