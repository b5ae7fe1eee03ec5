/**
 * runUntrusted: runs a piece of untrusted code once and gives back its result, for agents'
 * code-execution tools.
 *
 *   const sum = await runUntrusted('return input.xs.reduce((a, b) => a + b, 0)', { xs: [1, 2, 3] });
 *
 * `source` is the body of an async function of `input`: it may `await` (promises settle by
 * microtasks only: there are no timers or I/O inside) and `return` the result, which is
 * copied out as JSON. `input` is copied in as JSON. It runs in a fresh context of a pooled
 * isolate of `options.domain` (default 'default'), within `limits` (sandbox/limits.ts): the
 * CPU limit bounds each call into the isolate, the wall limit the whole run (compiling
 * included). It rejects with SandboxLimitError (the isolate is then disposed),
 * SandboxCodeError (the code threw, or its promise never settles), SandboxSourceError (it does
 * not compile), SandboxHostLostError (its host process ended) or InvalidOptionError (bad
 * arguments, naming the field). It runs in this thread's sandbox host process; a call the
 * CPU limit cannot stop gets the host killed at its limit plus the watchdog's grace
 * (sandbox/config.ts): in mode 'process' each call into the isolate is watched, in mode
 * 'thread' (one synchronous call, the thread waits) the whole run against its wall limit.
 *
 * `options.log`, when given, receives what the code passes to `log(...values)` (a function
 * in scope only then), one line per call, after the run.
 */
import { InvalidOptionError } from '../runtime/core/error.ts';
import { grantLetters, RefBook } from './engine.ts';
import { isPlainObject, resolveLimits, SandboxCodeError, type SandboxLimits } from './limits.ts';
import { sandboxMode } from './config.ts';
import { sandboxHost } from './host-link.ts';
import { syncHost } from './sync-link.ts';
import { failureError, type HostFrame, type HostResult } from './host-protocol.ts';
import { DEFAULT_DOMAIN, MAX_SOURCE_CHARS } from './behaviour.ts';

export interface RunUntrustedOptions {
  /** Its trust domain (isolates are reused only within one). */
  readonly domain?: string;
  /** Receives the code's `log(...)` lines; without it there is no `log` inside. */
  readonly log?: (line: string) => void;
  /** The code's `Date` reads the real clock (otherwise the time the run started). */
  readonly clock?: boolean;
}

export async function runUntrusted<T = unknown>(
  source: string,
  input?: unknown,
  limits?: SandboxLimits,
  options: RunUntrustedOptions = {},
): Promise<T> {
  if (typeof source !== 'string' || source.length === 0)
    throw new InvalidOptionError('source', source, 'the code, as a non-empty string');
  if (source.length > MAX_SOURCE_CHARS)
    throw new InvalidOptionError(
      'source',
      `${source.length} characters`,
      `at most ${MAX_SOURCE_CHARS}`,
    );
  const resolved = resolveLimits('limits', limits);
  if (!isPlainObject(options))
    throw new InvalidOptionError('options', options, 'an object ({ domain, log, clock })');
  const domain = options.domain ?? DEFAULT_DOMAIN;
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > 256)
    throw new InvalidOptionError(
      'options.domain',
      domain,
      'a non-empty string of at most 256 characters',
    );
  if (options.log !== undefined && typeof options.log !== 'function')
    throw new InvalidOptionError('options.log', options.log, 'a function (line) => void');
  if (options.clock !== undefined && typeof options.clock !== 'boolean')
    throw new InvalidOptionError('options.clock', options.clock, 'a boolean');
  const granted = {
    tell: false,
    emit: false,
    log: options.log !== undefined,
    clock: options.clock === true,
  };
  const grants = grantLetters(granted);
  const refs = new RefBook('runUntrusted', resolved.copyBytes, granted);
  const json = refs.copyIn(input ?? null);
  // the code's own text is the function's body: whatever it does to the wrapping, only what
  // the wrapper evaluates to is used, and only when it is a function
  const wrapped = `(async function (input, log) {\n${source}\n})`;
  const frame = (id: number): HostFrame => ['u', id, wrapped, json, resolved, grants, domain];
  let r: HostResult;
  if (sandboxMode() === 'thread') {
    // one synchronous call, watched as a whole: its wall limit (compiling included)
    const link = syncHost();
    r = link.call(frame(link.nextId()) as Extract<HostFrame, readonly ['u', ...unknown[]]>, {
      path: 'runUntrusted',
      budgetMs: resolved.wallMs,
      limit: 'wall',
      allowed: resolved.wallMs,
    });
  } else r = await sandboxHost().request(resolved, frame);
  if (r[1] === 'f') throw failureError(r[2], 'runUntrusted', resolved);
  if (r[1] !== 't')
    throw new SandboxCodeError('runUntrusted', 'Error', 'the sandbox host answered what it cannot');
  const [, , result, effects] = r;
  if (options.log !== undefined)
    for (const text of effects)
      for (const e of refs.effects(text)) if (e.kind === 'log') options.log(e.text);
  return refs.read(result) as T;
}
