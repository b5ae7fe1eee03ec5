/**
 * The client gateway as an extension (runtime/core/extension.ts): a WebSocket endpoint where
 * browser and server apps watch actors and talk to them (runtime/gateway/gateway.ts), and the
 * inspector's pages it serves (`inspector` among its options).
 *
 *   createSystem({ extensions: [gateway({ listen: 8080, authenticate, authorize })] })
 *   await system.gateway!.ready;
 *
 * Its options are runtime/gateway/options.ts's, checked when `gateway(…)` is called (errors
 * name `gateway.<field>`). Clients are told (1001) in the `unbind` phase of the shutdown,
 * before the actors they watch stop; the door closes in `disconnect`. Only the main thread
 * of a node has a gateway.
 */
import { defineExtension, InvalidOptionError } from '../core/index.ts';
import { Gateway } from './gateway.ts';
import {
  resolveGatewayOptions,
  type GatewayOptions,
  type ResolvedGatewayOptions,
} from './options.ts';

export const gatewayExtension = defineExtension(
  'troupe.gateway',
  (core, options: ResolvedGatewayOptions): Gateway => {
    if (core.shard !== 0)
      throw new InvalidOptionError('gateway', core.shard, 'given on the main thread only');
    const gateway = new Gateway(core.system, options);
    // clients first: they are told (1001) before the actors they watch stop
    core.onShutdown('unbind', 'gateway', () => void gateway.close());
    core.onShutdown('disconnect', 'gateway', () => gateway.close());
    // a failure to listen is the caller's to see (await system.gateway.ready); not unhandled
    gateway.ready.catch((e: unknown) =>
      core.logger.error('troupe: the gateway could not listen', e),
    );
    return gateway;
  },
  (v: GatewayOptions | undefined, field: string) => resolveGatewayOptions(v, field),
);

/** The gateway's extension with its options (runtime/gateway/options.ts). */
export function gateway(options: GatewayOptions): typeof gatewayExtension {
  return gatewayExtension.with(options);
}
