/**
 * A minimal stateless behaviour for the probe (runtime cannot import actors/: the dependency
 * runs the other way).
 */
import type { Behaviour } from '../core/index.ts';
import type { ActorContext } from '../core/index.ts';

export function fromReceiveLike<In>(
  handle: (msg: In, ctx: ActorContext<In, never>) => void,
): Behaviour<In, never, null> {
  return {
    kind: 'probe',
    init: () => null,
    receive(state, msg, ctx) {
      handle(msg, ctx);
      return state;
    },
  };
}
