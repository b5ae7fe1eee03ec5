import { describe, expect, it } from 'vitest';
import { supervise, type SupervisorOptions } from '../../index.ts';
import { worker } from './support.ts';

const w = worker('w', []);

const bad: [string, unknown, { field: string; rule?: string }][] = [
  ['an unknown strategy', { strategy: 'one-for-some' }, { field: 'strategy' }],
  ['a negative intensity', { intensity: -1 }, { field: 'intensity' }],
  ['a fractional intensity', { intensity: 1.5 }, { field: 'intensity' }],
  ['a zero period', { period: 0 }, { field: 'period' }],
  ['an unknown option', { restartStrategy: 'x' }, { field: 'restartStrategy' }],
  ['children that are not an array', { children: {} }, { field: 'children' }],
  ['a child without id', { children: [{ behaviour: w }] }, { field: 'children[0].id' }],
  [
    'a child id that is not a valid name',
    { children: [{ id: 'a/b', behaviour: w }] },
    { field: 'children[0].id' },
  ],
  ['a child without behaviour', { children: [{ id: 'a' }] }, { field: 'children[0].behaviour' }],
  [
    'an unknown restart type',
    { children: [{ id: 'a', behaviour: w, restart: 'always' }] },
    { field: 'children[0].restart' },
  ],
  [
    'a negative shutdown',
    { children: [{ id: 'a', behaviour: w, shutdown: -5 }] },
    { field: 'children[0].shutdown' },
  ],
  [
    'an unknown child key',
    { children: [{ id: 'a', behaviour: w, restrat: 'permanent' }] },
    { field: 'children[0].restrat' },
  ],
  [
    'a non-boolean significant',
    {
      autoShutdown: 'any-significant',
      children: [{ id: 'a', behaviour: w, restart: 'transient', significant: 'yes' }],
    },
    { field: 'children[0].significant' },
  ],
  ['an unknown autoShutdown', { autoShutdown: 'sometimes' }, { field: 'autoShutdown' }],
  [
    'a backoff with maxMs below minMs',
    { backoff: { minMs: 100, maxMs: 10 } },
    { field: 'backoff.maxMs' },
  ],
  [
    'a backoff jitter above 1',
    { backoff: { minMs: 1, maxMs: 10, jitter: 2 } },
    { field: 'backoff.jitter' },
  ],
  [
    'a significant permanent child',
    { autoShutdown: 'any-significant', children: [{ id: 'a', behaviour: w, significant: true }] },
    { field: 'children[0].significant', rule: 'significant-permanent' },
  ],
  [
    'a significant child with autoShutdown never',
    { children: [{ id: 'a', behaviour: w, restart: 'transient', significant: true }] },
    { field: 'children[0].significant', rule: 'significant-without-auto' },
  ],
  [
    'two children with one id',
    {
      children: [
        { id: 'a', behaviour: w },
        { id: 'a', behaviour: w },
      ],
    },
    { field: 'children[1].id', rule: 'duplicate-id' },
  ],
  [
    'simple-one-for-one with two specs',
    {
      strategy: 'simple-one-for-one',
      children: [
        { id: 'a', behaviour: w },
        { id: 'b', behaviour: w },
      ],
    },
    { field: 'children', rule: 'simple-one-template' },
  ],
  [
    'an unknown child type',
    { children: [{ id: 'a', behaviour: () => w, type: 'process' }] },
    { field: 'children[0].type' },
  ],
  [
    'a type that contradicts the behaviour',
    { children: [{ id: 'a', behaviour: w, type: 'supervisor' }] },
    { field: 'children[0].type', rule: 'type-matches-behaviour' },
  ],
  [
    'an unknown backoff key',
    { backoff: { minMs: 1, maxMs: 10, factor: 2 } },
    { field: 'backoff.factor' },
  ],
];

/** The value at a field path such as `children[1].id` in the options given. */
function at(options: unknown, field: string): unknown {
  let v: unknown = options;
  for (const part of field.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== ''))
    v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

describe('supervisor spec validation', () => {
  for (const [what, options, expected] of bad)
    if (expected.rule === undefined)
      it(`names the bad value of ${what} (${expected.field})`, () => {
        expect(() => supervise(options as SupervisorOptions)).toThrow(
          expect.objectContaining({ field: expected.field, value: at(options, expected.field) }),
        );
      });

  for (const [what, options, expected] of bad) {
    it(`refuses ${what} with ERR_SUPERVISOR_SPEC naming ${expected.field}${expected.rule ? ` and rule ${expected.rule}` : ''}`, () => {
      expect(() => supervise(options as SupervisorOptions)).toThrow(
        expect.objectContaining({ code: 'ERR_SUPERVISOR_SPEC', ...expected }),
      );
    });
  }

  it('accepts OTP defaults and Infinity or brutal shutdowns', () => {
    expect(() => supervise({})).not.toThrow();
    expect(() =>
      supervise({
        children: [
          { id: 'a', behaviour: w, shutdown: Infinity },
          { id: 'b', behaviour: w, shutdown: 'brutal' },
          { id: 'c', behaviour: w, shutdown: 0 },
        ],
      }),
    ).not.toThrow();
  });
});
