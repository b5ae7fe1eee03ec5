/**
 * Anthropic's rate-limit headers, mapped onto the names a shared client reads
 * (provider/rate-limit-headers.ts), so that it learns an Anthropic key's limits as it learns
 * an OpenAI key's:
 *
 * | Anthropic sends                                   | carried as                        |
 * | ------------------------------------------------- | --------------------------------- |
 * | `anthropic-ratelimit-requests-limit`              | `x-ratelimit-limit-requests`      |
 * | `anthropic-ratelimit-requests-remaining`          | `x-ratelimit-remaining-requests`  |
 * | `anthropic-ratelimit-requests-reset` (RFC 3339)   | `x-ratelimit-reset-requests`      |
 * | `anthropic-ratelimit-tokens-limit`                | `x-ratelimit-limit-tokens`        |
 * | `anthropic-ratelimit-tokens-remaining`            | `x-ratelimit-remaining-tokens`    |
 * | `anthropic-ratelimit-tokens-reset` (RFC 3339)     | `x-ratelimit-reset-tokens`        |
 * | `retry-after` (seconds)                           | `retry-after`, as sent            |
 *
 * Anthropic's limits are per minute (RPM, and input and output tokens per minute), as the
 * shared client reads them. `anthropic-ratelimit-tokens-*` is the most restrictive token
 * limit in effect; when it is absent, the input-token limit (`anthropic-ratelimit-input-
 * tokens-*`, which an agent's growing prompts reach first) stands in for it. The output-token
 * limit has no counterpart: the shared client keeps one token bucket. A reset is a time of
 * day in Anthropic's headers and a duration in OpenAI's: it is carried as the milliseconds
 * from `nowMs` (the client's clock when the answer came) to that time, `0ms` when it is past.
 *
 * Headers a server sends under OpenAI's names (`x-ratelimit-*`, `retry-after-ms`, as a proxy
 * in front of Anthropic may) are carried as sent; Anthropic's own win over them. A value that
 * does not parse is left out, never an error.
 */
import { pickRateLimitHeaders, type RateLimitHeaders } from './provider/rate-limit-headers.ts';

const PARTS = ['limit', 'remaining', 'reset'] as const;

/** The rate-limit headers among those `get` returns, under OpenAI's names; undefined if none. */
export function anthropicRateLimitHeaders(
  get: (name: string) => string | null | undefined,
  nowMs: number,
): RateLimitHeaders | undefined {
  const out: Record<string, string> = { ...pickRateLimitHeaders(get) };
  const tokens = get('anthropic-ratelimit-tokens-limit') ? 'tokens' : 'input-tokens';
  for (const [kind, from] of [
    ['requests', 'requests'],
    ['tokens', tokens],
  ] as const) {
    for (const part of PARTS) {
      const raw = get(`anthropic-ratelimit-${from}-${part}`)?.trim();
      if (raw === undefined || raw === '') continue;
      const value = part === 'reset' ? resetOf(raw, nowMs) : countOf(raw);
      if (value !== undefined) out[`x-ratelimit-${part}-${kind}`] = value;
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function countOf(raw: string): string | undefined {
  return /^\d+$/.test(raw) ? raw : undefined;
}

function resetOf(raw: string, nowMs: number): string | undefined {
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : `${Math.max(0, Math.ceil(at - nowMs))}ms`;
}
