/**
 * The Erlang peer does the same work as troupe: at a small scale, every benchmark's Erlang
 * implementation (both ids) reports exactly the message count of troupe:receive's for the
 * same params, each having checked its own counts. Needs `erl` on the PATH (`apt-get install
 * -y erlang-base`; .ci/run installs it): without it, under CI (CI set) the suite fails saying
 * so; elsewhere it is skipped with a warning, so that `npm test` works on a machine without
 * Erlang.
 */
import { describe, expect, it } from 'vitest';
import { erlangImpls, erlangInfo, ERLANG_BENCHMARKS } from '../../bench/peers/erlang.ts';
import { paramsOf, type Sample } from '../../bench/harness.ts';
import { BENCHMARKS } from '../../bench/suite.ts';

/** quick params × this: a few thousand messages per benchmark. */
const SCALE = 0.02;

/**
 * The benchmarks that compare runtimes (troupe:receive runs them); sandbox-acquire does not,
 * nor timer-lateness (it measures troupe's scheduler against the event loop it runs on), nor
 * supervisor-children (the cost of troupe's own supervisor per dynamic child).
 */
const NOT_COMPARED: readonly string[] = ['timer-lateness', 'supervisor-children'];
const COMPARED = BENCHMARKS.filter(
  (b) => b.impls['troupe:receive'] !== undefined && !NOT_COMPARED.includes(b.name),
);

const info = erlangInfo();
const required = process.env.CI !== undefined && process.env.CI !== '';
if (info === null && !required)
  console.warn(
    'test/bench/erlang.test.ts skipped: no `erl` on the PATH (apt-get install -y erlang-base)',
  );

describe.skipIf(info === null && !required)('the Erlang/OTP peer', () => {
  it('is on the PATH, with its OTP version', () => {
    expect(info, 'no `erl` on the PATH: apt-get install -y erlang-base').not.toBeNull();
    expect(info!.otp).toMatch(/^\d+(\.\d+)*$/);
  });

  it('has an implementation of every benchmark in the suite that compares runtimes', () => {
    expect([...ERLANG_BENCHMARKS].sort()).toEqual(COMPARED.map((b) => b.name).sort());
  });

  it.each(COMPARED.map((b) => [b.name, b] as const))(
    '%s: erlang and erlang@1 count the messages troupe:receive counts',
    async (_, b) => {
      // spawn-memory reads memory growth: a few hundred actors are within the VM's own noise
      const { params } = paramsOf(b, true, b.name === 'spawn-memory' ? 1 : SCALE);
      // spawn-memory needs global.gc(), which vitest's workers lack: it counts its actors
      const troupe: Sample =
        b.name === 'spawn-memory'
          ? { messages: (params as { actors: number }).actors, seconds: 1, bytesPerActor: 1 }
          : await b.impls['troupe:receive']!(params);
      const impls = erlangImpls(b.name);
      for (const id of ['erlang', 'erlang@1'] as const) {
        const s = await impls[id]!(params);
        expect(s.messages, id).toBe(troupe.messages);
        expect(s.seconds, id).toBeGreaterThan(0);
        if (troupe.bytesPerActor !== undefined) expect(s.bytesPerActor, id).toBeGreaterThan(0);
        if (troupe.p99Us !== undefined) expect(s.p99Us, id).toBeGreaterThanOrEqual(s.p50Us!);
      }
    },
    60_000,
  );

  it('has no implementation of a benchmark it does not know', () => {
    expect(erlangImpls('no-such-bench')).toEqual({});
  });
});
