/**
 * Reading a provider's rate-limit headers (actors/agent/provider/rate-limit-headers.ts):
 * OpenAI's durations, Retry-After in seconds or as an HTTP date, odd values ignored.
 */
import { describe, expect, it } from 'vitest';
import {
  durationMs,
  limitsOf,
  pickRateLimitHeaders,
  retryAfterMsOf,
} from '../../../actors/agent/provider/rate-limit-headers.ts';

describe('rate-limit headers', () => {
  it.each([
    ['250ms', 250],
    ['1s', 1_000],
    ['1.5s', 1_500],
    ['6m0s', 360_000],
    ['1h2m3s', 3_723_000],
    ['2m30.5s', 150_500],
    ['17', 17_000],
  ])('reads the duration %s as %d ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it.each(['', 'soon', '1x', '5s later', '-1s'])('reads %j as no duration', (text) => {
    expect(durationMs(text)).toBeUndefined();
  });

  it('reads Retry-After as seconds, as an HTTP date, and retry-after-ms before either', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect(retryAfterMsOf({ 'retry-after': '2' }, now)).toBe(2_000);
    expect(retryAfterMsOf({ 'retry-after': 'Sun, 01 Mar 2026 12:00:30 GMT' }, now)).toBe(30_000);
    expect(retryAfterMsOf({ 'retry-after': 'Sun, 01 Mar 2026 11:00:00 GMT' }, now)).toBe(0);
    expect(retryAfterMsOf({ 'retry-after': '2', 'retry-after-ms': '350' }, now)).toBe(350);
    expect(retryAfterMsOf({ 'retry-after': 'whenever' }, now)).toBeUndefined();
    expect(retryAfterMsOf({}, now)).toBeUndefined();
  });

  it('reads the limits, what is left and when they reset', () => {
    expect(
      limitsOf({
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': 'lots',
      }),
    ).toEqual({
      requests: { limit: 500, remaining: 499, resetMs: 120 },
      tokens: { limit: 30_000 },
    });
  });

  it('picks only the rate-limit headers, and nothing when there are none', () => {
    const headers = new Headers({ 'retry-after': '1', 'content-type': 'application/json' });
    expect(pickRateLimitHeaders((n) => headers.get(n))).toEqual({ 'retry-after': '1' });
    expect(pickRateLimitHeaders(() => null)).toBeUndefined();
  });
});
