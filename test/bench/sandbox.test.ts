/**
 * The sandbox's benchmarks do the work they claim: the sandboxed counters count every message
 * (in both modes), sandbox-acquire's implementations acquire what they report, the pooled
 * one from ready sandboxes and the cold one from new isolates (each checks its pool's counts),
 * and sandbox-recovery recovers from every attack it makes (it checks that each cost exactly
 * one host).
 */
import { describe, expect, it } from 'vitest';
import { paramsOf } from '../../bench/harness.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

const bench = (name: string) => BENCHMARKS.find((b) => b.name === name)!;

describe('the sandbox in the bench', () => {
  it.each(['troupe:sandboxed', 'troupe:sandboxed@process'] as const)(
    'counting %s counts every message',
    async (id) => {
      const b = bench('counting');
      const { params } = paramsOf(b, true, 0.05);
      const s = await b.impls[id]!(params);
      expect(s.messages).toBe((params as { messages: number }).messages);
      expect(s.seconds).toBeGreaterThan(0);
    },
    30_000,
  );

  it.each(['troupe:pooled', 'troupe:cold'] as const)(
    'sandbox-acquire %s reports its acquires and their percentiles',
    async (id) => {
      const b = bench('sandbox-acquire');
      const { params } = paramsOf(b, true, 0.1);
      const s = await b.impls[id]!(params);
      expect(s.messages).toBe((params as { acquires: number }).acquires);
      expect(s.p50Us).toBeGreaterThan(0);
      expect(s.p99Us).toBeGreaterThanOrEqual(s.p50Us!);
    },
    30_000,
  );

  it('sandbox-recovery troupe:sandboxed@process times a recovery per attack', async () => {
    const b = bench('sandbox-recovery');
    const { params } = paramsOf(b, true, 0.4);
    const s = await b.impls['troupe:sandboxed@process']!(params);
    expect(s.messages).toBe((params as { attacks: number }).attacks);
    expect(s.p50Us).toBeGreaterThan(0);
    expect(s.p99Us).toBeGreaterThanOrEqual(s.p50Us!);
  }, 60_000);
});
