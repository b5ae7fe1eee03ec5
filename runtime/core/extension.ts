/**
 * Extensions: parts that plug into a system from above the kernel, without a field on the
 * system object or a branch in it (after Akka's ExtensionId / createExtension).
 *
 *   const metrics = defineExtension('acme.metrics', (core) => new Metrics(core));
 *   const system = createSystem({ extensions: [metrics] });   // made at start
 *   system.extension(metrics).count(…);                      // the one of this system
 *
 * An extension with options validates them when it is configured, so that a bad one fails
 * before the system starts, naming its path:
 *
 *   const store = defineExtension('acme.store', (core, o: StoreOptions) => …, resolveStore);
 *   createSystem({ extensions: [store.with({ url })] });
 *   system.extension(store);                                  // the configured one
 *
 * - `defineExtension(id, create, resolve?)` names an extension; `create(core, options)`
 *   makes its instance for one system, once: at `createSystem` for those in
 *   `options.extensions` (in that order), else at the first `system.extension(ext)` (with
 *   `resolve(undefined)` as options). An error `create` throws is the caller's
 *   (`createSystem` throws it; the system is not made).
 * - `ext.with(options)` is the same extension with options, checked at once by `resolve`
 *   (InvalidOptionError naming the field: `gateway.port`); it goes in `options.extensions`.
 *   `system.extension(ext)` and `system.findExtension(ext)` take the extension itself.
 * - The core (ExtensionCore) is what an extension may use of the kernel: the system's public
 *   API, its clock and timer heap, its logger, a phase of the shutdown to add a task to
 *   (runtime/core/shutdown-phases.ts), the address-resolver chain, ask guards, the shard
 *   routes (for the shards' extension alone), and two moments: `onStarted` (every extension
 *   given at start is made) and `onTerminated` (the last actor has stopped).
 * - Ids are unique per system: two extensions of one id in a system are refused
 *   (InvalidOptionError naming `options.extensions`).
 */
import { InvalidOptionError } from './error.ts';
import type { Address } from '../../protocol/address.ts';
import type { Clock } from '../../protocol/clock.ts';
import type { Logger } from './logger.ts';
import type { ActorRef, Target } from './ref.ts';
import type { ShutdownPhase, ShutdownTask } from './shutdown-phases.ts';
import type { TimerQueue } from './timers.ts';
import type { Kernel } from './system.ts';
import type { ShardRoutes } from './routes.ts';

/** A target for `address`, null for none, undefined for an address that is not its kind. */
export type AddressResolver = (address: Address) => Target | null | undefined;

/**
 * Asked for each ask while it waits: a guard that knows it can fail sooner than its deadline
 * (the asked actor's node went down) calls `fail` when it does and returns how to forget the
 * ask once it settles; null for an ask it does not watch.
 */
export type AskGuard = (
  ref: ActorRef<unknown>,
  fail: (error: Error) => void,
) => (() => void) | null;

/** What an extension may use of the kernel. */
export interface ExtensionCore {
  readonly system: Kernel;
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly logger: Logger;
  /** This thread's shard (0: the main thread). */
  readonly shard: number;
  /** Adds `task` to a phase of the system's shutdown. */
  onShutdown(phase: ShutdownPhase, name: string, task: ShutdownTask): void;
  /** Adds a resolver to the chain that finds targets for addresses this thread does not hold. */
  addResolver(resolve: AddressResolver): void;
  /** Adds a guard asked for every ask (AskGuard). */
  addAskGuard(guard: AskGuard): void;
  /** Runs `task` once every extension given at start is made (at once for one made later). */
  onStarted(task: () => void): void;
  /** Runs `task` when the last actor has stopped, before the shutdown phases after it. */
  onTerminated(task: () => void): void;
  /** Sets the shard routes (runtime/core/routes.ts): once, at start. */
  setRoutes(routes: ShardRoutes): void;
  /** Who answers `ctx.remindAt` (path of the actor, time, message). */
  setReminders(remind: (path: string, time: number | Date, msg: unknown) => void): void;
}

export interface Extension<T, O = unknown> {
  readonly id: string;
  /** The extension this is (itself, or the one `with` configured). */
  readonly key: Extension<T, O>;
  readonly create: (core: ExtensionCore) => T;
  /**
   * The same extension, made with `options`, checked now (InvalidOptionError naming a field
   * under `field`; default: the last part of the id, `gateway` for `troupe.gateway`).
   */
  with(options: O, field?: string): Extension<T, O>;
}

const ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const made = new WeakSet<object>();

/**
 * Names an extension (`id`: letters, digits, `_ . : -`, 1 to 128) and how it is made;
 * `resolve(options, field)` checks and completes its options (`field` names them in errors).
 */
export function defineExtension<T, O = undefined, R = O>(
  id: string,
  create: (core: ExtensionCore, options: R) => T,
  resolve?: (options: O | undefined, field: string) => R,
): Extension<T, O> {
  if (typeof id !== 'string' || !ID.test(id))
    throw new InvalidOptionError('id', id, 'letters, digits, "_", ".", ":" or "-", 1 to 128');
  if (typeof create !== 'function')
    throw new InvalidOptionError('create', create, 'a function (core) => the extension');
  if (resolve !== undefined && typeof resolve !== 'function')
    throw new InvalidOptionError('resolve', resolve, 'a function (options, field) => options');
  const field = id.slice(id.lastIndexOf('.') + 1);
  const configured = (options: R): Extension<T, O> => {
    const ext: Extension<T, O> = Object.freeze({
      id,
      key,
      create: (core: ExtensionCore) => create(core, options),
      with: key.with,
    });
    made.add(ext);
    return ext;
  };
  const key: Extension<T, O> = Object.freeze({
    id,
    get key() {
      return key;
    },
    create: (core: ExtensionCore) =>
      create(core, resolve === undefined ? (undefined as R) : resolve(undefined, field)),
    with: (options: O, at = field) =>
      configured(resolve === undefined ? (options as unknown as R) : resolve(options, at)),
  });
  made.add(key);
  return key;
}

/** `v` as a list of extensions (`options.extensions`), or InvalidOptionError naming it. */
export function extensionList(v: unknown): readonly Extension<unknown>[] {
  if (v === undefined) return [];
  if (!Array.isArray(v))
    throw new InvalidOptionError('options.extensions', v, 'an array of defineExtension(…)');
  const ids = new Set<string>();
  v.forEach((e: unknown, i) => {
    if (typeof e !== 'object' || e === null || !made.has(e))
      throw new InvalidOptionError(`options.extensions[${i}]`, e, 'made by defineExtension');
    const id = (e as Extension<unknown>).id;
    if (ids.has(id))
      throw new InvalidOptionError(`options.extensions[${i}]`, id, 'an id not given twice');
    ids.add(id);
  });
  return v as readonly Extension<unknown>[];
}

/** The extensions of one system: each made once, by id. */
export class Extensions {
  readonly #core: ExtensionCore;
  readonly #made = new Map<string, { readonly key: object; readonly value: unknown }>();

  constructor(core: ExtensionCore) {
    this.#core = core;
  }

  /** The instance of `ext` in this system, made now if it is not yet. */
  get<T>(ext: Extension<T, any>): T {
    const known = this.find(ext);
    if (known !== undefined) return known;
    const value = ext.create(this.#core);
    // made while making another (a dependency looked up by its create): that one stands
    if (!this.#made.has(ext.id)) this.#made.set(ext.id, { key: ext.key, value });
    return value;
  }

  /** The instance of `ext` in this system, or undefined when it is not made. */
  find<T>(ext: Extension<T, any>): T | undefined {
    if (typeof ext !== 'object' || ext === null || !made.has(ext))
      throw new InvalidOptionError('extension', ext, 'made by defineExtension');
    const known = this.#made.get(ext.id);
    if (known === undefined) return undefined;
    if (known.key !== ext.key)
      throw new InvalidOptionError(
        'extension',
        ext.id,
        'the extension of that id this system has (another was defined with the same id)',
      );
    return known.value as T;
  }
}
