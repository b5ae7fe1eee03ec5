/**
 * The Redis keys of one cluster. Every key carries the cluster's name as a hash tag
 * (`troupe:{<name>}:…`), so a cluster's keys share one slot: Lua scripts may touch several,
 * as Redis Cluster and Valkey require. (Tested on a single Redis only; the scripts also read
 * heartbeat keys they are not passed in KEYS, which a cluster allows within one slot.) Names of entities and snapshot keys are
 * put in as they are (a key is binary-safe); only the tag must not contain `{` or `}`.
 */
export interface ClusterKeys {
  readonly name: string;
  /** Every key of the cluster starts with it (for tests that clean up). */
  readonly prefix: string;
  /** A node's heartbeat: its incarnation, with a TTL. */
  heartbeat(node: string): string;
  /** The members: node → its record (JSON). */
  readonly members: string;
  /** Joins and leaves are published here. */
  readonly events: string;
  /** An entity's claim: node, incarnation, epoch. */
  claim(kind: string, id: string): string;
  /** A snapshot. */
  snapshot(key: string): string;
  /** Due reminders: a sorted set by due time. */
  readonly reminders: string;
  /** Activations counted per entity (for tests and the inspector). */
  readonly activations: string;
}

const CLUSTER_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isClusterName(name: unknown): name is string {
  return typeof name === 'string' && CLUSTER_NAME.test(name);
}

export function clusterKeys(name: string): ClusterKeys {
  const p = `troupe:{${name}}:`;
  return {
    name,
    prefix: p,
    heartbeat: (node) => `${p}hb:${node}`,
    members: `${p}members`,
    events: `${p}events`,
    claim: (kind, id) => `${p}claim:${kind}:${id}`,
    snapshot: (key) => `${p}snap:${key}`,
    reminders: `${p}reminders`,
    activations: `${p}activations`,
  };
}
