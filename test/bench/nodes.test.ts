/**
 * The @2nodes implementations do the work they claim, across a real second node process:
 * counting's total is checked inside; pingpong counts its hops; ask-rtt answers every ask
 * with its own number and reports percentiles.
 */
import { describe, expect, it } from 'vitest';
import { paramsOf } from '../../bench/harness.ts';
import { BENCHMARKS } from '../../bench/suite.ts';
import { countingTwoNodes, pingpongTwoNodes, PINGPONG_HOPS_2NODES } from '../../bench/nodes.ts';

const bench = (name: string) => BENCHMARKS.find((b) => b.name === name)!;

describe('the @2nodes benchmarks', () => {
  it('counting across two nodes counts every message', async () => {
    const b = bench('counting');
    const { params } = paramsOf(b, true, 0.1);
    const s = await countingTwoNodes(params as { messages: number });
    expect(s.messages).toBe((params as { messages: number }).messages);
  }, 30_000);

  it('pingpong across two nodes passes the ball every hop, at most PINGPONG_HOPS_2NODES', async () => {
    const b = bench('pingpong');
    const { params } = paramsOf(b, true, 0.01);
    const s = await pingpongTwoNodes(params as { hops: number });
    const hops = Math.min((params as { hops: number }).hops, PINGPONG_HOPS_2NODES);
    expect(s.messages).toBe(hops);
  }, 30_000);

  it('ask-rtt answers every ask and reports p50 ≤ p99', async () => {
    const b = bench('ask-rtt');
    const { params } = paramsOf(b, true, 0.25);
    const s = await b.impls['troupe:receive@2nodes']!(params);
    expect(s.messages).toBe((params as { asks: number }).asks);
    expect(s.p50Us).toBeGreaterThan(0);
    expect(s.p99Us).toBeGreaterThanOrEqual(s.p50Us!);
  }, 30_000);
});
