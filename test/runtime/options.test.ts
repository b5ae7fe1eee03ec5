import { describe, expect, it } from 'vitest';
import {
  DEFAULT_THROUGHPUT,
  DEFAULT_TIME_SLICE_MS,
  resolveKernelOptions,
  resolveMailbox,
  resolveSpawnOptions,
  type ResolvedMailbox,
} from '../../runtime/core/options.ts';
import { kernelOptionsOf } from '../../runtime/options.ts';
import { DEFAULT_MAILBOX_CAPACITY, OVERFLOW_POLICIES } from '../../runtime/core/mailbox.ts';
import { ASK_TIMEOUT_MS } from '../../runtime/core/ask.ts';
import { DEAD_LETTER_HISTORY } from '../../runtime/core/dead-letters.ts';
import { InMemoryStore } from '../../runtime/core/persistence.ts';
import { SimulatedClock } from '../../testing.ts';
import {
  OFFLOAD_IDLE_TIMEOUT_MS,
  OFFLOAD_MAX_QUEUE,
  OFFLOAD_MAX_THREADS,
  OFFLOAD_TIMEOUT_MS,
} from '../../runtime/core/offload.ts';
import { createSystem, fromReceive, type SpawnOptions, type SystemOptions } from '../../index.ts';

/** The InvalidOptionError `f` throws: its code, field and value (fails when it does not throw). */
function refusal(f: () => unknown): { code: unknown; field: unknown; value: unknown } {
  try {
    f();
  } catch (e) {
    const { code, field, value } = e as { code?: unknown; field?: unknown; value?: unknown };
    return { code, field, value };
  }
  throw new Error('expected a throw');
}

function expectRefused(f: () => unknown, field: string, value?: unknown): void {
  const r = refusal(f);
  expect(r.code).toBe('ERR_INVALID_OPTION');
  expect(r.field).toBe(field);
  if (arguments.length > 2) expect(r.value).toBe(value);
}

/** The flat options of createSystem made kernel options with their parts, then resolved. */
const resolveSystemOptions = (o: unknown) => resolveKernelOptions(kernelOptionsOf(o, []));
const sys = (o: unknown) => () => resolveSystemOptions(o);
const MAILBOX_DEFAULTS: ResolvedMailbox = { capacity: 7, overflow: 'reject' };
const spawn = (o: unknown) => () => resolveSpawnOptions(o, MAILBOX_DEFAULTS);

const logger = { info: () => {}, warn: () => {}, error: () => {} };
const tracerProvider = { getTracer: () => ({}) };

describe('resolveSystemOptions', () => {
  it('applies every default when given nothing', () => {
    const expected = {
      nodeId: 'local',
      clock: undefined,
      throughput: DEFAULT_THROUGHPUT,
      timeSliceMs: DEFAULT_TIME_SLICE_MS,
      askTimeoutMs: ASK_TIMEOUT_MS,
      mailbox: { capacity: DEFAULT_MAILBOX_CAPACITY, overflow: 'drop-newest' },
      deadLetterHistory: DEAD_LETTER_HISTORY,
      logger: undefined,
      tracerProvider: undefined,
      offload: {
        maxThreads: OFFLOAD_MAX_THREADS,
        maxQueue: OFFLOAD_MAX_QUEUE,
        timeoutMs: OFFLOAD_TIMEOUT_MS,
        idleTimeoutMs: OFFLOAD_IDLE_TIMEOUT_MS,
      },
      extensions: [],
    };
    expect(resolveSystemOptions(undefined)).toEqual(expected);
    expect(resolveSystemOptions({})).toEqual(expected);
    expect([
      DEFAULT_THROUGHPUT,
      DEFAULT_TIME_SLICE_MS,
      ASK_TIMEOUT_MS,
      DEAD_LETTER_HISTORY,
    ]).toEqual([64, 10, 5_000, 256]);
  });

  it('treats a field given as undefined as absent', () => {
    expect(resolveSystemOptions({ throughput: undefined, mailbox: undefined })).toMatchObject({
      throughput: DEFAULT_THROUGHPUT,
      mailbox: { capacity: DEFAULT_MAILBOX_CAPACITY, overflow: 'drop-newest' },
    });
  });

  it('keeps every valid value it is given', () => {
    const clock = new SimulatedClock();
    expect(
      resolveSystemOptions({
        nodeId: 'node-1.eu:4000',
        clock,
        throughput: 1,
        timeSliceMs: 0,
        askTimeoutMs: 0.5,
        mailbox: { capacity: Infinity, overflow: 'fail' },
        deadLetterHistory: 1,
        logger,
        tracerProvider,
        offload: { maxThreads: 2, maxQueue: 0, timeoutMs: Infinity, idleTimeoutMs: 1 },
      }),
    ).toEqual({
      nodeId: 'node-1.eu:4000',
      clock,
      throughput: 1,
      timeSliceMs: 0,
      askTimeoutMs: 0.5,
      mailbox: { capacity: Infinity, overflow: 'fail' },
      deadLetterHistory: 1,
      logger,
      tracerProvider,
      offload: { maxThreads: 2, maxQueue: 0, timeoutMs: Infinity, idleTimeoutMs: 1 },
      extensions: [],
    });
  });

  it.each([null, 5, 'opts', [], true])('refuses options that are not an object (%j)', (v) => {
    expectRefused(sys(v), 'options', v);
  });

  it('refuses an unknown option, naming it', () => {
    expectRefused(sys({ throughpt: 5 }), 'options.throughpt', 5);
    expectRefused(sys({ mailboxCapacity: 5 }), 'options.mailboxCapacity');
  });

  describe('nodeId', () => {
    it.each(['', 'a b', 'a/b', 'é', 5, null])('refuses %j', (v) => {
      expectRefused(sys({ nodeId: v }), 'options.nodeId', v);
    });
  });

  describe('clock', () => {
    it('refuses a value that is not an object', () => {
      expectRefused(sys({ clock: 5 }), 'options.clock', 5);
      expectRefused(sys({ clock: null }), 'options.clock', null);
    });

    it.each(['now', 'setTimeout', 'clearTimeout'])('refuses a clock without %s', (m) => {
      const clock: Record<string, unknown> = {
        now: () => 0,
        setTimeout: () => 0,
        clearTimeout: () => {},
      };
      delete clock[m];
      expectRefused(sys({ clock }), `options.clock.${m}`, undefined);
      expectRefused(sys({ clock: { ...clock, [m]: 'nope' } }), `options.clock.${m}`, 'nope');
    });
  });

  describe('logger', () => {
    it('refuses a value that is not an object', () => {
      expectRefused(sys({ logger: 'console' }), 'options.logger', 'console');
    });

    it.each(['info', 'warn', 'error'])('refuses a logger without %s', (m) => {
      const l: Record<string, unknown> = { ...logger };
      delete l[m];
      expectRefused(sys({ logger: l }), `options.logger.${m}`);
    });
  });

  describe('tracerProvider', () => {
    it('refuses a provider without getTracer', () => {
      expectRefused(sys({ tracerProvider: {} }), 'options.tracerProvider.getTracer');
      expectRefused(sys({ tracerProvider: 1 }), 'options.tracerProvider', 1);
    });
  });

  describe('throughput', () => {
    it('accepts 1, the smallest', () => {
      expect(resolveSystemOptions({ throughput: 1 }).throughput).toBe(1);
    });

    it.each([0, -1, 1.5, Number.NaN, Infinity, '64', null])('refuses %j', (v) => {
      expectRefused(sys({ throughput: v }), 'options.throughput', v);
    });
  });

  describe.each(['timeSliceMs', 'askTimeoutMs'])('%s', (field) => {
    it('accepts 0 and fractions', () => {
      expect(resolveSystemOptions({ [field]: 0 })).toMatchObject({ [field]: 0 });
      expect(resolveSystemOptions({ [field]: 2.5 })).toMatchObject({ [field]: 2.5 });
    });

    it.each([-1, -0.001, Number.NaN, Infinity, -Infinity, '10', null])('refuses %j', (v) => {
      expectRefused(sys({ [field]: v }), `options.${field}`, v);
    });
  });

  describe('mailbox', () => {
    it('merges a partial mailbox over the defaults', () => {
      expect(resolveSystemOptions({ mailbox: { capacity: 3 } }).mailbox).toEqual({
        capacity: 3,
        overflow: 'drop-newest',
      });
      expect(resolveSystemOptions({ mailbox: { overflow: 'drop-oldest' } }).mailbox).toEqual({
        capacity: DEFAULT_MAILBOX_CAPACITY,
        overflow: 'drop-oldest',
      });
      expect(resolveSystemOptions({ mailbox: {} }).mailbox).toEqual({
        capacity: DEFAULT_MAILBOX_CAPACITY,
        overflow: 'drop-newest',
      });
    });

    it('accepts a capacity of 1 and of Infinity', () => {
      expect(resolveSystemOptions({ mailbox: { capacity: 1 } }).mailbox.capacity).toBe(1);
      expect(resolveSystemOptions({ mailbox: { capacity: Infinity } }).mailbox.capacity).toBe(
        Infinity,
      );
    });

    it.each([0, -1, 2.5, Number.NaN, -Infinity, '10', null])('refuses a capacity of %j', (v) => {
      expectRefused(sys({ mailbox: { capacity: v } }), 'options.mailbox.capacity', v);
    });

    it('accepts every overflow policy', () => {
      expect(OVERFLOW_POLICIES).toEqual(['drop-newest', 'drop-oldest', 'reject', 'fail']);
      for (const overflow of OVERFLOW_POLICIES)
        expect(resolveSystemOptions({ mailbox: { overflow } }).mailbox.overflow).toBe(overflow);
    });

    it.each(['nope', 'DROP-NEWEST', '', null, 1])('refuses the overflow %j', (v) => {
      expectRefused(sys({ mailbox: { overflow: v } }), 'options.mailbox.overflow', v);
    });

    it.each([null, 5, [], 'big'])('refuses a mailbox that is not an object (%j)', (v) => {
      expectRefused(sys({ mailbox: v }), 'options.mailbox', v);
    });

    it('refuses an unknown mailbox key', () => {
      expectRefused(sys({ mailbox: { size: 5 } }), 'options.mailbox.size', 5);
    });
  });

  describe('deadLetterHistory', () => {
    it('accepts 0 (keep none) and 1', () => {
      expect(resolveSystemOptions({ deadLetterHistory: 0 }).deadLetterHistory).toBe(0);
      expect(resolveSystemOptions({ deadLetterHistory: 1 }).deadLetterHistory).toBe(1);
    });

    it.each([-1, 1.5, Number.NaN, Infinity, '256', null])('refuses %j', (v) => {
      expectRefused(sys({ deadLetterHistory: v }), 'options.deadLetterHistory', v);
    });
  });
});

describe('resolveMailbox', () => {
  it('returns the defaults unchanged when given nothing', () => {
    expect(resolveMailbox('options.mailbox', undefined, MAILBOX_DEFAULTS)).toBe(MAILBOX_DEFAULTS);
  });

  it('names fields under the path it is given', () => {
    expectRefused(
      () => resolveMailbox('opts.box', { capacity: 0 }, MAILBOX_DEFAULTS),
      'opts.box.capacity',
      0,
    );
  });
});

describe('resolveSpawnOptions', () => {
  it('uses the given mailbox defaults, no name and no persistence when given nothing', () => {
    expect(resolveSpawnOptions(undefined, MAILBOX_DEFAULTS)).toEqual({
      name: undefined,
      mailbox: MAILBOX_DEFAULTS,
      persistence: null,
    });
    expect(resolveSpawnOptions({}, MAILBOX_DEFAULTS)).toEqual({
      name: undefined,
      mailbox: MAILBOX_DEFAULTS,
      persistence: null,
    });
  });

  it('merges a partial mailbox over the given defaults, not the system constants', () => {
    expect(resolveSpawnOptions({ mailbox: { capacity: 2 } }, MAILBOX_DEFAULTS).mailbox).toEqual({
      capacity: 2,
      overflow: 'reject',
    });
    expect(
      resolveSpawnOptions({ mailbox: { overflow: 'fail' } }, MAILBOX_DEFAULTS).mailbox,
    ).toEqual({ capacity: 7, overflow: 'fail' });
  });

  it('keeps a name, a mailbox and a persistence store with its key', () => {
    const store = new InMemoryStore();
    expect(
      resolveSpawnOptions(
        {
          name: 'worker',
          mailbox: { capacity: Infinity, overflow: 'drop-oldest' },
          persistence: { store, key: 'k' },
        },
        MAILBOX_DEFAULTS,
      ),
    ).toEqual({
      name: 'worker',
      mailbox: { capacity: Infinity, overflow: 'drop-oldest' },
      persistence: { store, key: 'k' },
    });
  });

  it('leaves the persistence key undefined when not given (the actor path is used)', () => {
    const store = new InMemoryStore();
    expect(resolveSpawnOptions({ persistence: { store } }, MAILBOX_DEFAULTS).persistence).toEqual({
      store,
      key: undefined,
    });
  });

  it.each([null, 5, 'name', []])('refuses options that are not an object (%j)', (v) => {
    expectRefused(spawn(v), 'options', v);
  });

  it('refuses an unknown option, naming it', () => {
    expectRefused(spawn({ nmae: 'x' }), 'options.nmae', 'x');
  });

  it.each([5, null, {}])('refuses a name that is not a string (%j)', (v) => {
    expectRefused(spawn({ name: v }), 'options.name', v);
  });

  it.each([0, -1, 1.5, Number.NaN, '3'])('refuses a mailbox capacity of %j', (v) => {
    expectRefused(spawn({ mailbox: { capacity: v } }), 'options.mailbox.capacity', v);
  });

  it('accepts a mailbox capacity of 1 and of Infinity', () => {
    expect(
      resolveSpawnOptions({ mailbox: { capacity: 1 } }, MAILBOX_DEFAULTS).mailbox.capacity,
    ).toBe(1);
    expect(
      resolveSpawnOptions({ mailbox: { capacity: Infinity } }, MAILBOX_DEFAULTS).mailbox.capacity,
    ).toBe(Infinity);
  });

  it('refuses a bad overflow policy and an unknown mailbox key', () => {
    expectRefused(spawn({ mailbox: { overflow: 'nope' } }), 'options.mailbox.overflow', 'nope');
    expectRefused(spawn({ mailbox: { cap: 1 } }), 'options.mailbox.cap', 1);
    expectRefused(spawn({ mailbox: null }), 'options.mailbox', null);
  });

  describe('persistence', () => {
    it.each([null, 5, 'store', []])('refuses a value that is not an object (%j)', (v) => {
      expectRefused(spawn({ persistence: v }), 'options.persistence', v);
    });

    it('refuses an unknown key', () => {
      expectRefused(
        spawn({ persistence: { store: new InMemoryStore(), ttl: 5 } }),
        'options.persistence.ttl',
        5,
      );
    });

    it('refuses a missing or non-object store', () => {
      expectRefused(spawn({ persistence: {} }), 'options.persistence.store', undefined);
      expectRefused(spawn({ persistence: { store: 'mem' } }), 'options.persistence.store', 'mem');
    });

    it.each(['load', 'save'])('refuses a store without %s', (m) => {
      const store: Record<string, unknown> = {
        load: () => Promise.resolve(undefined),
        save: () => Promise.resolve(1),
      };
      delete store[m];
      expectRefused(spawn({ persistence: { store } }), `options.persistence.store.${m}`, undefined);
    });

    it('accepts a store without delete (it is optional)', () => {
      const store = { load: () => Promise.resolve(undefined), save: () => Promise.resolve(1) };
      expect(resolveSpawnOptions({ persistence: { store } }, MAILBOX_DEFAULTS).persistence).toEqual(
        {
          store,
          key: undefined,
        },
      );
    });

    it.each(['', 5, null])('refuses a key of %j', (key) => {
      expectRefused(
        spawn({ persistence: { store: new InMemoryStore(), key } }),
        'options.persistence.key',
        key,
      );
    });
  });
});

describe('options through the public API', () => {
  it('createSystem throws ERR_INVALID_OPTION for throughput 0', () => {
    expectRefused(() => createSystem({ throughput: 0 }), 'options.throughput', 0);
  });

  it('createSystem throws for a mailbox capacity of 0 and of -1, and accepts Infinity', async () => {
    expectRefused(() => createSystem({ mailbox: { capacity: 0 } }), 'options.mailbox.capacity', 0);
    expectRefused(
      () => createSystem({ mailbox: { capacity: -1 } }),
      'options.mailbox.capacity',
      -1,
    );
    const system = createSystem({ clock: new SimulatedClock(), mailbox: { capacity: Infinity } });
    await system.shutdown();
  });

  it('createSystem refuses an unknown option', () => {
    expectRefused(
      () => createSystem({ throughPut: 3 } as unknown as SystemOptions),
      'options.throughPut',
      3,
    );
  });

  it('spawn throws ERR_INVALID_OPTION naming options.mailbox.overflow for an unknown policy', async () => {
    const system = createSystem({ clock: new SimulatedClock() });
    const b = fromReceive(0, (s) => s);
    expectRefused(
      () => system.spawn(b, { mailbox: { overflow: 'nope' } } as unknown as SpawnOptions),
      'options.mailbox.overflow',
      'nope',
    );
    expectRefused(
      () => system.spawn(b, { mailbox: { capacity: 0 } }),
      'options.mailbox.capacity',
      0,
    );
    // the system still works after refusing
    const ref = system.spawn(b, { mailbox: { capacity: 1 } });
    expect(ref.path).toMatch(/^\/user\//);
    await system.shutdown();
  });
});
