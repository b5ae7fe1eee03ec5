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
import { InvalidOptionError } from '../error.ts';
import type { Behaviour } from '../behaviour.ts';

const PORTABLE = Symbol.for('troupe.portable');

export interface PortableOrigin {
  /** The module's file URL. */
  readonly module: string;
  /** The name of its export that holds the behaviour. */
  readonly export: string;
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

/** Where a portable behaviour comes from, or undefined for one that is not portable. */
export function portableOrigin(behaviour: unknown): PortableOrigin | undefined {
  if (typeof behaviour !== 'object' || behaviour === null) return undefined;
  return (behaviour as { [PORTABLE]?: PortableOrigin })[PORTABLE];
}

/** Imports a portable behaviour in this thread. Rejects when the export is not one. */
export async function loadPortable(origin: PortableOrigin): Promise<Behaviour<unknown>> {
  const mod = (await import(origin.module)) as Record<string, unknown>;
  const b = mod[origin.export];
  const found = portableOrigin(b);
  if (found === undefined || found.module !== origin.module || found.export !== origin.export)
    throw new InvalidOptionError(
      `${origin.module}#${origin.export}`,
      b,
      'an export made with portable(import.meta.url, name, behaviour) under that name',
    );
  return b as Behaviour<unknown>;
}
