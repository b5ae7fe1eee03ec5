/**
 * fromStore: an @xstate/store store as a behaviour: the light, fast statechart-free option.
 *
 * Messages are the store's events (typed from the config; build it with @xstate/store's
 * `createStoreConfig` for typed transitions). A transition that throws is a failure of the actor (the
 * store itself would stay active: troupe turns the throw into a failure). The persisted
 * snapshot is the store's context; the view for subscribers is the context too. Inside an
 * effect (`enq.effect`) `actorContext()` gives the actor's context, e.g. to reply.
 */
import { createStore, type AnyStoreConfig, type EventFromStoreConfig } from '@xstate/store';
import { actorContext, enterActorContext, leaveActorContext } from './current.ts';
import type { Behaviour } from '../runtime/core/behaviour.ts';
import type { ActorContext } from '../runtime/core/context.ts';

export interface StoreBehaviourOptions {
  readonly schemaVersion?: number;
  readonly migrate?: (snapshot: unknown, fromVersion: number) => unknown;
}

interface StoreLike {
  send(event: unknown): void;
  getSnapshot(): { context: unknown };
  on(type: '*', listener: (event: unknown) => void): unknown;
}

export function fromStore<const C extends AnyStoreConfig, Reply = unknown>(
  config: C,
  options: StoreBehaviourOptions = {},
): Behaviour<EventFromStoreConfig<C>, Reply, StoreLike> {
  const make = (context: unknown): StoreLike => {
    const store = createStore({ ...config, context } as AnyStoreConfig) as unknown as StoreLike;
    // what its transitions emit (`enq.emit`) goes to the actor's event subscribers
    store.on('*', (event) => actorContext('emit').emit(event));
    return store;
  };
  return {
    kind: 'store',
    ...(options.schemaVersion === undefined ? {} : { schemaVersion: options.schemaVersion }),
    ...(options.migrate === undefined ? {} : { migrate: options.migrate }),
    init: () => make(config.context as unknown),
    receive(store, msg, ctx: ActorContext<any, any>) {
      const saved = enterActorContext(ctx);
      try {
        store.send(msg);
      } finally {
        leaveActorContext(saved);
      }
      return store;
    },
    persist: (store) => store.getSnapshot().context,
    restore: (snapshot) => make(snapshot),
    view: (store) => store.getSnapshot().context,
  };
}
