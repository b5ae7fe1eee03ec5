/**
 * Extensions: parts that plug into a system from above the kernel, without a field on the
 * system object or a branch in it (after Akka's ExtensionId / createExtension).
 *
 *   const metrics = defineExtension('acme.metrics', (core) => new Metrics(core));
 *   const system = createSystem({ extensions: [metrics] });   // made at start
 *   system.extension(metrics).count(…);                      // the one of this system
 *
 * - `defineExtension(id, create)` names an extension; `create(core)` makes its instance for
 *   one system, once: at `createSystem` for those in `options.extensions` (in that order),
 *   else at the first `system.extension(ext)`. An error `create` throws is the caller's
 *   (`createSystem` throws it; the system is not made).
 * - The core (ExtensionCore) is what an extension may use of the kernel: the system's public
 *   API, its clock and timer heap, its logger, a phase of the shutdown to add a task to
 *   (runtime/core/shutdown-phases.ts: `unbind`, `drain`, `leave` before the actors stop;
 *   `disconnect`, `release` after), and the address-resolver chain (`addResolver`: a target
 *   for an address this thread does not hold; undefined for one that is not its kind).
 * - Ids are unique per system: two extensions of one id in a system are refused
 *   (InvalidOptionError naming `options.extensions`).
 */
import { InvalidOptionError } from './error.ts';
import type { Address } from '../../protocol/address.ts';
import type { Clock } from '../../protocol/clock.ts';
import type { Logger } from './logger.ts';
import type { Target } from './ref.ts';
import type { ShutdownPhase, ShutdownTask } from './shutdown-phases.ts';
import type { TimerQueue } from './timers.ts';
import type { ActorSystem } from '../system.ts';

/** A target for `address`, null for none, undefined for an address that is not its kind. */
export type AddressResolver = (address: Address) => Target | null | undefined;

/** What an extension may use of the kernel. */
export interface ExtensionCore {
  readonly system: ActorSystem;
  readonly clock: Clock;
  readonly timers: TimerQueue;
  readonly logger: Logger;
  /** Adds `task` to a phase of the system's shutdown. */
  onShutdown(phase: ShutdownPhase, name: string, task: ShutdownTask): void;
  /** Adds a resolver to the chain that finds targets for addresses this thread does not hold. */
  addResolver(resolve: AddressResolver): void;
}

export interface Extension<T> {
  readonly id: string;
  readonly create: (core: ExtensionCore) => T;
}

const ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const made = new WeakSet<object>();

/** Names an extension (`id`: letters, digits, `_ . : -`, 1 to 128) and how it is made. */
export function defineExtension<T>(id: string, create: (core: ExtensionCore) => T): Extension<T> {
  if (typeof id !== 'string' || !ID.test(id))
    throw new InvalidOptionError('id', id, 'letters, digits, "_", ".", ":" or "-", 1 to 128');
  if (typeof create !== 'function')
    throw new InvalidOptionError('create', create, 'a function (core) => the extension');
  const ext = Object.freeze({ id, create });
  made.add(ext);
  return ext;
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
  readonly #made = new Map<string, { readonly ext: Extension<unknown>; readonly value: unknown }>();

  constructor(core: ExtensionCore) {
    this.#core = core;
  }

  /** The instance of `ext` in this system, made now if it is not yet. */
  get<T>(ext: Extension<T>): T {
    if (typeof ext !== 'object' || ext === null || !made.has(ext))
      throw new InvalidOptionError('extension', ext, 'made by defineExtension');
    const known = this.#made.get(ext.id);
    if (known !== undefined) {
      if (known.ext !== ext)
        throw new InvalidOptionError(
          'extension',
          ext.id,
          'the extension of that id this system has (another was defined with the same id)',
        );
      return known.value as T;
    }
    const value = ext.create(this.#core);
    this.#made.set(ext.id, { ext, value });
    return value;
  }
}
