/**
 * What a client may name, and the one spelling `authorize` sees (protocol/CLIENT-PROTOCOL.md §3).
 *
 * A request's target is resolved once, here, before `authorize` is called, and the name
 * `authorize` sees is the name of what the request reaches:
 * - a topic (`kind: "topic"`): its name as given, 1 to MAX_TOPIC_LENGTH characters;
 * - an actor path of this node (`/user/board`): the address `troupe://<this node>/user/board`;
 * - an address: its canonical spelling (runtime/address.ts, `canonicalAddress`). An entity's
 *   kind and id are decoded and escaped again, so `troupe:entity/vault/%73ecret` is seen, and
 *   reached, as `troupe:entity/vault/secret`.
 *
 * Refused (the gateway answers `error` `bad-target`, the connection stays open), with
 * BadTargetError naming why: an empty target or one over MAX_TARGET_LENGTH (a topic: over
 * MAX_TOPIC_LENGTH), what is not an address, an ambiguous spelling (AmbiguousAddressError), an
 * entity id that is `.` or `..` once decoded (as the path segments `.` and `..` are), and on
 * any node the paths under `/temp` (ask reply addresses) and `/system/e.*` (entities'
 * activations). An entity is reached only through its entity address, so a rule written about
 * that address covers every way to the entity.
 */
import { MAX_TARGET_LENGTH } from '../../protocol/client-protocol.ts';
import { TroupeError, describe } from '../core/index.ts';
import {
  ADDRESS_SCHEME,
  canonicalAddress,
  parseAddress,
  type Address,
  type NodeId,
  type ParsedAddress,
} from '../../protocol/address.ts';
import { MAX_TOPIC_LENGTH } from '../topics/topics.ts';
import type { GatewayOp } from './options.ts';

/** A target as the gateway resolved it. */
export type ClientTarget =
  | { readonly type: 'topic'; readonly name: string }
  | { readonly type: 'actor'; readonly address: Address; readonly parsed: ParsedAddress };

/** A target a client may not name; `cause` is the address error, when there is one. */
export class BadTargetError extends TroupeError {
  readonly target: string;
  constructor(target: string, why: string, cause?: unknown) {
    super('ERR_BAD_TARGET', `${why} (target ${describe(target)})`, { cause });
    this.target = target;
  }
}

/** The prefix of entities' activations' names under `/system` (runtime/cluster/entities.ts). */
const ACTIVATION_PREFIX = 'e.';

/** Resolves what a client names for `op`; throws BadTargetError. */
export function resolveClientTarget(op: GatewayOp, target: string, node: NodeId): ClientTarget {
  if (op === 'topic') {
    if (target.length === 0 || target.length > MAX_TOPIC_LENGTH)
      throw new BadTargetError(target, `a topic name is 1 to ${MAX_TOPIC_LENGTH} characters`);
    return { type: 'topic', name: target };
  }
  // measured as sent, before anything is decoded: cheap, and what the SDK's checkTarget checks
  if (target.length === 0 || target.length > MAX_TARGET_LENGTH)
    throw new BadTargetError(target, `a target is 1 to ${MAX_TARGET_LENGTH} characters`);
  let address: Address;
  try {
    address = canonicalAddress(target.startsWith('/') ? ADDRESS_SCHEME + node + target : target);
  } catch (e) {
    throw new BadTargetError(target, `not an actor address or path: ${(e as Error).message}`, e);
  }
  const parsed = parseAddress(address);
  // `troupe:entity/room/..` reads as a step up, as `/user/..` does (canonicalAddress refuses
  // those segments); the id is decoded here, so `%2E%2e` is caught with `..`
  if (parsed.type === 'entity' && (parsed.id === '.' || parsed.id === '..'))
    throw new BadTargetError(
      target,
      `an entity id ${JSON.stringify(parsed.id)} (in any spelling) reads as a path step: name another id`,
    );
  if (parsed.type === 'actor') {
    const [top, second] = parsed.path.split('/').slice(1);
    if (top === 'temp')
      throw new BadTargetError(target, 'a temporary address cannot be reached from a client');
    if (top === 'system' && second !== undefined && second.startsWith(ACTIVATION_PREFIX))
      throw new BadTargetError(
        target,
        "an entity's activation cannot be reached from a client: use its troupe:entity/<kind>/<id> address",
      );
  }
  return { type: 'actor', address, parsed };
}
