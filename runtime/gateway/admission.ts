/**
 * Admission: the gateway option `admission`, a chain of steps a client's `send` or `ask` goes
 * through after `authorize` allowed it and before it reaches the actor. Per-user limits and
 * input guardrails plug in here without the runtime knowing what they check.
 *
 * - A step gets `{ op, target, message, principal }` (`target` as `authorize` saw it;
 *   `message` as the step before left it) and answers, or resolves to:
 *   `{ allow: true }` (on to the next step), `{ allow: true, message }` (on, with `message`
 *   in place of the client's: a redaction, a normalisation), or
 *   `{ allow: false, reason, code? }`: the request is answered with an `error` frame of code
 *   `refused` (the default: a check said no) or `limited` (a limit: try later), with `reason`
 *   as its message (at most 256 characters are sent), and nothing reaches the actor.
 * - Steps run one at a time, in order; a step's promise holds the connection's later requests
 *   behind it, as `authorize`'s does, and the whole chain must answer within
 *   `limits.authorizeTimeoutMs` together with `authorize`.
 * - A step that throws, rejects or answers anything else is logged, and the request is
 *   answered `internal`; the connection stays.
 */
import { InvalidOptionError } from '../core/index.ts';
import type { Principal } from '../core/index.ts';

export interface AdmissionRequest {
  readonly op: 'send' | 'ask';
  readonly target: string;
  readonly message: unknown;
  readonly principal: Principal;
}

export type AdmissionVerdict =
  | { readonly allow: true; readonly message?: unknown }
  | { readonly allow: false; readonly reason: string; readonly code?: 'refused' | 'limited' };

export type AdmissionStep = (
  request: AdmissionRequest,
) => AdmissionVerdict | Promise<AdmissionVerdict>;

/** How a request fared: on to the actor with `message`, or an error frame. */
export type Decision =
  | { readonly ok: true; readonly message: unknown }
  | {
      readonly ok: false;
      readonly code: 'forbidden' | 'refused' | 'limited' | 'internal';
      readonly reason: string;
    };

/** The longest reason a denial sends to the client (characters). */
export const MAX_REASON_CHARS = 256;

/** `options.gateway.admission` checked: an array of functions (default none). */
export function resolveAdmission(field: string, v: unknown): readonly AdmissionStep[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'function'))
    throw new InvalidOptionError(field, v, 'an array of functions (request) => verdict');
  return [...(v as AdmissionStep[])];
}

/** A step answered what no verdict is, or threw: logged by the caller. */
export class AdmissionError extends Error {
  readonly step: number;
  constructor(step: number, why: string, options?: { cause?: unknown }) {
    super(`admission step ${step} ${why}`, options);
    this.step = step;
  }
}

/**
 * Runs `steps` from `from` for `request`: the decision, now when every step answers at once,
 * else a promise of it. Throws (or rejects with) AdmissionError for a step that fails.
 */
export function admit(
  steps: readonly AdmissionStep[],
  request: AdmissionRequest,
  from = 0,
): Decision | Promise<Decision> {
  let message = request.message;
  for (let i = from; i < steps.length; i++) {
    let v: AdmissionVerdict | Promise<AdmissionVerdict>;
    try {
      v = steps[i]!({ ...request, message });
    } catch (error) {
      throw new AdmissionError(i, 'threw', { cause: error });
    }
    if (isThenable(v)) {
      const next = { ...request, message };
      return Promise.resolve(v).then(
        (answer) => {
          const d = verdictOf(i, answer, next.message);
          return d.ok && i + 1 < steps.length
            ? admit(steps, { ...next, message: d.message }, i + 1)
            : d;
        },
        (error: unknown) => {
          throw error instanceof AdmissionError
            ? error
            : new AdmissionError(i, 'rejected', { cause: error });
        },
      );
    }
    const d = verdictOf(i, v, message);
    if (!d.ok) return d;
    message = d.message;
  }
  return { ok: true, message };
}

function verdictOf(step: number, v: unknown, message: unknown): Decision {
  if (typeof v === 'object' && v !== null) {
    const o = v as { allow?: unknown; message?: unknown; reason?: unknown; code?: unknown };
    if (o.allow === true) return { ok: true, message: 'message' in o ? o.message : message };
    if (
      o.allow === false &&
      typeof o.reason === 'string' &&
      (o.code === undefined || o.code === 'refused' || o.code === 'limited')
    )
      return {
        ok: false,
        code: (o.code as 'refused' | 'limited' | undefined) ?? 'refused',
        reason: o.reason.slice(0, MAX_REASON_CHARS),
      };
  }
  throw new AdmissionError(
    step,
    'answered no verdict ({ allow: true } or { allow: false, reason })',
  );
}

function isThenable(v: unknown): v is PromiseLike<AdmissionVerdict> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
