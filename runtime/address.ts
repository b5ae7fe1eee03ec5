/**
 * Addresses: the name of one actor, anywhere.
 *
 * Grammar (the later thread, node and directory layers rely on it):
 *
 *   address  = "troupe://" node path          a spawned actor, e.g. troupe://local/user/swarm/worker-3
 *            | "troupe:entity/" kind "/" id   a virtual actor, resolved through a directory (later)
 *   path     = ("/" segment)+                 its place in the supervision tree
 *   segment  = 1*( ALPHA / DIGIT / "-" / "_" / "." / "~" / "$" )   "$" starts system-made names only
 *
 * Top-level paths: `/user` (actors spawned by the application), `/system` (troupe's own actors),
 * `/temp` (short-lived reply addresses of `ask`). An address stays the same across restarts:
 * a restarted actor is the same actor.
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

const SEGMENT = /^[A-Za-z0-9_.~$-]+$/;
const NODE = /^[A-Za-z0-9_.:-]+$/;

export class InvalidAddressError extends TroupeError {
  readonly address: unknown;
  constructor(address: unknown, why: string) {
    super('ERR_INVALID_ADDRESS', `invalid troupe address ${describe(address)}: ${why}`);
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
