/**
 * The rate-limit headers of a provider's answer, carried as data and read here. A provider
 * that speaks HTTP copies them onto its reply (`ModelReply.rateLimitHeaders`) and its errors
 * (`ModelCallError.rateLimitHeaders`), lower-case names, values as sent; a shared client
 * (shared-model.ts) reads them with its own clock:
 *
 * - `x-ratelimit-limit-requests` / `-tokens`: the key's limits, read as per minute (OpenAI's
 *   RPM and TPM);
 * - `x-ratelimit-remaining-requests` / `-tokens`: what is left of them now;
 * - `x-ratelimit-reset-requests` / `-tokens`: when they are whole again, as OpenAI writes a
 *   duration (`250ms`, `1.5s`, `6m0s`, `1h2m`);
 * - `retry-after-ms` (OpenAI's, wins) or `retry-after`: seconds, or an HTTP date.
 *
 * A value that does not parse is ignored (undefined), never an error: a provider's odd header
 * must not fail a call that succeeded.
 */

/** Rate-limit headers of one answer: lower-case names, values as sent. */
export type RateLimitHeaders = Readonly<Record<string, string>>;

/** The headers providers copy (RATE_LIMIT_HEADER_NAMES), in this order. */
export const RATE_LIMIT_HEADER_NAMES = [
  'retry-after',
  'retry-after-ms',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
] as const;

/** The rate-limit headers among those `get` returns; undefined when there are none. */
export function pickRateLimitHeaders(
  get: (name: string) => string | null | undefined,
): RateLimitHeaders | undefined {
  const out: Record<string, string> = {};
  let any = false;
  for (const name of RATE_LIMIT_HEADER_NAMES) {
    const v = get(name);
    if (typeof v === 'string' && v !== '') {
      out[name] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

/** One limit as reported: each part absent when its header is missing or does not parse. */
export interface LimitReport {
  readonly limit?: number;
  readonly remaining?: number;
  readonly resetMs?: number;
}

/** The requests and tokens limits the headers report. */
export function limitsOf(headers: RateLimitHeaders): {
  readonly requests: LimitReport;
  readonly tokens: LimitReport;
} {
  return { requests: reportOf(headers, 'requests'), tokens: reportOf(headers, 'tokens') };
}

function reportOf(headers: RateLimitHeaders, kind: 'requests' | 'tokens'): LimitReport {
  const limit = count(headers[`x-ratelimit-limit-${kind}`]);
  const remaining = count(headers[`x-ratelimit-remaining-${kind}`]);
  const reset = headers[`x-ratelimit-reset-${kind}`];
  const resetMs = reset === undefined ? undefined : durationMs(reset);
  return {
    ...(limit === undefined || limit === 0 ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(resetMs === undefined ? {} : { resetMs }),
  };
}

function count(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** `250ms`, `1.5s`, `6m0s`, `1h2m3s` (or a bare number of seconds) in ms; undefined if not one. */
export function durationMs(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t) * 1_000;
  if (t === '') return undefined;
  DURATION_PART.lastIndex = 0;
  let ms = 0;
  while (DURATION_PART.lastIndex < t.length) {
    const m = DURATION_PART.exec(t);
    if (m === null) return undefined;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return ms;
}

/**
 * How long the answer asks the client to wait, in ms from `nowMs` (epoch ms: the client's
 * clock): `retry-after-ms`, else `retry-after` as seconds or as an HTTP date (a date in the
 * past is 0). Undefined when neither is there or parses.
 */
export function retryAfterMsOf(headers: RateLimitHeaders, nowMs: number): number | undefined {
  const ms = headers['retry-after-ms']?.trim();
  if (ms !== undefined && /^\d+(?:\.\d+)?$/.test(ms)) return Number(ms);
  const after = headers['retry-after']?.trim();
  if (after === undefined || after === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(after)) return Number(after) * 1_000;
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
