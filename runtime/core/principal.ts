/**
 * The principal: who a message acts for. The gateway stamps the principal that
 * `authenticate` gave into the metadata of every message a client sends (never from a body);
 * it rides with everything that message causes: the tells and asks an actor makes while it
 * handles it (`ctx.principal`), across threads and nodes (the envelope's `principal`).
 *
 * A stamped principal is a frozen copy the runtime made. The APIs that take a principal
 * (`AskOptions.principal`, the agents' tools) take only stamped ones: a behaviour can pass on
 * a principal it was given, or a narrower one (`narrowPrincipal`), never make one up. Plain
 * objects of the same shape are refused with InvalidPrincipalError.
 *
 * `scopes`, when a principal has them, are the permissions it grants: an agent working for it
 * uses a tool only when both the agent's config and the principal hold the tool's scope, and
 * a sub-agent it delegates to works for a principal narrowed to the delegating agent's scopes.
 * A principal without `scopes` does not narrow what an agent may do (the gateway's
 * `authorize` is then the only check).
 */
import { TroupeError, describe } from './error.ts';

/** Who is on the other end of a connection: what `authenticate` returns. */
export interface Principal {
  /** One principal's connections are counted together (`maxConnectionsPerPrincipal`). */
  readonly id: string;
  /** The permissions it grants, when it limits them (see above). */
  readonly scopes?: readonly string[];
  readonly [key: string]: unknown;
}

export class InvalidPrincipalError extends TroupeError {
  readonly value: unknown;
  constructor(value: unknown, why: string) {
    super('ERR_INVALID_PRINCIPAL', `principal ${describe(value)}: ${why}`);
    this.value = value;
  }
}

/** The longest principal id kept (characters). */
export const MAX_PRINCIPAL_ID_CHARS = 256;

const stamped = new WeakSet<object>();

/** A principal the runtime stamped (the gateway, a boundary, a narrowing). */
export function isStamped(p: unknown): p is Principal {
  return typeof p === 'object' && p !== null && stamped.has(p);
}

/**
 * Stamps `p`: a deep, frozen copy of its JSON data (functions and class instances dropped),
 * known to the runtime from then on. Throws InvalidPrincipalError for one without a string
 * `id` (1 to MAX_PRINCIPAL_ID_CHARS characters) or with `scopes` not an array of strings.
 * Runtime-internal: the gateway and the boundaries call it; it is not exported to
 * behaviours.
 */
export function stampPrincipal(p: unknown): Principal {
  if (isStamped(p)) return p;
  if (typeof p !== 'object' || p === null || Array.isArray(p))
    throw new InvalidPrincipalError(p, 'not an object');
  const id = (p as { id?: unknown }).id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_PRINCIPAL_ID_CHARS)
    throw new InvalidPrincipalError(p, `id must be a string of 1 to ${MAX_PRINCIPAL_ID_CHARS}`);
  const scopes = (p as { scopes?: unknown }).scopes;
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')))
    throw new InvalidPrincipalError(p, 'scopes must be an array of strings');
  let copy: Principal;
  try {
    copy = JSON.parse(JSON.stringify(p)) as Principal;
  } catch (error) {
    throw new InvalidPrincipalError(p, `not JSON data (${(error as Error).message})`);
  }
  const frozen = deepFreeze(copy);
  stamped.add(frozen);
  return frozen;
}

/** A stamped principal or null; throws InvalidPrincipalError for anything else. */
export function checkPrincipal(p: unknown): Principal | null {
  if (p === null || p === undefined) return null;
  if (!isStamped(p))
    throw new InvalidPrincipalError(
      p,
      'not a principal the runtime gave (pass on ctx.principal, or narrowPrincipal of it)',
    );
  return p;
}

/**
 * `p` with at most `scopes`: its own scopes (all of `scopes` when it has none) that are in
 * `scopes`. Only narrows: the result grants nothing `p` did not. Throws InvalidPrincipalError
 * when `p` is not stamped.
 */
export function narrowPrincipal(p: Principal, scopes: readonly string[]): Principal {
  checkPrincipal(p);
  const allowed = new Set(scopes);
  const kept = p.scopes === undefined ? [...allowed] : p.scopes.filter((s) => allowed.has(s));
  return stampPrincipal({ ...p, scopes: kept });
}

/** Whether `p` grants `scope`: a principal without scopes does not limit; null grants all. */
export function grants(p: Principal | null, scope: string): boolean {
  return p === null || p.scopes === undefined || p.scopes.includes(scope);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}
