/**
 * A real system with a gateway on a free port of 127.0.0.1, and the actors the suite talks to.
 */
import { createSystem, fromReceive, isActorRef, type ActorSystem } from '../../index.ts';

export type Call = { principal: unknown; op: string; target: string; detail: unknown };

export interface Started {
  system: ActorSystem;
  port: number;
  calls: Call[];
  authTokens: unknown[];
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };

export type GatewayOverrides = Record<string, unknown> & {
  limits?: Record<string, unknown>;
  snapshots?: Record<string, unknown>;
  listen?: Record<string, unknown>;
};

/** Messages the test actors understand (they arrive as plain data from the wire). */
type Msg = { type: string; [k: string]: any };

export const counter = () =>
  fromReceive<{ n: number; log: unknown[] }, Msg>({ n: 0, log: [] }, (s, m, ctx) => {
    switch (m.type) {
      case 'inc':
        return { ...s, n: s.n + 1 };
      case 'add':
        return { ...s, n: s.n + Number(m.by) };
      case 'note':
        return { ...s, log: [...s.log, m.value] };
      case 'get':
        ctx.reply(s);
        return s;
      case 'echo':
        ctx.reply({
          received: m,
          isRef: isActorRef(m.value),
          isDate: m.value instanceof Date,
          keys: m.value !== null && typeof m.value === 'object' ? Object.keys(m.value) : null,
        });
        return s;
      case 'emit':
        ctx.emit(m.event);
        return s;
      case 'boom':
        throw new Error('boom');
      case 'stop':
        ctx.stop();
        return s;
      case 'never':
        return s;
      case 'value':
        ctx.reply(valueOf(String(m.kind), ctx.self));
        return s;
      case 'spawn':
        ctx.spawn(counter(), { name: String(m.name) });
        return s;
      case 'bigstate':
        return { ...s, big: 'x'.repeat(17 * 1024 * 1024) } as never;
      case 'emitbig':
        ctx.emit({ big: 'x'.repeat(17 * 1024 * 1024) });
        return s;
      case 'unserializable':
        return { ...s, fn: () => 1 } as never;
      default:
        return s;
    }
  });

function valueOf(kind: string, self: unknown): unknown {
  switch (kind) {
    case 'date':
      return new Date('2026-12-03T08:00:00.000Z');
    case 'ref':
      return self;
    case 'error':
      return new Error('bad thing');
    case 'esc':
      return { $ref: 'not a ref' };
    case 'fn':
      return { f: () => 1 };
    case 'big':
      return 'x'.repeat(17 * 1024 * 1024);
    case 'proto':
      return { constructor: 1, prototype: 2 };
    default:
      return null;
  }
}

export async function start(
  gateway: GatewayOverrides = {},
  setup?: (s: ActorSystem) => void,
): Promise<Started> {
  const calls: Call[] = [];
  const authTokens: unknown[] = [];
  const { listen, ...rest } = gateway;
  const system = createSystem({
    logger: silent,
    gateway: {
      listen: { host: '127.0.0.1', port: 0, ...listen },
      inspector: false,
      authenticate: (token: string | undefined) => {
        authTokens.push(token);
        if (token === undefined || token === null || token === 'bad') return null;
        return { id: token };
      },
      authorize: (principal: unknown, op: string, target: string, detail: unknown) => {
        calls.push({ principal, op, target, detail });
        return !target.includes('forbidden');
      },
      ...rest,
    } as never,
  });
  system.spawn(counter(), { name: 'board' });
  system.spawn(counter(), { name: 'other' });
  setup?.(system);
  await system.gateway!.ready;
  return { system, port: system.gateway!.port, calls, authTokens };
}
