/**
 * The escape suite: untrusted code trying to get out of its sandbox, to hurt its host through
 * the capabilities, and to exhaust it; in both sandbox modes.
 *
 * Every sandboxed-actor case runs the sandbox as the child of a one-for-one supervisor, next to
 * an echo actor and a victim actor the sandbox is never given, and checks (escape-support.ts):
 *   1. the host is unharmed and was reached by nothing: the escape's verdict shows no host
 *      global was reached, the host's globalThis and prototypes gained nothing, what came out
 *      is plain data (no getter, Proxy or function that could run host-side), the sandbox host
 *      process is the same one (unless a time limit's violation had the watchdog kill it),
 *      and the victim received nothing;
 *   2. a violation disposes the isolate (or, for a call isolated-vm could not stop, the
 *      watchdog kills its host): `disposed` grows and `live` does not;
 *   3. other actors keep answering (the echo answers an ask right after);
 *   4. the supervisor got the typed failure (the class, and the `limit` of a violation).
 * Outcomes only, never how fast: a limit meant to be generous is GENEROUS_CPU_MS, which a
 * loaded machine cannot reach; how soon a violation is found is bench/'s (sandbox-recovery).
 */
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  configureSandboxes,
  fromReceive,
  runUntrusted,
  sandboxStats,
  SandboxCapabilityError,
  SandboxCodeError,
  SandboxLimitError,
  SandboxSourceError,
  type ActorRef,
  type SandboxMode,
} from '../../index.ts';
import {
  expectPlainData,
  GENEROUS,
  Harness,
  isSandboxError,
  PRELUDE,
  runInChild,
  SB,
  until,
} from './escape-support.ts';

/** The CPU limit of the cases about the CPU limit. */
const CPU_MS = 50;
const COPY_BYTES = 64 * 1024;

/**
 * Realm escapes: each a function body run by message 'go' (`this` the receive's, `ctx` the
 * sandbox's), with the verdict it must come to when it does not throw: it ran, and what it
 * reached is the isolate's own realm. A verdict with HOST or LEAK fails every case.
 */
const ESCAPES: [string, string, RegExp][] = [
  [
    "this.constructor.constructor('return process')()",
    `var out = [probe(this.constructor.constructor, 'this')];
     out.push(probe((function () { return this; })().constructor.constructor, 'sloppy this'));
     try { out.push('process: ' + typeof this.constructor.constructor('return process')()); }
     catch (e) { out.push('process threw ' + e.name); }
     return out;`,
    /^this: isolate \| sloppy this: isolate \| process threw ReferenceError$/,
  ],
  [
    'constructors of what the host hands in (ctx, its functions, refs, self)',
    `return [
       probe(ctx.constructor.constructor, 'ctx'),
       probe(ctx.reply.constructor, 'ctx.reply'),
       probe(ctx.tell.constructor, 'ctx.tell'),
       probe(ctx.emit.constructor, 'ctx.emit'),
       probe(Object.getPrototypeOf(ctx.log).constructor, 'proto of ctx.log'),
       probe(ctx.self.constructor.constructor, 'ctx.self'),
       probe(ctx.refs.sink.constructor.constructor, 'ctx.refs.sink'),
     ];`,
    /^ctx: isolate \| ctx\.reply: isolate \| ctx\.tell: isolate \| ctx\.emit: isolate \| proto of ctx\.log: isolate \| ctx\.self: isolate \| ctx\.refs\.sink: isolate$/,
  ],
  [
    'caller chains (receive.caller, ctx.reply.caller, toJSON.caller inside a copy)',
    `var out = [];
     out.push('receive.caller=' + (receive.caller === null ? 'null' : typeof receive.caller) + leak(receive.caller));
     try { out.push('reply.caller=' + typeof ctx.reply.caller); } catch (e) { out.push('reply.caller threw ' + e.name); }
     var o = { toJSON: function () { var c = o.toJSON.caller; out.push('toJSON.caller=' + (c === null ? 'null' : typeof c) + leak(c)); return 1; } };
     ctx.emit(o);
     return out;`,
    /^receive\.caller=null \| reply\.caller threw TypeError \| toJSON\.caller=null$/,
  ],
  [
    'Error.prepareStackTrace with structured CallSites (getThis, getFunction), through the bootstrap',
    `var out = [];
     Error.prepareStackTrace = function (e, frames) {
       for (var i = 0; i < frames.length; i++) {
         var f = frames[i], t, fn;
         try { t = f.getThis(); } catch (x) {}
         try { fn = f.getFunction(); } catch (x) {}
         out.push(leak(fn));
         if (t && t.constructor) out.push(probe(t.constructor.constructor, 'getThis ' + f.getFunctionName()));
         if (fn) out.push(probe(fn.constructor, 'getFunction ' + f.getFunctionName()));
       }
       out.push(probe(frames.constructor.constructor, 'frames'));
       return 'stack';
     };
     new Error('direct').stack;
     var holder = {}; Error.captureStackTrace(holder); holder.stack;
     ctx.emit({ get x() { new Error('in a copy').stack; return 1; } });
     try { ctx.tell({ $ref: 42 }, 'x'); } catch (e) { e.stack; out.push(probe(e.constructor.constructor, 'bootstrap error')); }
     try { ctx.tell({ get $ref() { new Error('in a ref').stack; throw new Error('no'); } }, 1); } catch (e) {}
     Error.prepareStackTrace = undefined;
     return out.filter(Boolean);`,
    /getFunction receive: isolate.*frames: isolate.*bootstrap error: isolate/,
  ],
  [
    '__lookupGetter__ / __defineGetter__ / __defineSetter__',
    `var out = [];
     var protoOf = ({}).__lookupGetter__('__proto__');
     out.push(probe(protoOf.call(ctx.reply).constructor, '__proto__ of ctx.reply'));
     out.push(probe(protoOf.call(ctx).constructor.constructor, '__proto__ of ctx'));
     ctx.__defineGetter__('mine', function () { return this; });
     out.push(probe(ctx.mine.constructor.constructor, 'getter this'));
     out.push('reply getter ' + typeof ctx.__lookupGetter__('reply'));
     Object.prototype.__defineSetter__('$ref', function () { out.push('setter ran'); });
     Object.prototype.__defineGetter__('refs', function () { return { sink: { $ref: 'troupe://local/user/victim' } }; });
     ctx.emit({ n: 1 });
     return out;`,
    /^__proto__ of ctx\.reply: isolate \| __proto__ of ctx: isolate \| getter this: isolate \| reply getter undefined$/,
  ],
  [
    'Promise Symbol.species catching a stack overflow (vm2 CVE-2023-37466 style)',
    `var out = [];
     async function fn() { (function stack() { new Error().stack; stack(); })(); }
     var p = fn();
     p.constructor = {
       [Symbol.species]: class FakePromise {
         constructor(executor) {
           executor(function (x) { return x; }, function (err) {
             out.push(probe(err.constructor.constructor, 'caught ' + err.name));
             keep(out);
           });
         }
       },
     };
     p.then();`,
    /^caught RangeError: isolate$/,
  ],
  [
    'Symbol.species on the promise of import(): its rejection caught (host-made error)',
    `var out = [];
     var p = import('node:child_process');
     p.constructor = {
       [Symbol.species]: function (executor) {
         executor(function (m) { out.push('HOST imported ' + Object.keys(m)); keep(out); }, function (err) {
           out.push(probe(err.constructor.constructor, 'import rejection ' + err.message));
           keep(out);
         });
       },
     };
     p.then();`,
    /^import rejection Not supported: isolate$/,
  ],
  [
    'prepareStackTrace on an async error (vm2 CVE-2023-29017 style)',
    `Error.prepareStackTrace = function (e, frames) {
       keep([probe(frames.constructor.constructor, 'frames'), probe(e.constructor.constructor, 'error')]);
       return '';
     };
     (async function aa() { null.f(); })().catch(function (e) { e.stack; Error.prepareStackTrace = undefined; });`,
    /^frames: isolate \| error: isolate$/,
  ],
  [
    'Proxy and Reflect on caught errors (vm2 proxy-on-host-error style)',
    `var out = [];
     var caught;
     try { ctx.tell({ $ref: 42 }, 'x'); } catch (e) { caught = e; }
     var px = new Proxy(caught, { getPrototypeOf: function (t) { return Reflect.getPrototypeOf(t); } });
     out.push(probe(Reflect.getPrototypeOf(px).constructor.constructor, 'proxy on a bootstrap error'));
     try { ctx.reply(new Proxy({}, { ownKeys: function () { throw px; } })); }
     catch (e) { out.push(probe(e.constructor.constructor, 'error out of a copy')); }
     out.push(probe(Reflect.construct(Function, ['return 1']).constructor, 'Reflect.construct'));
     out.push(probe(Reflect.get(ctx, 'reply').constructor, 'Reflect.get'));
     out.push('ctx keys ' + Reflect.ownKeys(ctx).join(','));
     out.push('reply own keys ' + Reflect.ownKeys(ctx.reply).join(','));
     return out;`,
    /^proxy on a bootstrap error: isolate \| error out of a copy: isolate \| Reflect\.construct: isolate \| Reflect\.get: isolate \| ctx keys self,sender,refs,reply,tell,emit,log \| reply own keys length,name$/,
  ],
  [
    'async generators and yield* over a thenable iterator',
    `var out = [];
     var AsyncGen = Object.getPrototypeOf(async function* () {}).constructor;
     out.push(probe(AsyncGen, 'AsyncGeneratorFunction'));
     var thenable = { then: function (res) { out.push(probe(res.constructor, 'resolve of yield*')); res({ value: 'v', done: true }); } };
     var it = { [Symbol.asyncIterator]: function () { return { next: function () { return thenable; } }; } };
     async function* outer() {
       var r = yield* it;
       out.push('yield* gave ' + r);
       yield* new AsyncGen('yield typeof process; yield typeof require')();
     }
     return (async function () {
       var seen = [];
       for await (var v of outer()) seen.push(v);
       out.push('yielded ' + seen.join(','));
       return out;
     })();`,
    /^AsyncGeneratorFunction: isolate \| resolve of yield\*: isolate \| yield\* gave v \| yielded undefined,undefined$/,
  ],
  [
    'import() of node builtins, data: and relative modules',
    `var out = [];
     function settle(p, how) {
       return p.then(function (m) { out.push('HOST ' + how + ' imported ' + Object.keys(m)); },
         function (e) { out.push(how + ' refused: ' + e.message); });
     }
     return Promise.all([
       settle(import('node:child_process'), 'node:child_process'),
       settle(import('data:text/javascript,export default 1'), 'data:'),
       settle(import('./x.js'), 'relative'),
     ]).then(function () { return out; });`,
    /^node:child_process refused: Not supported \| data: refused: Not supported \| relative refused: Not supported$/,
  ],
  [
    'eval and Function on host names',
    `return [typeof process, typeof require, typeof module, typeof Buffer, eval('typeof process'),
       new Function('return typeof require')(), typeof globalThis.process, typeof global].join(',');`,
    /^undefined(,undefined){7}$/,
  ],
  [
    'the global holds nothing of the host or of the bootstrap',
    `var names = Object.getOwnPropertyNames(globalThis);
     return 'found: ' + names.filter(function (n) { return HOST_NAMES.indexOf(n) >= 0; }).join(',') + ' of ' + names.length;`,
    /^found: {2}of \d+$/,
  ],
  [
    'prototype pollution inside stays inside',
    `Object.prototype.polluted = 'yes';
     Array.prototype.polluted = 'yes';
     Function.prototype.polluted = 'yes';
     Object.defineProperty(Object.prototype, 'then', { value: function (r) { r('thenable'); }, configurable: true });
     ctx.emit({ n: 1 });
     ctx.tell(ctx.refs.sink, { n: 2 });
     return 'polluted';`,
    /^polluted$/,
  ],
];

describe.each(['thread', 'process'] as SandboxMode[])('sandbox escapes, mode %s', (mode) => {
  let h: Harness;
  beforeAll(() => configureSandboxes({ mode }));
  beforeEach(async () => {
    configureSandboxes({ mode });
    h = await Harness.open(mode);
  });
  afterEach(async () => {
    await h.close();
  });
  afterAll(() => configureSandboxes({ mode: 'process' }));

  describe('realm escapes', () => {
    it.each(ESCAPES)('%s', async (_name, body, verdict) => {
      const r = await h.escape(body);
      if ('error' in r) {
        // the code threw inside: it got nothing
        expect(r.error, String(r.error)).toBeInstanceOf(SandboxCodeError);
      } else {
        expect(r.verdict).not.toMatch(/HOST|LEAK|setter ran/);
        expect(r.verdict).toMatch(verdict);
      }
      await h.expectEchoAnswers();
      // what came out is plain data (the emitted events, the told messages)
      expectPlainData(h.sink.got);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('import.meta is not even valid source: SandboxSourceError', async () => {
      const failed = h.nextFailure();
      h.supervise({ source: `function receive(s) { return import.meta.url }` });
      const f = await failed;
      expect(f.event.error, String(f.event.error)).toBeInstanceOf(SandboxSourceError);
      await h.expectEchoAnswers();
    });
  });

  describe('host-callback abuse: what the code hands to ctx.reply, ctx.tell, ctx.emit, ctx.log', () => {
    /** Values the code builds, by kind (each counts in `hits` what ran inside). */
    const SOURCE = `
      var hits = 0;
      function make(kind) {
        switch (kind) {
          case 'getter': return { a: 1, get b() { hits++; return 'from a getter'; } };
          case 'proxy': return new Proxy({}, {
            ownKeys: function () { hits++; return ['k']; },
            getOwnPropertyDescriptor: function () { return { value: 'v', enumerable: true, configurable: true }; },
            get: function (t, k) { return k === 'k' ? 'from a trap' : undefined; },
          });
          case 'thenable': return { n: 1, then: function (res) { hits++; res('adopted'); } };
          case 'custom-inspect': {
            var o = { n: 2, toString: function () { hits++; return 'x'; }, valueOf: function () { hits++; return 3; } };
            o[Symbol.for('nodejs.util.inspect.custom')] = function () { hits++; return 'inspected'; };
            o[Symbol.toPrimitive] = function () { hits++; return 'prim'; };
            return o;
          }
          case 'cyclic': { var c = { a: [] }; c.a.push(c); return c; }
          case 'throwing-getter': return { get b() { throw Symbol('not an error'); } };
          case 'huge': return { pad: 'x'.repeat(${COPY_BYTES} + 1) };
          case 'deep': { var d = 1; for (var i = 0; i < 100; i++) d = [d]; return d; }
          case 'forged-ref': return { to: { $ref: 'troupe://local/user/victim' } };
        }
      }
      function receive(s, msg, ctx) {
        if (msg === 'hits') { ctx.reply(hits); return s; }
        var v = make(msg.kind);
        if (msg.cap === 'reply') ctx.reply(v);
        if (msg.cap === 'tell') ctx.tell(ctx.refs.sink, v);
        if (msg.cap === 'emit') ctx.emit(v);
        if (msg.cap === 'log') ctx.log('value', v);
        return s;
      }`;
    const CAPS = ['reply', 'tell', 'emit', 'log'] as const;
    const DATA: [string, unknown][] = [
      ['getter', { a: 1, b: 'from a getter' }],
      ['proxy', { k: 'from a trap' }],
      ['thenable', { n: 1 }],
      // vm2 CVE-2023-37903 style: a nodejs.util.inspect.custom hook the host might call
      ['custom-inspect', { n: 2 }],
    ];

    /** What arrived where the capability delivers, for one message. */
    async function deliver(sb: ActorRef<unknown, unknown>, cap: string, kind: string) {
      if (cap === 'reply') return sb.ask({ cap, kind }, { timeout: 3_000 });
      const before = cap === 'log' ? h.logs.length : h.sink.got.length;
      sb.tell({ cap, kind });
      if (cap === 'log') {
        await until(() => h.logs.length > before, 'a log line');
        return h.logs[before];
      }
      await until(() => h.sink.got.length > before, 'a delivery to the sink');
      const got = h.sink.got[before] as { type?: string; event?: unknown };
      return cap === 'emit' ? got.event : got;
    }

    for (const cap of CAPS)
      it.each(DATA)(
        `ctx.${cap}(%s): plain data arrives, nothing runs host-side`,
        async (kind, data) => {
          const sb = await h.sandbox({
            source: SOURCE,
            limits: { ...GENEROUS, copyBytes: COPY_BYTES },
            capabilities: h.allCapabilities,
          });
          const got = await deliver(sb, cap, kind);
          if (cap === 'log') expect(got).toBe(`${SB}: value ${JSON.stringify(data)}`);
          else {
            expect(got).toEqual(data);
            expectPlainData(got);
            expect(inspect(got)).toBe(inspect(data));
          }
          // the getter, trap or thenable ran inside (once, when copied) or not at all, never here
          const hits = await sb.ask('hits', { timeout: 3_000 });
          expect(hits).toBe(kind === 'getter' || kind === 'proxy' ? 1 : 0);
          expect(h.failures).toEqual([]);
          await h.expectEchoAnswers();
        },
      );

    for (const cap of CAPS) {
      it(`ctx.${cap}(a cyclic value) and ctx.${cap}(a getter throwing a symbol): SandboxCodeError`, async () => {
        const sb = await h.sandbox({
          source: SOURCE,
          capabilities: h.allCapabilities,
          limits: { ...GENEROUS, copyBytes: COPY_BYTES },
        });
        for (const kind of ['cyclic', 'throwing-getter']) {
          const failed = h.nextFailure();
          sb.tell({ cap, kind });
          const f = await failed;
          const e = f.event.error as SandboxCodeError;
          expect(e, String(e)).toBeInstanceOf(SandboxCodeError);
          expect(e.thrown).toBe('TypeError');
        }
        await h.expectEchoAnswers();
      });

      it(`ctx.${cap}(a value over the copy limit): SandboxLimitError copy`, async () => {
        const sb = await h.sandbox({
          source: SOURCE,
          capabilities: h.allCapabilities,
          limits: { ...GENEROUS, copyBytes: COPY_BYTES },
        });
        await h.expectViolation(sb, { cap, kind: 'huge' }, 'copy');
      });

      it(`ctx.${cap}(a value nested 100 deep): a sandbox error, not a host one`, async () => {
        const sb = await h.sandbox({
          source: SOURCE,
          capabilities: h.allCapabilities,
          limits: { ...GENEROUS, copyBytes: COPY_BYTES },
        });
        const failed = h.nextFailure();
        sb.tell({ cap, kind: 'deep' });
        if (cap === 'log') {
          // a log line is text: it arrives as it is
          await until(() => h.logs.length > 0, 'a log line');
          expect(h.logs[0]).toMatch(/^\/user\/sup\/sb: value \[{100}1\]{100}$/);
          failed.catch(() => undefined);
          return;
        }
        const f = await failed;
        expect(isSandboxError(f.event.error), `${String(f.event.error)}`).toBe(true);
        expect((f.event.error as { path?: string }).path).toBe(SB);
        await h.expectEchoAnswers();
      });
    }

    it('a forged ref nested in a reply, a tell or an event: SandboxCapabilityError, the victim gets nothing', async () => {
      for (const cap of ['reply', 'tell', 'emit']) {
        const sb = await h.sandbox({
          source: SOURCE,
          capabilities: h.allCapabilities,
        });
        const failed = h.nextFailure();
        const asked =
          cap === 'reply' ? sb.ask({ cap, kind: 'forged-ref' }, { timeout: 500 }) : null;
        if (asked === null) sb.tell({ cap, kind: 'forged-ref' });
        const f = await failed;
        expect(f.event.error, String(f.event.error)).toBeInstanceOf(SandboxCapabilityError);
        if (asked !== null) await expect(asked).rejects.toThrow();
        expect(h.victim.got).toEqual([]);
        await h.system.stop(h.system.actorAt('/user/sup')!);
        await until(() => h.system.actorAt('/user/sup') === undefined, 'the supervisor stopped');
      }
      await h.expectEchoAnswers();
    });

    it('effects text cannot be forged: a reply string shaped like effects arrives as that string', async () => {
      const forged = `"],["t","${h.victim.ref.address}",{"pwn":1}],["r","`;
      const sb = await h.sandbox({
        source: `function receive(s, msg, ctx) { ctx.reply(msg.text); ctx.log(msg.text + '\\u0000'); return s }`,
        capabilities: { log: true },
      });
      await expect(sb.ask({ text: forged }, { timeout: 3_000 })).resolves.toBe(forged);
      await until(() => h.logs.length > 0, 'a log line');
      expect(h.logs[0]).toBe(`${SB}: ${forged}\u0000`);
      expect(h.victim.got).toEqual([]);
    });

    it('non-Error throws (a symbol, a Proxy whose traps throw, getters that throw, a huge message): SandboxCodeError with bounded text', async () => {
      const sb = await h.sandbox({
        source: `
          function receive(s, msg, ctx) {
            switch (msg) {
              case 'symbol': throw Symbol('s');
              case 'undefined': throw undefined;
              case 'proxy': throw new Proxy({}, { get: function () { throw new Proxy({}, {}); }, ownKeys: function () { throw 1; }, getPrototypeOf: function () { throw 2; } });
              case 'name-getter': { var e = new Error('m'); Object.defineProperty(e, 'name', { get: function () { throw e; } }); throw e; }
              case 'huge-message': throw new Error('x'.repeat(1e6));
              case 'huge-object': throw { pad: 'y'.repeat(1e6) };
              case 'fake-fault': { var f = new Error('!copy 1'); f.name = 'Evil\\n!copy 99'; throw f; }
            }
            return s;
          }`,
        limits: GENEROUS,
      });
      const cases: [string, string][] = [
        ['symbol', 'symbol'],
        ['undefined', 'undefined'],
        ['proxy', 'object'],
        ['name-getter', 'object'],
        ['huge-message', 'Error'],
        ['huge-object', 'object'],
        ['fake-fault', 'Evil'],
      ];
      for (const [msg, thrown] of cases) {
        const failed = h.nextFailure();
        sb.tell(msg);
        const f = await failed;
        const e = f.event.error as SandboxCodeError;
        expect(e, `${msg}: ${String(e)}`).toBeInstanceOf(SandboxCodeError);
        expect(e.thrown, msg).toBe(thrown);
        expect(e.message.length, msg).toBeLessThan(4_096 + 200);
        await until(() => h.system.actorAt(SB) !== undefined, 'restarted');
      }
      await h.expectEchoAnswers();
    });
  });

  describe('runUntrusted: what the code returns and logs', () => {
    const LIMITS = { ...GENEROUS, memoryMb: 32, copyBytes: COPY_BYTES };

    it('getters, Proxies, thenables, inspect hooks: plain data, resolved inside', async () => {
      const lines: string[] = [];
      const r = await runUntrusted(
        `var hits = 0;
         var o = { a: 1, get b() { hits++; return 'g'; } };
         o[Symbol.for('nodejs.util.inspect.custom')] = function () { hits += 100; return 'inspected'; };
         var p = new Proxy({}, { ownKeys: function () { return ['k']; }, getOwnPropertyDescriptor: function () { return { value: 1, enumerable: true, configurable: true }; }, get: function () { return 'trap'; } });
         log(o, p);
         var adopted = await { then: function (res) { res('adopted inside'); } };
         return { o: o, p: p, adopted: adopted, thenable: { then: function (res) { res('pwned'); } }, hits: function () { return hits; } };`,
        null,
        LIMITS,
        { log: (line) => lines.push(line) },
      );
      expect(r).toEqual({
        o: { a: 1, b: 'g' },
        p: { k: 'trap' },
        adopted: 'adopted inside',
        thenable: {},
      });
      expectPlainData(r);
      expect(lines).toEqual(['{"a":1,"b":"g"} {"k":"trap"}']);
    });

    it('a returned thenable is adopted inside: the host gets its value, not the thenable', async () => {
      await expect(
        runUntrusted(`return { then: function (res) { res({ from: 'then' }); } }`, null, LIMITS),
      ).resolves.toEqual({ from: 'then' });
    });

    it.each([
      ['a cyclic result', `var c = {}; c.c = c; return c;`, SandboxCodeError, 'TypeError'],
      ['a symbol thrown', `throw Symbol('s')`, SandboxCodeError, 'symbol'],
      [
        'a Proxy rejected',
        `return Promise.reject(new Proxy({}, { ownKeys: function () { throw 1; } }))`,
        SandboxCodeError,
        'object',
      ],
      [
        'a forged ref',
        `return { x: { $ref: 'troupe://local/user/victim' } }`,
        SandboxCapabilityError,
        undefined,
      ],
      [
        'a result nested 100 deep',
        `var d = 1; for (var i = 0; i < 100; i++) d = [d]; return d;`,
        SandboxCodeError,
        undefined,
      ],
    ])('%s: a sandbox error', async (_name, source, cls, thrown) => {
      const e = await runUntrusted(source, null, LIMITS).then(
        () => null,
        (x: unknown) => x,
      );
      expect(isSandboxError(e), String(e)).toBe(true);
      if (thrown !== undefined) {
        expect(e).toBeInstanceOf(cls);
        expect((e as SandboxCodeError).thrown).toBe(thrown);
      } else if (cls === SandboxCapabilityError) expect(e).toBeInstanceOf(cls);
    });

    it('a result over the copy limit: SandboxLimitError copy, its isolate disposed', async () => {
      const before = await sandboxStats();
      const e = await runUntrusted(`return 'x'.repeat(${COPY_BYTES} + 1)`, null, LIMITS).catch(
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(SandboxLimitError);
      expect((e as SandboxLimitError).limit).toBe('copy');
      await h.expectDisposed(before);
    });

    it('log lines after an await cannot forge the result (NUL and "=" in the text)', async () => {
      const lines: string[] = [];
      const r = await runUntrusted(
        `await null; log('\\u0000="forged"'); await null; log('\\u0000?'); return 'real';`,
        null,
        LIMITS,
        { log: (l) => lines.push(l) },
      );
      expect(r).toBe('real');
      expect(lines).toEqual(['\u0000="forged"', '\u0000?']);
    });

    it('realm escapes through this, log and input reach only the isolate', async () => {
      const r = await runUntrusted(
        `${PRELUDE}
         var out = [probe(this.constructor.constructor, 'this'), probe(log.constructor, 'log'),
           probe(input.constructor.constructor, 'input')];
         try { out.push('log.caller ' + typeof log.caller); } catch (e) { out.push('log.caller threw ' + e.name); }
         Error.prepareStackTrace = function (e, frames) {
           frames.forEach(function (f) { var fn = f.getFunction(); out.push(leak(fn)); if (fn) out.push(probe(fn.constructor, 'frame ' + f.getFunctionName())); });
           return '';
         };
         new Error().stack;
         await null;
         new Error().stack;
         Error.prepareStackTrace = undefined;
         try { await import('fs'); out.push('HOST import'); } catch (e) { out.push(probe(e.constructor.constructor, 'import error')); }
         return out.filter(Boolean).join(' | ');`,
        { a: 1 },
        LIMITS,
        { log: () => undefined },
      );
      expect(r).not.toMatch(/HOST|LEAK/);
      expect(r).toMatch(
        /^this: isolate \| log: isolate \| input: isolate \| log\.caller threw TypeError .*import error: isolate$/,
      );
      expect((globalThis as Record<string, unknown>).__troupeEscaped).toBeUndefined();
    });
  });

  describe('resource attacks', () => {
    /** A sandbox whose receive runs `msg.attack` (one of these bodies). */
    const ATTACKS = `
      function receive(s, msg, ctx) {
        switch (msg.attack) {
          case 'loop': for (;;) {}
          case 'regex': return /^(a+)+$/.test('a'.repeat(40) + '!');
          case 'microtasks': { var f = function () { Promise.resolve().then(f); }; f(); return s; }
          case 'caught-overflows': { var r = function () { try { r(); } catch (e) { r(); } }; r(); return s; }
          case 'recursion': { var d = function (n) { return d(n + 1) + 1; }; return d(0); }
          case 'doubling': { var a = [1, 2, 3, 4]; for (;;) a = a.concat(a); }
          case 'json': return JSON.parse('[' + '1,'.repeat(2e7) + '1]').length;
          case 'reply-512mb': ctx.reply('x'.repeat(2 ** 29 - 24)); return s;
          case 'tell-big-string': { var t = 'xy'; while (t.length < 2 ** 27) t += t; ctx.tell(ctx.refs.sink, t); return s; }
          case 'reply-over': ctx.reply('x'.repeat(${COPY_BYTES} + 1)); return s;
          case 'reply-utf8-over': ctx.reply('\u20ac'.repeat(${COPY_BYTES} / 3 + 10)); return s;
          case 'many-effects': { for (var i = 0; i < 100; i++) ctx.tell(ctx.refs.sink, 'z'.repeat(${COPY_BYTES} / 2)); return s; }
          case 'caught-copy': { try { ctx.reply('x'.repeat(${COPY_BYTES} + 1)); } catch (e) {} ctx.reply('small'); return s; }
          case 'resizable': {
            globalThis.kept = globalThis.kept || [];
            var b = new ArrayBuffer(0, { maxByteLength: 2 ** 26 });
            b.resize(2 ** 26);
            var u = new Uint8Array(b);
            for (var j = 0; j < u.length; j += 4096) u[j] = 1;
            globalThis.kept.push(b);
            ctx.reply(globalThis.kept.length * 64);
            return s;
          }
        }
        return s;
      }`;
    const caps = () => ({ tell: true, refs: { sink: h.sink.ref } });

    it.each([
      ['an infinite loop', 'loop'],
      ['a catastrophic regex', 'regex'],
      ['an endless microtask chain', 'microtasks'],
      ['stack overflows caught and recursed again', 'caught-overflows'],
    ])('%s: cpu, within the limit', async (_name, attack) => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { cpuMs: CPU_MS },
        capabilities: caps(),
      });
      const e = await h.expectViolation(sb, { attack }, 'cpu');
      expect(e.value).toBeGreaterThanOrEqual(CPU_MS);
    });

    it('an infinite loop past a shorter wall limit: wall', async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { cpuMs: 200, wallMs: 30 },
        capabilities: caps(),
      });
      await h.expectViolation(sb, { attack: 'loop' }, 'wall');
    });

    // One call of a V8 builtin on a huge value (Array#concat, JSON.parse) cannot be interrupted
    // by the CPU limit, and isolated-vm finds the memory limit when a garbage collection fails:
    // the violation comes when the builtin gives up (up to ~1.5 s late here, limits.ts and the
    // README say so), or, past the limit plus the watchdog's grace, the host is killed.

    // The memory limit is what this attack must meet, so the CPU limit is one no machine
    // reaches: with cpuMs 100 (and even 2,000) a loaded machine hit the CPU limit first, and
    // the outcome depended on the load.

    it('array doubling until out of memory: memory (late by what one builtin call takes)', async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { ...GENEROUS, memoryMb: 16 },
        capabilities: caps(),
      });
      await h.expectViolation(sb, { attack: 'doubling' }, 'memory');
    });

    it('a huge JSON.parse: a violation (late by what one builtin call takes)', async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { cpuMs: 100, memoryMb: 16 },
        capabilities: caps(),
      });
      await h.expectViolation(sb, { attack: 'json' }, ['memory', 'cpu']);
    });

    it("a reply of 512 MB ('x'.repeat(2 ** 29 - 24)): a violation", async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { cpuMs: 100, memoryMb: 16, copyBytes: COPY_BYTES },
        capabilities: caps(),
      });
      await h.expectViolation(sb, { attack: 'reply-512mb' }, ['copy', 'memory', 'cpu']);
    });

    it('a string built by doubling to 128 M characters, told: a violation', async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { cpuMs: 100, memoryMb: 16, copyBytes: COPY_BYTES },
        capabilities: caps(),
      });
      await h.expectViolation(sb, { attack: 'tell-big-string' }, ['copy', 'memory', 'cpu']);
      expect(h.sink.got).toEqual([]);
    });

    it.each([
      ['a reply over the copy limit', 'reply-over'],
      ['a reply over the copy limit in UTF-8 bytes only (€ is 3 bytes)', 'reply-utf8-over'],
      ['many effects over 4× the copy limit in one call', 'many-effects'],
      ['a copy over the limit, caught by the code', 'caught-copy'],
    ])('%s: copy', async (_name, attack) => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { ...GENEROUS, copyBytes: COPY_BYTES },
        capabilities: caps(),
      });
      await h.expectViolation(sb, { attack }, 'copy');
      expect(h.sink.got).toEqual([]);
    });

    it('a message in over the copy limit: copy, before it is copied', async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { ...GENEROUS, copyBytes: COPY_BYTES },
        capabilities: caps(),
      });
      const e = await h.expectViolation(
        sb,
        { attack: 'none', pad: 'p'.repeat(2 * COPY_BYTES) },
        'copy',
      );
      expect(e.value).toBeGreaterThan(COPY_BYTES);
    });

    it('deep recursion: the code throws RangeError inside (SandboxCodeError)', async () => {
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: GENEROUS,
        capabilities: caps(),
      });
      const failed = h.nextFailure();
      sb.tell({ attack: 'recursion' });
      const f = await failed;
      const e = f.event.error as SandboxCodeError;
      expect(e, String(e)).toBeInstanceOf(SandboxCodeError);
      expect(e.thrown).toBe('RangeError');
      await h.expectEchoAnswers();
    });

    // A V8 fatal error (an array past V8's largest: "Fatal JavaScript invalid size error")
    // aborts the process that holds the isolate, whatever troupe does: the reason isolates live
    // in a sandbox host process, in both modes. The node lives on, the call fails (with
    // SandboxHostLostError, or SandboxLimitError when the watchdog killed the host first) and
    // the next one gets a new host.
    it("'a'.repeat(2 ** 28).split(''), a V8 fatal error: only the sandbox host process dies", async () => {
      // in a node process of its own, should it be that process that dies
      const run = await runInChild(mode, `return 'a'.repeat(2 ** 28).split('').length`, {
        cpuMs: 100,
        memoryMb: 16,
      });
      expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 0, signal: null });
      expect(['SandboxHostLostError', 'SandboxLimitError'], JSON.stringify(run.result)).toContain(
        run.result?.error,
      );
      expect(run.result?.hostRestarts).toBe(1);
      await h.expectEchoAnswers();
    });

    it('resizable ArrayBuffers kept across messages stay within the memory limit', async () => {
      // 16 MB of heap; each message keeps 64 MB more of a resizable ArrayBuffer (pages touched)
      const sb = await h.sandbox({
        source: ATTACKS,
        limits: { ...GENEROUS, memoryMb: 16 },
        capabilities: caps(),
      });
      const failed = h.nextFailure();
      let held = 0;
      let error: unknown;
      for (let i = 0; i < 4 && error === undefined; i++) {
        const r = await Promise.race([
          sb.ask({ attack: 'resizable' }, { timeout: 3_000 }).catch(() => undefined),
          failed.then((f) => {
            error = f.event.error;
          }),
        ]);
        if (typeof r === 'number') held = r;
      }
      failed.catch(() => undefined);
      // it must not hold 4 × 64 MB: it fails (memory) or is refused the buffers (the bootstrap's
      // ArrayBuffer makes no resizable one: resize throws TypeError)
      expect(held, `the sandbox holds ${held} MB with memoryMb 16`).toBeLessThanOrEqual(16);
      expect(
        error instanceof SandboxLimitError ||
          (error instanceof SandboxCodeError &&
            (error.thrown === 'RangeError' || error.thrown === 'TypeError')),
        String(error),
      ).toBe(true);
      await h.expectEchoAnswers();
    });

    it('a FinalizationRegistry callback does not run after the call, outside every limit', async () => {
      // the callback would spin about 2 s of CPU after the call, where no limit holds: the
      // bootstrap removes FinalizationRegistry (and WeakRef), so the code fails to arm it
      const domain = `finalizer-${mode}`;
      const armed = runUntrusted(
        `globalThis.fr = new FinalizationRegistry(function () {
           globalThis.ran = (globalThis.ran | 0) + 1;
           if (globalThis.ran > 1) return;
           var x = 0; for (var i = 0; i < 2e9; i++) x ^= i; globalThis.x = x;
         });
         for (var i = 0; i < 1e4; i++) fr.register({ a: new Array(100) }, i);
         var g = []; for (var j = 0; j < 3e5; j++) g.push({ j: j }); g = null;
         return 'armed';`,
        null,
        { ...GENEROUS, memoryMb: 32 },
        { domain },
      );
      await expect(armed).rejects.toMatchObject({ thrown: 'ReferenceError' });
      await h.expectEchoAnswers();
    });
  });

  describe('probes', () => {
    it('no SharedArrayBuffer, Atomics, WebAssembly, timers, performance, process or require', async () => {
      const sb = await h.sandbox({
        source: `function receive(s, msg, ctx) {
          var names = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'setTimeout', 'setInterval',
            'setImmediate', 'clearTimeout', 'clearInterval', 'performance', 'process', 'require',
            'Buffer', 'fetch', 'structuredClone', 'MessageChannel', 'Worker',
            'FinalizationRegistry', 'WeakRef'];
          var out = {};
          names.forEach(function (n) { out[n] = typeof globalThis[n]; });
          // no SharedArrayBuffer through a resizable buffer either
          out.growable = typeof new ArrayBuffer(1, { maxByteLength: 2 }).transfer;
          ctx.reply(out);
          return s;
        }`,
      });
      const r = (await sb.ask('probe', { timeout: 3_000 })) as Record<string, string>;
      const { growable, ...names } = r;
      expect(growable).toBe('function');
      for (const [n, t] of Object.entries(names)) expect(t, n).toBe('undefined');
    });

    it('without clock the time stands still during a call: Date.now, new Date, Date(), Intl format', async () => {
      const SPIN = `var x = 0; for (var i = 0; i < 3e7; i++) x ^= i;`;
      const source = `function receive(s, msg, ctx) {
        var f = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hour: 'numeric', minute: 'numeric', second: 'numeric', fractionalSecondDigits: 3 });
        var a = Date.now(), b = new Date().getTime(), c = Date(), d = f.format();
        var e = new Date().toISOString();
        ${SPIN}
        ctx.reply({ now: a, dNow: Date.now() - a, dNew: new Date().getTime() - b, sameString: Date() === c,
          sameFormat: f.format() === d, formatIsNow: d === f.format(a),
          sameIso: new Date().toISOString() === e, x: x });
        return s;
      }`;
      const frozen = await h.sandbox({ source, limits: GENEROUS });
      const t0 = Date.now();
      const r = (await frozen.ask('time', { timeout: 3_000 })) as Record<string, unknown>;
      expect(r).toMatchObject({
        dNow: 0,
        dNew: 0,
        sameString: true,
        sameFormat: true,
        formatIsNow: true,
        sameIso: true,
      });
      // it stands at the call's start, not at some fixed time
      expect(Math.abs((r.now as number) - t0)).toBeLessThan(2_000);
    });

    it('Intl.DateTimeFormat#formatToParts, with or without a date, works and reads the call-start time', async () => {
      const sb = await h.sandbox({
        source: `function receive(s, msg, ctx) {
          var f = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', second: 'numeric', fractionalSecondDigits: 3 });
          var out = {};
          try { out.withDate = f.formatToParts(0).map(function (p) { return p.value; }).join(''); } catch (e) { out.withDate = e.name + ': ' + e.message; }
          try {
            var a = JSON.stringify(f.formatToParts());
            var x = 0; for (var i = 0; i < 2e7; i++) x ^= i;
            out.frozen = JSON.stringify(f.formatToParts()) === a && a === JSON.stringify(f.formatToParts(Date.now()));
          } catch (e) { out.frozen = e.name + ': ' + e.message; }
          ctx.reply(out);
          return s;
        }`,
        limits: GENEROUS,
      });
      await expect(sb.ask('parts', { timeout: 3_000 })).resolves.toEqual({
        withDate: '0.000',
        frozen: true,
      });
    });

    it('with clock the time moves during a call', async () => {
      const sb = await h.sandbox({
        source: `function receive(s, msg, ctx) {
          var a = Date.now(), n = 0;
          while (Date.now() - a < 3 && n < 1e9) n++;
          ctx.reply(Date.now() - a);
          return s;
        }`,
        limits: GENEROUS,
        capabilities: { clock: true },
      });
      await expect(sb.ask('time', { timeout: 3_000 })).resolves.toBeGreaterThanOrEqual(3);
    });

    it('runUntrusted without clock: the time stands still across awaits too', async () => {
      const r = await runUntrusted<number[]>(
        `var a = Date.now(); var x = 0; for (var i = 0; i < 2e7; i++) x ^= i; await null;
         var f = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', fractionalSecondDigits: 3, second: 'numeric' });
         return [Date.now() - a, new Date().getTime() - a, f.format() === f.format(a) ? 0 : 1, x & 0];`,
        null,
        GENEROUS,
      );
      expect(r).toEqual([0, 0, 0, 0]);
    });
  });

  describe('positive cases', () => {
    it('a sandboxed counter answers asks', async () => {
      const sb = await h.sandbox({
        source: `function init(input) { return { n: input.start } }
          function receive(state, msg, ctx) {
            if (msg.type === 'inc') return { n: state.n + 1 };
            if (msg.type === 'get') ctx.reply(state.n);
            return state;
          }`,
        input: { start: 40 },
      });
      sb.tell({ type: 'inc' });
      sb.tell({ type: 'inc' });
      await expect(sb.ask({ type: 'get' }, { timeout: 3_000 })).resolves.toBe(42);
      await h.expectEchoAnswers();
    });

    it('a supervised sandbox tells another actor; its restart starts from a fresh state', async () => {
      const sb = await h.sandbox({
        source: `function init() { return 0 }
          function receive(n, msg, ctx) {
            if (msg === 'boom') throw new Error('asked to fail');
            ctx.tell(ctx.refs.sink, { n: n + 1, from: ctx.self });
            return n + 1;
          }`,
        capabilities: { tell: true, refs: { sink: h.sink.ref } },
      });
      sb.tell('inc');
      sb.tell('inc');
      await until(() => h.sink.got.length === 2, 'two tells');
      expect(h.sink.got).toEqual([
        { n: 1, from: sb },
        { n: 2, from: sb },
      ]);
      const failed = h.nextFailure();
      sb.tell('boom');
      const f = await failed;
      expect(f.event.error).toBeInstanceOf(SandboxCodeError);
      expect((f.event.error as SandboxCodeError).message).toContain('asked to fail');
      await until(
        () => h.events.some((e) => e.type === 'child-restarted' && e.child === SB),
        'restarted',
      );
      sb.tell('inc');
      await until(() => h.sink.got.length === 3, 'a tell after the restart');
      expect(h.sink.got[2]).toEqual({ n: 1, from: sb });
      await h.expectEchoAnswers();
    });

    it('runUntrusted returns structured data', async () => {
      await expect(
        runUntrusted(
          `var sum = input.xs.reduce(function (a, b) { return a + b; }, 0);
           await null;
           return { sum: sum, nested: [{ a: 1, b: [true, null, 'x'] }], none: undefined };`,
          { xs: [1, 2, 3, 4] },
          { ...GENEROUS, memoryMb: 32 },
        ),
      ).resolves.toEqual({ sum: 10, nested: [{ a: 1, b: [true, null, 'x'] }] });
    });

    it("a forged { $ref: 'troupe://local/user/other' } is refused (SandboxCapabilityError); other gets nothing", async () => {
      const got: unknown[] = [];
      const other = h.system.spawn(
        fromReceive<null, unknown>(null, (s, m) => {
          got.push(m);
          return s;
        }),
        { name: 'other' },
      );
      expect(other.address).toBe('troupe://local/user/other');
      const sb = await h.sandbox({
        source: `function receive(s, msg, ctx) { ctx.tell({ $ref: 'troupe://local/user/other' }, { forged: true }); return s }`,
        capabilities: { tell: true, refs: { sink: h.sink.ref } },
      });
      const failed = h.nextFailure();
      sb.tell('go');
      const f = await failed;
      const e = f.event.error as SandboxCapabilityError;
      expect(e, String(e)).toBeInstanceOf(SandboxCapabilityError);
      expect(e.path).toBe(SB);
      expect(e.message).toContain('troupe://local/user/other');
      await h.expectEchoAnswers();
      expect(got).toEqual([]);
    });
  });
});
