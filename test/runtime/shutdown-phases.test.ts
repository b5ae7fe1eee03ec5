/** Phased shutdown (runtime/core/shutdown-phases.ts): phases in order, tasks of one phase together. */
import { describe, expect, it } from 'vitest';
import { PhasedShutdown } from '../../runtime/core/shutdown-phases.ts';

describe('phased shutdown', () => {
  it('runs phases in order, the tasks of a phase together, and waits for their promises', async () => {
    const log: string[] = [];
    const errors: string[] = [];
    const p = new PhasedShutdown((m) => errors.push(m));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    p.add('leave', 'c', () => void log.push('leave c'));
    p.add('drain', 'a', () => held.then(() => log.push('drain a done')));
    p.add('drain', 'b', () => void log.push('drain b'));
    p.add('unbind', 'gw', () => void log.push('unbind'));
    let done = false;
    p.run(['unbind', 'drain', 'leave'], () => (done = true));
    // the synchronous phases ran in the call; drain waits for its promise
    expect(log).toEqual(['unbind', 'drain b']);
    expect(done).toBe(false);
    release();
    await held;
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['unbind', 'drain b', 'drain a done', 'leave c']);
    expect(done).toBe(true);
    expect(errors).toEqual([]);
  });

  it('is done at once when no task returns a promise, and logs a task that fails', async () => {
    const errors: string[] = [];
    const p = new PhasedShutdown((m) => errors.push(m));
    p.add('disconnect', 'throws', () => {
      throw new Error('boom');
    });
    p.add('disconnect', 'fine', () => undefined);
    let done = false;
    p.run(['disconnect', 'release'], () => (done = true));
    expect(done).toBe(true);
    expect(errors).toEqual(['troupe: shutdown phase disconnect: throws failed']);
    p.add('release', 'rejects', () => Promise.reject(new Error('no')));
    let again = false;
    p.run(['disconnect', 'release'], () => (again = true));
    await new Promise((r) => setImmediate(r));
    expect(again).toBe(true);
    expect(errors.at(-1)).toBe('troupe: shutdown phase release: rejects failed');
    expect(p.has(['release'])).toBe(true);
    expect(p.has(['unbind'])).toBe(false);
  });
});
