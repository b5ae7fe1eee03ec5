/**
 * Supervisor and child specifications, and their validation.
 *
 * Supervisor flags (OTP's names, times in milliseconds):
 *   strategy      one-for-one | one-for-all | rest-for-one | simple-one-for-one   (default one-for-one)
 *   intensity     restarts allowed within `period`, integer ≥ 0                    (default 1)
 *   period        the window of `intensity`, ms > 0                                (default 5,000)
 *   autoShutdown  never | any-significant | all-significant                        (default never)
 *   backoff       { minMs, maxMs, jitter?, resetAfterMs? }: wait between restarts   (default none)
 *   random        () => [0, 1), for backoff jitter                                  (default Math.random)
 *   children      child specs, started in list order, stopped in reverse
 *
 * Child spec:
 *   id            the child's name (its path segment), unique in the supervisor    (mandatory)
 *   behaviour     what it runs: a behaviour, or a factory called at each spawn     (mandatory)
 *                 (`() => behaviour`; for simple-one-for-one `(arg) => behaviour`, arg from
 *                 startChild) that may return IGNORE instead: the child is not started (OTP's
 *                 `ignore`, see supervisors/supervisor.ts)
 *   type          worker | supervisor: what whichChildren and countChildren report
 *                 (default: supervisor for a supervise(…) behaviour, else worker; for a
 *                 behaviour object it must match it)
 *   restart       permanent | transient | temporary                                (default permanent)
 *   shutdown      ms to stop, Infinity, or 'brutal'
 *                 (default: the spawned behaviour's, 5,000 for workers, Infinity for supervisors)
 *   significant   its termination can shut the supervisor down (autoShutdown)     (default false)
 *   shard         where it runs, with shards: a shard id, 'least-loaded' or 'round-robin'
 *                 (runtime/shards/router.ts; another shard than the supervisor's needs a
 *                 portable behaviour)                               (default: the supervisor's)
 *   mailbox, persistence   passed to spawn
 *
 * Strictness: the flags, each child spec and `backoff` are closed records. A key that is not
 * listed above (a typo such as `restrat`, an option from another runtime) is refused, not
 * ignored: SupervisorSpecError (code ERR_SUPERVISOR_SPEC) whose `field` is the key's path
 * (`restartStrategy`, `children[0].restrat`, `backoff.factor`) and `value` the value given.
 * So is a known key with a bad value (`field` names it, the message says what it must be).
 * `supervise` throws it at once; startChild on a static supervisor answers it
 * (SupervisorRequestError with the same code); checkChildSpecs (supervisors/api.ts) throws it.
 *
 * Rules for combinations (each refused with its name in `rule`):
 *   significant-permanent       a significant child cannot be permanent (OTP)
 *   significant-without-auto    significant children need autoShutdown other than never (OTP)
 *   simple-one-template         simple-one-for-one takes exactly one child spec, its template
 *   type-matches-behaviour      a declared `type` agrees with a behaviour object's kind
 *   duplicate-id                ids are unique
 */
import { TroupeError, describe } from '../runtime/core/error.ts';
import { validateName } from '../protocol/address.ts';
import type { Behaviour } from '../runtime/core/behaviour.ts';
import type { MailboxOptions } from '../runtime/core/mailbox.ts';
import type { PersistenceOptions } from '../runtime/core/persistence.ts';
import { isShardChoice, SHARD_CHOICE, type ShardChoice } from '../runtime/core/options.ts';
import type { BackoffOptions } from './backoff.ts';

export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one' | 'simple-one-for-one';
export type RestartType = 'permanent' | 'transient' | 'temporary';
export type AutoShutdown = 'never' | 'any-significant' | 'all-significant';
/** What a child is, as whichChildren and countChildren report it (OTP's `type`). */
export type ChildType = 'worker' | 'supervisor';

export const STRATEGIES: readonly Strategy[] = [
  'one-for-one',
  'one-for-all',
  'rest-for-one',
  'simple-one-for-one',
];
export const RESTART_TYPES: readonly RestartType[] = ['permanent', 'transient', 'temporary'];
export const AUTO_SHUTDOWNS: readonly AutoShutdown[] = [
  'never',
  'any-significant',
  'all-significant',
];
export const CHILD_TYPES: readonly ChildType[] = ['worker', 'supervisor'];

/** The behaviour kind of `supervise(…)` (supervisors/supervisor.ts exports it too). */
export const SUPERVISOR_KIND = 'supervisor';

/**
 * What a child factory returns to say "do not start this child" (OTP's `ignore`): startChild
 * resolves `undefined`, a static child's spec is kept, not running; see supervisors/supervisor.ts.
 */
export const IGNORE = 'ignore';
export type Ignore = typeof IGNORE;

/** OTP's default restart intensity: 1 restart … */
export const DEFAULT_INTENSITY = 1;
/** … within 5 seconds. */
export const DEFAULT_PERIOD_MS = 5_000;

export type AnyBehaviour = Behaviour<any, any, any>;

/**
 * Makes a child's behaviour at each spawn: called with startChild's argument for
 * simple-one-for-one, with `undefined` for a static child. IGNORE: do not start it.
 */
export type ChildFactory = (arg: any) => AnyBehaviour | Ignore;

export interface ChildSpec {
  readonly id: string;
  readonly behaviour: AnyBehaviour | ChildFactory;
  readonly type?: ChildType;
  readonly restart?: RestartType;
  readonly shutdown?: number | 'brutal';
  readonly significant?: boolean;
  readonly mailbox?: MailboxOptions;
  readonly persistence?: PersistenceOptions;
  readonly shard?: ShardChoice;
}

export interface SupervisorOptions {
  readonly strategy?: Strategy;
  readonly intensity?: number;
  readonly period?: number;
  readonly children?: readonly ChildSpec[];
  readonly autoShutdown?: AutoShutdown;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
}

export interface ResolvedChildSpec {
  readonly id: string;
  readonly behaviour: AnyBehaviour | ChildFactory;
  readonly type: ChildType;
  readonly restart: RestartType;
  readonly shutdown: number | 'brutal' | undefined;
  readonly significant: boolean;
  readonly mailbox: MailboxOptions | undefined;
  readonly persistence: PersistenceOptions | undefined;
  readonly shard: ShardChoice | undefined;
}

export interface ResolvedSupervisorOptions {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly children: readonly ResolvedChildSpec[];
  readonly autoShutdown: AutoShutdown;
  readonly backoff: Required<BackoffOptions> | null;
  readonly random: () => number;
}

export class SupervisorSpecError extends TroupeError {
  /** The option path (`children[1].restart`), or the rule broken by a combination. */
  readonly field: string;
  readonly value: unknown;
  readonly rule: string | undefined;
  constructor(field: string, value: unknown, expected: string, rule?: string) {
    super(
      'ERR_SUPERVISOR_SPEC',
      rule === undefined
        ? `supervisor ${field} must be ${expected}; got ${describe(value)}`
        : `supervisor spec breaks rule ${rule} at ${field}: ${expected}`,
    );
    this.field = field;
    this.value = value;
    this.rule = rule;
  }
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!(allowed as readonly unknown[]).includes(v))
    throw new SupervisorSpecError(field, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

function intensity(v: unknown): number {
  if (v === undefined) return DEFAULT_INTENSITY;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new SupervisorSpecError('intensity', v, 'an integer ≥ 0');
  return v;
}

function period(v: unknown): number {
  if (v === undefined) return DEFAULT_PERIOD_MS;
  if (typeof v !== 'number' || !(v > 0) || v === Infinity)
    throw new SupervisorSpecError('period', v, 'a number of milliseconds > 0');
  return v;
}

function shutdown(field: string, v: unknown): number | 'brutal' | undefined {
  if (v === undefined || v === 'brutal' || v === Infinity) return v;
  if (typeof v !== 'number' || !(v >= 0))
    throw new SupervisorSpecError(field, v, "milliseconds ≥ 0, Infinity or 'brutal'");
  return v;
}

function childShard(field: string, v: unknown): ShardChoice {
  if (!isShardChoice(v)) throw new SupervisorSpecError(field, v, SHARD_CHOICE);
  return v;
}

export function isBehaviour(v: unknown): v is AnyBehaviour {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Partial<AnyBehaviour>;
  return (
    typeof b.kind === 'string' && typeof b.init === 'function' && typeof b.receive === 'function'
  );
}

function backoff(v: unknown): Required<BackoffOptions> | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null)
    throw new SupervisorSpecError(
      'backoff',
      v,
      'an object { minMs, maxMs, jitter?, resetAfterMs? }',
    );
  const b = v as Partial<BackoffOptions>;
  for (const k of Object.keys(b))
    if (!['minMs', 'maxMs', 'jitter', 'resetAfterMs'].includes(k))
      throw new SupervisorSpecError(
        `backoff.${k}`,
        (b as Record<string, unknown>)[k],
        'absent (unknown option)',
      );
  if (typeof b.minMs !== 'number' || !(b.minMs > 0) || b.minMs === Infinity)
    throw new SupervisorSpecError('backoff.minMs', b.minMs, 'a number of milliseconds > 0');
  if (typeof b.maxMs !== 'number' || !(b.maxMs >= b.minMs) || b.maxMs === Infinity)
    throw new SupervisorSpecError('backoff.maxMs', b.maxMs, 'a number of milliseconds ≥ minMs');
  const jitter = b.jitter ?? 0.2;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
    throw new SupervisorSpecError('backoff.jitter', b.jitter, 'a number from 0 to 1');
  const resetAfterMs = b.resetAfterMs ?? b.maxMs;
  if (typeof resetAfterMs !== 'number' || !(resetAfterMs > 0))
    throw new SupervisorSpecError(
      'backoff.resetAfterMs',
      b.resetAfterMs,
      'a number of milliseconds > 0',
    );
  return { minMs: b.minMs, maxMs: b.maxMs, jitter, resetAfterMs };
}

const CHILD_KEYS = [
  'id',
  'behaviour',
  'type',
  'restart',
  'shutdown',
  'significant',
  'mailbox',
  'persistence',
  'shard',
];
const SUPERVISOR_KEYS = [
  'strategy',
  'intensity',
  'period',
  'children',
  'autoShutdown',
  'backoff',
  'random',
];

/** The declared type, else the behaviour's: a factory is a worker unless it says otherwise. */
function childType(at: string, c: Record<string, unknown>, factory: boolean): ChildType {
  const kind = factory ? undefined : (c.behaviour as AnyBehaviour).kind;
  const inferred: ChildType = kind === SUPERVISOR_KIND ? 'supervisor' : 'worker';
  const type = oneOf(`${at}.type`, c.type, CHILD_TYPES, inferred);
  if (!factory && type !== inferred)
    throw new SupervisorSpecError(
      `${at}.type`,
      c.type,
      `the behaviour is a ${inferred} (kind ${String(kind)}); leave type out or say ${inferred}`,
      'type-matches-behaviour',
    );
  return type;
}

/** Validates one child spec at `at` (`children[2]`); significance unchecked if no autoShutdown. */
export function resolveChildSpec(
  v: unknown,
  at: string,
  autoShutdown: AutoShutdown | undefined,
): ResolvedChildSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SupervisorSpecError(at, v, 'a child spec object');
  const c = v as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!CHILD_KEYS.includes(k))
      throw new SupervisorSpecError(
        `${at}.${k}`,
        c[k],
        `absent (unknown key; known: ${CHILD_KEYS.join(', ')})`,
      );
  if (typeof c.id !== 'string') throw new SupervisorSpecError(`${at}.id`, c.id, 'a string');
  try {
    validateName(c.id);
  } catch (error) {
    throw new SupervisorSpecError(
      `${at}.id`,
      c.id,
      (error as Error).message.replace(/^invalid actor name [^:]*: /, 'a valid actor name: '),
    );
  }
  const factory = typeof c.behaviour === 'function';
  if (!factory && !isBehaviour(c.behaviour))
    throw new SupervisorSpecError(
      `${at}.behaviour`,
      c.behaviour,
      'a behaviour (fromReceive, fromMachine, supervise…)',
    );
  const type = childType(at, c, factory);
  const restart = oneOf(`${at}.restart`, c.restart, RESTART_TYPES, 'permanent');
  if (c.significant !== undefined && typeof c.significant !== 'boolean')
    throw new SupervisorSpecError(`${at}.significant`, c.significant, 'a boolean');
  const significant = c.significant === true;
  if (significant && restart === 'permanent')
    throw new SupervisorSpecError(
      `${at}.significant`,
      c.significant,
      'a significant child cannot be permanent (make it transient or temporary)',
      'significant-permanent',
    );
  if (significant && autoShutdown === 'never')
    throw new SupervisorSpecError(
      `${at}.significant`,
      c.significant,
      "significant children need autoShutdown 'any-significant' or 'all-significant'",
      'significant-without-auto',
    );
  if (c.mailbox !== undefined && (typeof c.mailbox !== 'object' || c.mailbox === null))
    throw new SupervisorSpecError(`${at}.mailbox`, c.mailbox, 'mailbox options');
  if (c.persistence !== undefined && (typeof c.persistence !== 'object' || c.persistence === null))
    throw new SupervisorSpecError(`${at}.persistence`, c.persistence, 'persistence options');
  return {
    id: c.id,
    behaviour: c.behaviour as ResolvedChildSpec['behaviour'],
    type,
    restart,
    shutdown: shutdown(`${at}.shutdown`, c.shutdown),
    significant,
    mailbox: c.mailbox as MailboxOptions | undefined,
    persistence: c.persistence as PersistenceOptions | undefined,
    shard: c.shard === undefined ? undefined : childShard(`${at}.shard`, c.shard),
  };
}

/**
 * Validates a list of child specs as `supervise` does (`children[i].field` in errors): each
 * spec, unique ids, and for simple-one-for-one exactly one (the template).
 */
export function resolveChildSpecs(
  list: unknown,
  strategy: Strategy,
  autoShutdown: AutoShutdown | undefined,
): ResolvedChildSpec[] {
  if (!Array.isArray(list))
    throw new SupervisorSpecError('children', list, 'an array of child specs');
  const children = list.map((c, i) => resolveChildSpec(c, `children[${i}]`, autoShutdown));
  const seen = new Set<string>();
  children.forEach((c, i) => {
    if (seen.has(c.id))
      throw new SupervisorSpecError(
        `children[${i}].id`,
        c.id,
        `the id ${c.id} is used twice`,
        'duplicate-id',
      );
    seen.add(c.id);
  });
  if (strategy === 'simple-one-for-one' && children.length !== 1)
    throw new SupervisorSpecError(
      'children',
      list,
      'simple-one-for-one takes exactly one child spec (the template)',
      'simple-one-template',
    );
  return children;
}

/**
 * checkChildSpecs (supervisors/api.ts): child specs checked for a supervisor with these
 * `strategy` and `autoShutdown` (themselves checked, the only keys allowed; significance is
 * checked only against an `autoShutdown` given).
 */
export function checkChildSpecList(list: unknown, options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new SupervisorSpecError('options', options, 'an object { strategy?, autoShutdown? }');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'strategy' && k !== 'autoShutdown')
      throw new SupervisorSpecError(
        k,
        o[k],
        'absent (unknown option; known: strategy, autoShutdown)',
      );
  resolveChildSpecs(
    list,
    oneOf('strategy', o.strategy, STRATEGIES, 'one-for-one'),
    o.autoShutdown === undefined
      ? undefined
      : oneOf('autoShutdown', o.autoShutdown, AUTO_SHUTDOWNS, 'never'),
  );
}

export function resolveSupervisorOptions(v: unknown): ResolvedSupervisorOptions {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SupervisorSpecError('options', v, 'an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!SUPERVISOR_KEYS.includes(k))
      throw new SupervisorSpecError(
        k,
        o[k],
        `absent (unknown option; known: ${SUPERVISOR_KEYS.join(', ')})`,
      );
  const strategy = oneOf('strategy', o.strategy, STRATEGIES, 'one-for-one');
  const autoShutdown = oneOf('autoShutdown', o.autoShutdown, AUTO_SHUTDOWNS, 'never');
  if (o.random !== undefined && typeof o.random !== 'function')
    throw new SupervisorSpecError('random', o.random, 'a function returning [0, 1)');
  const children = resolveChildSpecs(o.children ?? [], strategy, autoShutdown);
  return {
    strategy,
    intensity: intensity(o.intensity),
    period: period(o.period),
    children,
    autoShutdown,
    backoff: backoff(o.backoff),
    random: (o.random as (() => number) | undefined) ?? Math.random,
  };
}
