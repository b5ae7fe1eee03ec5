/**
 * The mock model server's options, their defaults and one validator per field.
 *
 * Every option can also be set per request by a header (see server.ts); a header wins over
 * the option, and the option over the environment (`MOCK_LATENCY_MS` only).
 *
 * - `port` (default 0: a free port): the server listens on 127.0.0.1 only.
 * - `latencyMs` (default `MOCK_LATENCY_MS` from `env`, else 0): real time waited before each
 *   model reply is written. Faults answer at once.
 * - `mode` (default `'reply'`): `'reply'` calls a tool until a tool result came back since the
 *   last user message, then answers text; `'loop'` always calls the tool.
 * - `repeatArguments` (default false): in loop mode, the same arguments on every call instead
 *   of arguments that vary with a call counter.
 * - `toolName` (default: the first offered tool): which offered tool to call.
 * - `outage`: 503 for requests arriving `fromMs` ≤ t < `toMs` after start (or the last reset;
 *   `toMs` may be Infinity), or for the first `requests` requests.
 * - `rateLimit`: at most `requests` requests and `tokens` tokens (prompt + completion) per
 *   fixed window of `windowMs` (default 60,000); beyond them 429 with `Retry-After`.
 * - `badRequest`: the first `requests` requests answer a non-retryable 400.
 * - `streamCut`: a streamed reply's socket is destroyed after `afterChunks` SSE events, for
 *   the first `requests` streamed replies (default Infinity).
 * - `maxBodyBytes` (default 16 MiB): a request body past it answers 413.
 * - `clock` (default the monotonic `performance.now`): the time outage windows and rate-limit
 *   windows are measured in; tests pass a simulated one.
 * - `env` (default `process.env`): where `MOCK_LATENCY_MS` is read.
 *
 * Request counts (`requests` above) count model requests (the four `/v1/*` endpoints) from
 * start or the last `reset()`.
 */

export type MockMode = 'reply' | 'loop';

export interface Clock {
  now(): number;
}

export type OutageOption = { fromMs: number; toMs: number } | { requests: number };

export interface RateLimitOption {
  /** requests per window; default Infinity */
  requests?: number;
  /** prompt + completion tokens per window; default Infinity */
  tokens?: number;
  /** the window's length; default 60,000 */
  windowMs?: number;
}

export interface StreamCutOption {
  afterChunks: number;
  /** how many streamed replies are cut; default Infinity */
  requests?: number;
}

export interface MockModelOptions {
  port?: number;
  latencyMs?: number;
  mode?: MockMode;
  repeatArguments?: boolean;
  toolName?: string;
  outage?: OutageOption;
  rateLimit?: RateLimitOption;
  badRequest?: { requests: number };
  streamCut?: StreamCutOption;
  maxBodyBytes?: number;
  clock?: Clock;
  env?: Record<string, string | undefined>;
}

export interface ResolvedOptions {
  port: number;
  latencyMs: number;
  mode: MockMode;
  repeatArguments: boolean;
  toolName: string | undefined;
  outage: OutageOption | undefined;
  rateLimit: Required<RateLimitOption> | undefined;
  badRequest: { requests: number } | undefined;
  streamCut: Required<StreamCutOption> | undefined;
  maxBodyBytes: number;
  clock: Clock;
}

export const DEFAULTS = {
  port: 0,
  latencyMs: 0,
  mode: 'reply',
  repeatArguments: false,
  rateLimitWindowMs: 60_000,
  maxBodyBytes: 16 * 1024 * 1024,
} as const;

export class MockModelOptionError extends Error {
  readonly code = 'ERR_MOCK_MODEL_OPTION';
  readonly option: string;
  readonly value: unknown;
  constructor(option: string, value: unknown, expected: string) {
    super(`options.${option} must be ${expected}, got ${JSON.stringify(value)}`);
    this.option = option;
    this.value = value;
  }
}

const monotonic: Clock = { now: () => performance.now() };

function count(option: string, value: unknown): number {
  if (value === Infinity) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new MockModelOptionError(option, value, 'an integer ≥ 0 or Infinity');
  }
  return value;
}

function port(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new MockModelOptionError('port', value, 'an integer from 0 to 65535');
  }
  return value;
}

function millis(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new MockModelOptionError(option, value, 'a finite number of ms ≥ 0');
  }
  return value;
}

function mode(value: unknown): MockMode {
  if (value !== 'reply' && value !== 'loop') {
    throw new MockModelOptionError('mode', value, "'reply' or 'loop'");
  }
  return value;
}

function outage(value: OutageOption | undefined): OutageOption | undefined {
  if (value === undefined) return undefined;
  if ('requests' in value) return { requests: count('outage.requests', value.requests) };
  const fromMs = millis('outage.fromMs', value.fromMs);
  const toMs = value.toMs === Infinity ? Infinity : millis('outage.toMs', value.toMs);
  if (toMs < fromMs) throw new MockModelOptionError('outage.toMs', toMs, `≥ fromMs (${fromMs})`);
  return { fromMs, toMs };
}

function rateLimit(value: RateLimitOption | undefined): Required<RateLimitOption> | undefined {
  if (value === undefined) return undefined;
  const windowMs = millis('rateLimit.windowMs', value.windowMs ?? DEFAULTS.rateLimitWindowMs);
  if (windowMs === 0) throw new MockModelOptionError('rateLimit.windowMs', 0, 'more than 0 ms');
  return {
    requests: count('rateLimit.requests', value.requests ?? Infinity),
    tokens: count('rateLimit.tokens', value.tokens ?? Infinity),
    windowMs,
  };
}

function streamCut(value: StreamCutOption | undefined): Required<StreamCutOption> | undefined {
  if (value === undefined) return undefined;
  return {
    afterChunks: count('streamCut.afterChunks', value.afterChunks),
    requests: count('streamCut.requests', value.requests ?? Infinity),
  };
}

function toolName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new MockModelOptionError('toolName', value, 'a non-empty string');
  }
  return value;
}

function latency(options: MockModelOptions): number {
  if (options.latencyMs !== undefined) return millis('latencyMs', options.latencyMs);
  const env = (options.env ?? process.env).MOCK_LATENCY_MS;
  if (env === undefined || env === '') return DEFAULTS.latencyMs;
  return millis('env.MOCK_LATENCY_MS', Number(env));
}

/** Defaults merged, then each field validated; throws MockModelOptionError naming the field. */
export function resolveOptions(options: MockModelOptions = {}): ResolvedOptions {
  const maxBodyBytes = count('maxBodyBytes', options.maxBodyBytes ?? DEFAULTS.maxBodyBytes);
  return {
    port: port(options.port ?? DEFAULTS.port),
    latencyMs: latency(options),
    mode: mode(options.mode ?? DEFAULTS.mode),
    repeatArguments: options.repeatArguments ?? DEFAULTS.repeatArguments,
    toolName: toolName(options.toolName),
    outage: outage(options.outage),
    rateLimit: rateLimit(options.rateLimit),
    badRequest: options.badRequest && {
      requests: count('badRequest.requests', options.badRequest.requests),
    },
    streamCut: streamCut(options.streamCut),
    maxBodyBytes,
    clock: options.clock ?? monotonic,
  };
}
