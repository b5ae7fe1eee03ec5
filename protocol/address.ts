/**
 * Addresses: the name of one actor, anywhere.
 *
 * Grammar (the later thread, node and directory layers rely on it):
 *
 *   address  = "troupe://" node path          a spawned actor, e.g. troupe://local/user/swarm/worker-3
 *            | "troupe:entity/" kind "/" id   a virtual actor, resolved through a directory
 *   node     = 1*( ALPHA / DIGIT / "-" / "_" / "." / ":" )
 *   path     = ("/" segment)+                 its place in the supervision tree
 *   segment  = 1*( ALPHA / DIGIT / "-" / "_" / "." / "~" / "$" )   "$" starts system-made names only
 *   kind     = 1*64( ALPHA / DIGIT / "-" / "_" )                  ENTITY_KIND
 *   id       = 1*( unreserved / pct-encoded )  1 to MAX_ENTITY_ID_LENGTH_CHARS characters once decoded
 *
 * The scheme is lower case; node ids, path segments, kinds and ids are case-sensitive
 * (`troupe://Local/…` names another node than `troupe://local/…`).
 *
 * **The one spelling of an entity** (`entityAddress`, `canonicalAddress`): its kind and id are
 * any strings of code points, written as `encodeURIComponent` writes them: each UTF-8 byte of a
 * character other than `A–Z a–z 0–9 - _ . ! ~ * ' ( )` as `%XX` with upper-case hex digits. So
 * the id `a/b c` is `troupe:entity/room/a%2Fb%20c`, and `/`, `%`, spaces and every non-ASCII
 * character of an id are always escaped. Other spellings of the same id (`%73ecret` for
 * `secret`, lower-case hex, a raw space) decode to the same entity; `canonicalAddress` turns
 * them into the one spelling, and refuses with AmbiguousAddressError a spelling that does not
 * decode to exactly one string (a `%` not followed by two hex digits, escapes that are not
 * UTF-8: truncated or overlong sequences, encoded surrogates), and the path segments and
 * entity ids `.` and `..`, however spelled (they read as steps up or sideways). Code points are not normalised: `é` (U+00E9) and
 * `e` + U+0301 are two ids, as they are two entities.
 *
 * Top-level paths: `/user` (actors spawned by the application), `/system` (troupe's own actors,
 * and entities' activations, `/system/e.<kind>.<id in base64url>`), `/temp` (short-lived reply
 * addresses of `ask`). An address stays the same across restarts: a restarted actor is the same
 * actor.
 */
import { TroupeError, describe } from './error.ts';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** `/user/swarm/worker-3` */
export type ActorPath = Brand<string, 'ActorPath'>;
/** The id of a node (one process of a troupe cluster). */
export type NodeId = Brand<string, 'NodeId'>;
/** `troupe://<node><path>` or `troupe:entity/<kind>/<id>`. */
export type Address = Brand<string, 'Address'>;

export const ADDRESS_SCHEME = 'troupe://';
export const ENTITY_SCHEME = 'troupe:entity/';
/** Longest actor name (one path segment), in characters. */
export const MAX_NAME_LENGTH_CHARS = 128;
/** An entity kind (runtime/cluster/entities.ts checks kinds against the same rule). */
export const ENTITY_KIND = /^[A-Za-z0-9_-]{1,64}$/;
/** Longest entity id, in characters once decoded (as runtime/cluster/entities.ts allows). */
export const MAX_ENTITY_ID_LENGTH_CHARS = 1_024;

const SEGMENT = /^[A-Za-z0-9_.~$-]+$/;
const NODE = /^[A-Za-z0-9_.:-]+$/;

export class InvalidAddressError extends TroupeError {
  readonly address: unknown;
  constructor(address: unknown, why: string) {
    super('ERR_INVALID_ADDRESS', `invalid troupe address ${describe(address)}: ${why}`);
    this.address = address;
  }
}

/**
 * A spelling that does not name exactly one actor: broken or non-UTF-8 percent-escapes, or a
 * `.` / `..` path segment. `address` is what was given.
 */
export class AmbiguousAddressError extends TroupeError {
  readonly address: string;
  constructor(address: string, why: string) {
    super(
      'ERR_AMBIGUOUS_ADDRESS',
      `ambiguous troupe address ${describe(address)}: ${why}; write it as entityAddress(kind, id) does`,
    );
    this.address = address;
  }
}

export class InvalidActorNameError extends TroupeError {
  readonly actorName: unknown;
  constructor(name: unknown, why: string) {
    super('ERR_INVALID_ACTOR_NAME', `invalid actor name ${describe(name)}: ${why}`);
    this.actorName = name;
  }
}

/** Checks a user-given actor name; throws InvalidActorNameError. */
export function validateName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidActorNameError(name, 'expected a non-empty string');
  if (name.length > MAX_NAME_LENGTH_CHARS)
    throw new InvalidActorNameError(name, `longer than ${MAX_NAME_LENGTH_CHARS} characters`);
  if (name.startsWith('$'))
    throw new InvalidActorNameError(
      name,
      'names starting with "$" are reserved for generated names',
    );
  if (!SEGMENT.test(name))
    throw new InvalidActorNameError(name, 'use letters, digits, "-", "_", "." or "~"');
  return name;
}

export function validateNodeId(id: unknown): NodeId {
  if (typeof id !== 'string' || !NODE.test(id))
    throw new InvalidAddressError(id, 'a node id uses letters, digits, "-", "_", "." or ":"');
  return id as NodeId;
}

export function childPath(parent: ActorPath, name: string): ActorPath {
  return (parent === '/' ? '/' + name : parent + '/' + name) as ActorPath;
}

export function formatAddress(node: NodeId, path: ActorPath): Address {
  return (ADDRESS_SCHEME + node + path) as Address;
}

export function entityAddress(kind: string, id: string): Address {
  try {
    return (ENTITY_SCHEME + encodeURIComponent(kind) + '/' + encodeURIComponent(id)) as Address;
  } catch {
    throw new InvalidAddressError(
      `${kind}/${id}`,
      'a kind or id with a lone surrogate cannot be encoded',
    );
  }
}

export type ParsedAddress =
  | { readonly type: 'actor'; readonly node: NodeId; readonly path: ActorPath }
  | { readonly type: 'entity'; readonly kind: string; readonly id: string };

/** Parses and validates an address; throws InvalidAddressError. */
export function parseAddress(address: unknown): ParsedAddress {
  if (typeof address !== 'string') throw new InvalidAddressError(address, 'expected a string');
  if (address.startsWith(ADDRESS_SCHEME)) {
    const rest = address.slice(ADDRESS_SCHEME.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) throw new InvalidAddressError(address, 'expected troupe://<node>/<path>');
    const node = rest.slice(0, slash);
    if (!NODE.test(node)) throw new InvalidAddressError(address, 'bad node id');
    const path = rest.slice(slash);
    const segments = path.split('/').slice(1);
    for (const s of segments)
      if (!SEGMENT.test(s))
        throw new InvalidAddressError(address, `bad path segment ${describe(s)}`);
    return { type: 'actor', node: node as NodeId, path: path as ActorPath };
  }
  if (address.startsWith(ENTITY_SCHEME)) {
    const parts = address.slice(ENTITY_SCHEME.length).split('/');
    if (parts.length !== 2 || !parts[0] || !parts[1])
      throw new InvalidAddressError(address, 'expected troupe:entity/<kind>/<id>');
    try {
      return {
        type: 'entity',
        kind: decodeURIComponent(parts[0]),
        id: decodeURIComponent(parts[1]),
      };
    } catch {
      throw new InvalidAddressError(address, 'broken percent-encoding');
    }
  }
  throw new InvalidAddressError(address, 'expected the troupe:// or troupe:entity/ scheme');
}

/**
 * The one spelling of `address` (see the grammar above): an actor address as it is (its grammar
 * allows no escapes), an entity address with its kind and id decoded and written again by
 * `entityAddress`. Throws InvalidAddressError for what is not an address (a kind outside
 * ENTITY_KIND, an id longer than MAX_ENTITY_ID_LENGTH_CHARS included) and AmbiguousAddressError
 * for a spelling that does not decode to one string. `canonicalAddress(canonicalAddress(a))`
 * is `canonicalAddress(a)`.
 */
export function canonicalAddress(address: string): Address {
  if (address.startsWith(ADDRESS_SCHEME)) {
    const parsed = parseAddress(address);
    for (const s of parsed.type === 'actor' ? parsed.path.split('/') : [])
      if (s === '.' || s === '..')
        throw new AmbiguousAddressError(address, `a ${JSON.stringify(s)} path segment`);
    return address as Address;
  }
  if (!address.startsWith(ENTITY_SCHEME))
    throw new InvalidAddressError(address, 'expected the troupe:// or troupe:entity/ scheme');
  const parts = address.slice(ENTITY_SCHEME.length).split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new InvalidAddressError(address, 'expected troupe:entity/<kind>/<id>');
  let kind: string;
  let id: string;
  try {
    kind = decodeURIComponent(parts[0]);
    id = decodeURIComponent(parts[1]);
  } catch {
    throw new AmbiguousAddressError(
      address,
      'a "%" that is not followed by two hex digits, or escapes that are not UTF-8',
    );
  }
  if (!ENTITY_KIND.test(kind))
    throw new InvalidAddressError(address, 'a kind is 1 to 64 letters, digits, "_" or "-"');
  if (id.length > MAX_ENTITY_ID_LENGTH_CHARS)
    throw new InvalidAddressError(
      address,
      `an id of more than ${MAX_ENTITY_ID_LENGTH_CHARS} characters`,
    );
  // however spelled (`%2E%2e`): they read as steps up or sideways
  if (id === '.' || id === '..')
    throw new AmbiguousAddressError(address, `the entity id ${JSON.stringify(id)}`);
  return entityAddress(kind, id);
}
