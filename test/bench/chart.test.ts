import { describe, expect, it } from 'vitest';
import { renderChart } from '../../bench/chart.ts';
import { bestPeer, type ImplId, type Report, type Result } from '../../bench/harness.ts';
import { figuresSection } from '../../bench/readme.ts';

const result = (
  bench: string,
  impl: ImplId,
  msgsPerSec: number,
  more: Partial<Result> = {},
): Result => ({
  bench,
  impl,
  messages: 1000,
  seconds: 1000 / msgsPerSec,
  msgsPerSec,
  min: msgsPerSec * 0.9,
  max: msgsPerSec * 1.1,
  extra: { runs: 5, quick: false, scale: 1 },
  ...more,
});

const report: Report = {
  date: '2026-12-02T17:00:00.000Z',
  machine: {
    cpu: 'Test CPU <x>',
    cores: 2,
    memoryGb: 23.5,
    node: 'v24.21.0',
    platform: 'linux',
    arch: 'x64',
    v8: '13',
    xstate: '5.33.3',
    otp: '25.2.3',
    erts: '13.1.5',
  },
  results: [
    result('pingpong', 'raw', 30e6),
    result('pingpong', 'troupe:receive', 20e6),
    result('pingpong', 'xstate', 0.4e6),
    result('pingpong', 'erlang', 3e6),
    result('pingpong', 'erlang@1', 4e6),
    result('forkjoin-create', 'troupe:receive', 0.5e6),
    result('forkjoin-create', 'erlang@1', 1e6),
    result('spawn-memory', 'troupe:receive', 0.7e6, { bytesPerActor: 580 }),
    result('restart', 'troupe:receive', 80e3, { p50Us: 6.6, p99Us: 17.2 }),
  ],
};

describe('bestPeer', () => {
  it('is the fastest peer runtime, never raw or troupe', () => {
    expect(bestPeer(report.results.filter((r) => r.bench === 'pingpong'))?.impl).toBe('erlang@1');
  });
  it('is undefined when no peer runtime ran', () => {
    expect(bestPeer([result('x', 'raw', 1e9), result('x', 'troupe:receive', 1)])).toBeUndefined();
  });
});

describe('the chart', () => {
  const svg = renderChart(report);

  it('is one SVG document with a bar per result', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(report.results.length);
  });

  it('uses a log scale: a bar ten times the rate is one decade taller', () => {
    const height = (bench: string, impl: string): number => {
      const m = new RegExp(`height="([0-9.]+)"[^>]*><title>${bench} ${impl}:`).exec(svg);
      return Number(m?.[1]);
    };
    const decade = height('pingpong', 'troupe:receive') - height('pingpong', 'erlang');
    // 20M vs 3M: log10(20/3) decades
    const perDecade = decade / Math.log10(20 / 3);
    expect(height('pingpong', 'raw') - height('pingpong', 'troupe:receive')).toBeCloseTo(
      perDecade * Math.log10(30 / 20),
      3,
    );
  });

  it("states troupe:receive's ratio to the best peer under each benchmark", () => {
    expect(svg).toContain('5.0× erlang@1'); // pingpong: 20M / 4M
    expect(svg).toContain('0.5× erlang@1'); // forkjoin-create
  });

  it('names the machine and escapes text', () => {
    expect(svg).toContain('Test CPU &lt;x&gt;');
    expect(svg).toContain('Erlang/OTP 25.2.3');
    expect(svg).not.toContain('<x>');
  });
});

describe("the README's figures", () => {
  const md = figuresSection(report, 'results/latest.svg');

  it('has a row per benchmark with a column per implementation that ran', () => {
    const rows = md.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.map((r) => r.split(' | ')[0])).toEqual([
      '| `pingpong`',
      '| `forkjoin-create`',
      '| `spawn-memory`',
      '| `restart`',
    ]);
    expect(md).toContain(
      '| benchmark | `raw` | `troupe:receive` | `xstate` | `erlang` | `erlang@1` | troupe:receive vs best peer |',
    );
    expect(rows[0]).toBe(
      '| `pingpong` | 30.0 M | 20.0 M | 400 k | 3.00 M | 4.00 M | 5.00× `erlang@1` |',
    );
    expect(rows[2]).toContain('| – |');
  });

  it('names the machine, links the chart and gives memory and latency', () => {
    expect(md).toContain('Erlang/OTP 25.2.3 (ERTS 13.1.5)');
    expect(md).toContain('(results/latest.svg)');
    expect(md).toContain('`troupe:receive` 580');
    expect(md).toContain('`troupe:receive` 6.6 / 17.2 µs');
  });
});
