/**
 * runUntrusted, in both modes: results copied out, awaits settled by microtasks, logs handed
 * out, and every way it can fail typed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configureSandboxes,
  InvalidOptionError,
  runUntrusted,
  SandboxCodeError,
  SandboxLimitError,
  SandboxSourceError,
  type SandboxMode,
} from '../../index.ts';

describe.each(['thread', 'process'] as SandboxMode[])('runUntrusted, mode %s', (mode) => {
  beforeAll(() => configureSandboxes({ mode }));
  afterAll(() => configureSandboxes({ mode: 'process' }));

  it('returns structured data computed from its input', async () => {
    const out = await runUntrusted<{ total: number; words: string[]; at: null }>(
      `const words = input.text.split(' ');
       return { total: input.xs.reduce((a, b) => a + b, 0), words, at: null };`,
      { xs: [1, 2, 3.5], text: 'to be or not' },
    );
    expect(out).toEqual({ total: 6.5, words: ['to', 'be', 'or', 'not'], at: null });
  });

  it('awaits what settles inside, and hands out its log lines in order', async () => {
    const lines: string[] = [];
    const out = await runUntrusted(
      `log('start', input);
       const v = await Promise.all([1, 2].map(async (x) => x * 10));
       log('done', v);
       return v;`,
      7,
      undefined,
      { log: (l) => lines.push(l) },
    );
    expect(out).toEqual([10, 20]);
    expect(lines).toEqual(['start 7', 'done [10,20]']);
  });

  it('has no log unless given one', async () => {
    await expect(runUntrusted('return typeof log')).resolves.toBe('undefined');
  });

  it('fails with the code’s error, a promise that never settles, a source that does not compile', async () => {
    await expect(runUntrusted('throw new RangeError("bad input")')).rejects.toMatchObject({
      name: 'SandboxCodeError',
      thrown: 'RangeError',
    });
    await expect(runUntrusted('await new Promise(() => {}); return 1')).rejects.toThrow(
      /never settles/,
    );
    await expect(runUntrusted('return (')).rejects.toBeInstanceOf(SandboxSourceError);
    await expect(runUntrusted('return () => 1')).rejects.toBeInstanceOf(SandboxCodeError);
  });

  it('stops at its limits with SandboxLimitError', async () => {
    const cpu = runUntrusted('for (;;) {}', null, { cpuMs: 40 });
    await expect(cpu).rejects.toBeInstanceOf(SandboxLimitError);
    await expect(cpu).rejects.toMatchObject({ limit: 'cpu', path: 'runUntrusted' });
    await expect(
      runUntrusted('const a = []; for (;;) a.push(new Array(1e5).fill(a.length))', null, {
        memoryMb: 16,
        cpuMs: 10_000,
        wallMs: 10_000,
      }),
    ).rejects.toMatchObject({ limit: 'memory' });
    await expect(
      runUntrusted('return "x".repeat(5000)', null, { copyBytes: 1000 }),
    ).rejects.toMatchObject({ limit: 'copy' });
    await expect(
      runUntrusted('return 1', 'y'.repeat(5000), { copyBytes: 1000 }),
    ).rejects.toMatchObject({ limit: 'copy' });
    await expect(
      runUntrusted('for (;;) {}', null, { cpuMs: 500, wallMs: 40 }),
    ).rejects.toMatchObject({ limit: 'wall' });
  });
});

describe('runUntrusted: arguments', () => {
  it('refuses bad arguments, naming them', async () => {
    await expect(runUntrusted('')).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(runUntrusted('return 1', null, { cpuMs: 0 })).rejects.toThrow(/limits\.cpuMs/);
    await expect(runUntrusted('return 1', null, {}, { domain: '' })).rejects.toThrow(
      /options\.domain/,
    );
    await expect(runUntrusted('return 1', null, {}, { log: 'console' as never })).rejects.toThrow(
      /options\.log/,
    );
    await expect(runUntrusted('return 1', () => 1)).rejects.toThrow(/cannot be serialised/);
  });
});
