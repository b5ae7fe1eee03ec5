/**
 * The 2-shard implementations (bench/savina/sharded.ts) do the work they claim: `--quick`
 * leaves them out (their runs are long), so here each runs once at a small scale and reports
 * troupe:receive's message count for the same params, having checked its own counts (a lost
 * message or a wrong count fails the run).
 */
import { describe, expect, it } from 'vitest';
import { paramsOf, type ImplId, type Sample } from '../../bench/harness.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

/** quick params × this: a few thousand messages per benchmark. */
const SCALE = 0.02;
const SHARDED: readonly ImplId[] = ['troupe:receive@2shards', 'troupe:receive@2shards-partitioned'];

const cases = BENCHMARKS.flatMap((b) =>
  SHARDED.filter((id) => b.impls[id] !== undefined).map((id) => [b.name, id, b] as const),
);

describe('the 2-shard implementations', () => {
  it('cover counting, pingpong, threadring, big and forkjoin-throughput, the last two partitioned too', () => {
    expect(cases.map(([name, id]) => `${name} ${id}`).sort()).toEqual(
      [
        'big troupe:receive@2shards',
        'big troupe:receive@2shards-partitioned',
        'counting troupe:receive@2shards',
        'forkjoin-throughput troupe:receive@2shards',
        'forkjoin-throughput troupe:receive@2shards-partitioned',
        'pingpong troupe:receive@2shards',
        'threadring troupe:receive@2shards',
      ].sort(),
    );
  });

  it.each(cases)(
    '%s %s counts the messages troupe:receive counts',
    async (_, id, b) => {
      const { params } = paramsOf(b, true, SCALE);
      const reference: Sample = await b.impls['troupe:receive']!(params);
      const sharded: Sample = await b.impls[id]!(params);
      expect(sharded.messages).toBe(reference.messages);
      expect(sharded.seconds).toBeGreaterThan(0);
    },
    60_000,
  );
});
