/**
 * Topics as an extension (runtime/core/extension.ts): one Topics per system, made at its
 * first use; `system.topics` is this. The nodes' extension links it to other nodes.
 */
import { defineExtension, type Kernel } from '../core/index.ts';
import { Topics } from './topics.ts';

export const topicsExtension = defineExtension('troupe.topics', (core) => new Topics(core.system));

/** The topics of `system` (made now if they are not yet). */
export function topicsOf(system: Kernel): Topics {
  return system.extension(topicsExtension);
}
