/**
 * Portable behaviours: a behaviour another thread can make for itself. Behaviours are
 * objects with functions, which cannot cross a thread; what crosses is where to find one:
 * the module's URL and the export's name. The shard that is told to spawn it imports the
 * module (once per thread; later spawns reuse it) and takes the export.
 *
 *   // counter.ts
 *   export const counter = portable(import.meta.url, 'counter', fromReceive(0, (n) => n + 1));
 *   // anywhere
 *   system.spawn(counter, { shard: 1 });
 *
 * The export must be the very value `portable` returned (checked on the other side). Only
 * portable behaviours may be placed on another shard; others run where they are spawned.
 */
import { InvalidOptionError } from '../core/index.ts';
import { decodeValue, encodeValue } from '../core/index.ts';
import type { Behaviour } from '../core/index.ts';
import type { ActorRef } from '../core/index.ts';
import type { Address } from '../../protocol/address.ts';

const PORTABLE = Symbol.for('troupe.portable');
const FACTORY = Symbol.for('troupe.portable.factory');

export interface PortableOrigin {
  /** The module's file URL. */
  readonly module: string;
  /** The name of its export that holds the behaviour, or the factory that makes it. */
  readonly export: string;
  /**
   * For a behaviour made by a portable factory: the arguments it was made with, as data
   * (refs encoded by runtime/core/refcodec.ts), so that the other thread makes the same one.
   */
  readonly args?: unknown;
}

/** Marks `behaviour` as the export `exportName` of the module at `moduleUrl` (`import.meta.url`). */
export function portable<B extends Behaviour<any, any, any>>(
  moduleUrl: string | URL,
  exportName: string,
  behaviour: B,
): B {
  const module = moduleUrl instanceof URL ? moduleUrl.href : moduleUrl;
  if (typeof module !== 'string' || !module.startsWith('file:'))
    throw new InvalidOptionError('moduleUrl', moduleUrl, 'a file URL (import.meta.url)');
  if (typeof exportName !== 'string' || exportName.length === 0)
    throw new InvalidOptionError('exportName', exportName, 'the name of an export');
  if (typeof behaviour !== 'object' || behaviour === null)
    throw new InvalidOptionError('behaviour', behaviour, 'a behaviour');
  Object.defineProperty(behaviour, PORTABLE, {
    value: { module, export: exportName } satisfies PortableOrigin,
    enumerable: false,
  });
  return behaviour;
}

/**
 * A portable factory: behaviours made from data (a sandbox's source and limits…). Each
 * behaviour it makes is portable: what crosses is the factory's export and the arguments,
 * which must be data (plain objects, arrays, strings, numbers, booleans, refs): they are
 * encoded when the behaviour is made, so bad arguments fail there.
 *
 *   export const worker = portableFactory(import.meta.url, 'worker', (n: number) => fromReceive(n, …));
 *   system.spawn(worker(5), { shard: 1 });
 */
export function portableFactory<A, B extends Behaviour<any, any, any>>(
  moduleUrl: string | URL,
  exportName: string,
  make: (args: A) => B,
): (args: A) => B {
  const module = moduleUrl instanceof URL ? moduleUrl.href : moduleUrl;
  if (typeof module !== 'string' || !module.startsWith('file:'))
    throw new InvalidOptionError('moduleUrl', moduleUrl, 'a file URL (import.meta.url)');
  if (typeof exportName !== 'string' || exportName.length === 0)
    throw new InvalidOptionError('exportName', exportName, 'the name of an export');
  if (typeof make !== 'function')
    throw new InvalidOptionError('make', make, 'a function (args) => behaviour');
  const factory = (args: A): B => {
    const encoded = encodeValue(args);
    const behaviour = make(args);
    Object.defineProperty(behaviour, PORTABLE, {
      value: { module, export: exportName, args: encoded ?? null } satisfies PortableOrigin,
      enumerable: false,
    });
    return behaviour;
  };
  Object.defineProperty(factory, FACTORY, {
    value: { module, export: exportName, make },
    enumerable: false,
  });
  return factory;
}

/** Where a portable behaviour comes from, or undefined for one that is not portable. */
export function portableOrigin(behaviour: unknown): PortableOrigin | undefined {
  if (typeof behaviour !== 'object' || behaviour === null) return undefined;
  return (behaviour as { [PORTABLE]?: PortableOrigin })[PORTABLE];
}

/**
 * Imports a portable behaviour in this thread (made again by its factory, with its arguments
 * revived by `refOf`, for one made by a portable factory). Rejects when the export is not one.
 */
export async function loadPortable(
  origin: PortableOrigin,
  refOf: (address: Address) => ActorRef<unknown>,
): Promise<Behaviour<unknown>> {
  const mod = (await import(origin.module)) as Record<string, unknown>;
  const b = mod[origin.export];
  if (origin.args !== undefined) {
    const f = (typeof b === 'function' ? (b as { [FACTORY]?: unknown })[FACTORY] : undefined) as
      { module: string; export: string; make: (args: unknown) => Behaviour<unknown> } | undefined;
    if (f === undefined || f.module !== origin.module || f.export !== origin.export)
      throw new InvalidOptionError(
        `${origin.module}#${origin.export}`,
        b,
        'an export made with portableFactory(import.meta.url, name, make) under that name',
      );
    return f.make(decodeValue(origin.args, refOf));
  }
  const found = portableOrigin(b);
  if (found === undefined || found.module !== origin.module || found.export !== origin.export)
    throw new InvalidOptionError(
      `${origin.module}#${origin.export}`,
      b,
      'an export made with portable(import.meta.url, name, behaviour) under that name',
    );
  return b as Behaviour<unknown>;
}
