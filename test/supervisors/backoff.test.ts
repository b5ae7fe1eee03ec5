import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../supervisors/backoff.ts';

describe('backoffDelay', () => {
  const o = { minMs: 100, maxMs: 1_000, jitter: 0.5, resetAfterMs: 10_000 };

  it('doubles from minMs with each level, without jitter when random gives 0', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, o, () => 0))).toEqual([100, 200, 400, 800]);
  });

  it('caps the base at maxMs, at any level', () => {
    expect(backoffDelay(4, o, () => 0)).toBe(1_000);
    expect(backoffDelay(1_000, o, () => 0)).toBe(1_000);
  });

  it('adds at most jitter × the base', () => {
    expect(backoffDelay(0, o, () => 1)).toBe(150);
    expect(backoffDelay(10, o, () => 1)).toBe(1_500);
  });
});
