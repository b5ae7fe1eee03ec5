/**
 * Extensions (runtime/core/extension.ts): made once per system, at start or at first use; they
 * add shutdown tasks by phase and resolvers to the address chain, through the core only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSystem,
  defineExtension,
  fromReceive,
  InvalidOptionError,
  type ActorRef,
  type ActorSystem,
} from '../../index.ts';
import type { Target } from '../../runtime/core/ref.ts';

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

function system(options: Parameters<typeof createSystem>[0] = {}): ActorSystem {
  const s = createSystem(options);
  systems.push(s);
  return s;
}

describe('extensions', () => {
  it('are made once per system: at start when listed, else at first use', () => {
    let made = 0;
    const counter = defineExtension('test.counter', (core) => {
      made++;
      return { node: core.system.nodeId, n: made };
    });
    const a = system({ extensions: [counter] });
    expect(made).toBe(1);
    expect(a.extension(counter)).toBe(a.extension(counter));
    const b = system();
    expect(made).toBe(1);
    expect(b.extension(counter).n).toBe(2);
    expect(b.extension(counter)).toBe(b.extension(counter));
    // another extension with the same id is not this system's
    const impostor = defineExtension('test.counter', () => ({ node: 'x', n: 0 }));
    expect(() => b.extension(impostor)).toThrow(InvalidOptionError);
  });

  it('refuses bad definitions and lists, naming the field; a failing create fails createSystem', () => {
    expect(() => defineExtension('has space', () => 1)).toThrow(
      expect.objectContaining({ field: 'id' }),
    );
    expect(() => defineExtension('ok', 5 as never)).toThrow(
      expect.objectContaining({ field: 'create' }),
    );
    const x = defineExtension('x', () => 1);
    for (const [extensions, field] of [
      [x, 'options.extensions'],
      [[x, { id: 'fake', create: () => 2 }], 'options.extensions[1]'],
      [[x, x], 'options.extensions[1]'],
    ] as const)
      expect(() => createSystem({ extensions: extensions as never })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', field }),
      );
    const broken = defineExtension('broken', () => {
      throw new Error('cannot start');
    });
    expect(() => createSystem({ extensions: [broken] })).toThrow('cannot start');
  });

  it('adds shutdown tasks by phase: drain runs while the actors still answer', async () => {
    const log: string[] = [];
    const s = createSystem({
      extensions: [
        defineExtension('test.phases', (core) => {
          core.onShutdown('release', 'last', () => void log.push('release'));
          core.onShutdown('drain', 'asks an actor', async () => {
            const echo = core.system.refOf(
              `troupe://${core.system.nodeId}/user/echo` as never,
            ) as ActorRef<string, string>;
            log.push(`drain: ${await echo.ask('still here?')}`);
          });
          return null;
        }),
      ],
    });
    s.spawn(
      fromReceive<null, string, string>(null, (st, m, ctx) => {
        ctx.reply(`yes (${m})`);
        return st;
      }),
      { name: 'echo' },
    );
    await s.shutdown();
    expect(log).toEqual(['drain: yes (still here?)', 'release']);
  });

  it('adds a resolver to the address chain: a target for addresses of its kind', () => {
    const got: unknown[] = [];
    const outbox: Target = {
      path: '/user/far' as never,
      gone: false,
      deliver: (msg) => {
        got.push(msg);
        return 'enqueued';
      },
      sendSystem: () => undefined,
    };
    const s = system({
      extensions: [
        defineExtension('test.bridge', (core) => {
          core.addResolver((address) =>
            address.startsWith('troupe://elsewhere/') ? outbox : undefined,
          );
          return null;
        }),
      ],
    });
    s.refOf('troupe://elsewhere/user/far' as never).tell('hello');
    expect(got).toEqual(['hello']);
  });

  it('takes options with `with`, checked at once naming the field; lookups take the extension itself', () => {
    const resolve = (o: { size?: unknown } | undefined, field: string): { size: number } => {
      const size = o?.size ?? 1;
      if (typeof size !== 'number') throw new InvalidOptionError(`${field}.size`, size, 'a number');
      return { size };
    };
    const pool = defineExtension('test.pool', (_core, o: { size: number }) => ({ ...o }), resolve);
    expect(() => pool.with({ size: 'big' })).toThrow(
      expect.objectContaining({ field: 'pool.size' }),
    );
    expect(() => pool.with({ size: 'big' }, 'options.pool')).toThrow(
      expect.objectContaining({ field: 'options.pool.size' }),
    );
    const a = system({ extensions: [pool.with({ size: 4 })] });
    expect(a.extension(pool)).toEqual({ size: 4 });
    expect(a.findExtension(pool)).toBe(a.extension(pool));
    // not made: findExtension says so, extension makes it with resolve(undefined)
    const b = system();
    expect(b.findExtension(pool)).toBeUndefined();
    expect(b.extension(pool)).toEqual({ size: 1 });
  });

  it('runs onStarted once every listed extension is made, and onTerminated when the last actor stops', async () => {
    const log: string[] = [];
    const first = defineExtension('test.first', (core) => {
      core.onStarted(() =>
        log.push(`first sees second: ${core.system.findExtension(second) !== undefined}`),
      );
      core.onTerminated(() => log.push('terminated'));
      return 1;
    });
    const second = defineExtension('test.second', () => 2);
    const s = system({ extensions: [first, second] });
    expect(log).toEqual(['first sees second: true']);
    await s.shutdown();
    expect(log).toEqual(['first sees second: true', 'terminated']);
  });
});
