/**
 * SystemApi with the built-in parts' members (runtime/core/system-api.ts has the kernel's):
 * topics and entities, which runtime/system.ts builds into every system. They are added to
 * the kernel's interface by TypeScript's interface merging, so `ctx.system.topics` and
 * `ctx.system.entity(…)` type-check in any behaviour, while the kernel imports none of them.
 * The kernel is abstract; every system is an ActorSystem, which implements them.
 */
import type { ActorRef } from './core/ref.ts';
import type { Behaviour } from './core/behaviour.ts';
import type { Topics } from './topics/topics.ts';
import type { EntityOptions } from './cluster/entities.ts';

/** What runtime/system.ts adds to the kernel: the built-in parts every system has. */
interface BuiltInParts {
  /** Publish and subscribe by topic, here and across linked nodes (runtime/topics/topics.ts). */
  readonly topics: Topics;
  /**
   * Defines a kind of virtual actor (runtime/cluster/entities.ts). Throws InvalidOptionError
   * on a bad kind, behaviour or option.
   */
  define(kind: string, behaviour: Behaviour<any, any, any>, options?: EntityOptions): void;
  /** A ref to the entity `id` of `kind` (`troupe:entity/<kind>/<id>`), wherever it lives. */
  entity<In = unknown, Reply = unknown>(kind: string, id: string): ActorRef<In, Reply>;
}

declare module './core/system-api.ts' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- merged into the kernel's interface
  interface SystemApi extends BuiltInParts {}
}

// the kernel is abstract: every system is an ActorSystem (runtime/system.ts), which has them
declare module './core/system.ts' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- merged into the kernel's class
  interface Kernel extends BuiltInParts {}
}

export type { SystemApi } from './core/system-api.ts';
