/**
 * The code every sandbox context runs first, before any untrusted code: it takes away what
 * untrusted code must not have and leaves one function, the driver, which only the host holds
 * (as a Reference; nothing inside can reach it: it lives in this closure and nowhere else).
 *
 * Why there is no host callback at all: what the code asks for (tell, reply, emit, log) is
 * recorded inside as JSON text and handed out as the driver's result, one string per call.
 * No `Callback`, `Reference` or `ExternalCopy` is ever placed in the context, so none can
 * leak, and no getter, Proxy or thenable of the code can run host-side: the host only ever
 * receives a primitive string, which it parses and validates before acting on it.
 *
 * Taken away: `SharedArrayBuffer`, `Atomics`, `WebAssembly` (V8 gives a fresh context all
 * three). Timers and `performance` are not there to begin with. The clock stands still during
 * a call: `Date.now()`, `new Date()`, `Date()` and `Intl.DateTimeFormat#format()` without a
 * date read the time the call began, unless the sandbox was granted `clock` (then the real
 * clock, to the millisecond).
 *
 * The driver's first argument is the operation:
 *   'n' nothing (the pool calls it once while preparing, so the first real call is warm)
 *   'c' configure (once): copy limit, clock granted, capabilities granted (a string of letters)
 *   'i' init:    { input, refs } or { restore: true, snapshot, refs } as JSON, self ref JSON
 *                (calls the code's `init(input, ctx)`, or `restore(snapshot, ctx)`) → effects
 *   'r' receive: message JSON, sender JSON or ''    → effects
 *   'v' view / 'p' persist: the state as JSON (through `view(state)` when the code has one)
 *   'u' untrusted call: the function to run (the host's compiled script), input JSON
 *   'w' what became of the last 'u': its later effects, '\0', then '=' + JSON result, a
 *       fault, or '?' (pending)
 * and its result is a string: '' or '[' effect, … ']' where each effect is
 * ["t", address, msg] | ["r", value] | ["e", event] | ["l", text]; or a fault the code could
 * not catch: '!copy <n>' (a copy over the limit, n its size) or '!code <name>\n<message>'.
 *
 * Written as plain JavaScript in a string: it runs in the isolate, not here.
 */
export const BOOTSTRAP = String.raw`(function () {
  'use strict';
  const g = globalThis;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const RealDate = Date;
  const construct = Reflect.construct;
  const getDescriptor = Object.getOwnPropertyDescriptor;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;
  const StringOf = String;
  const TypeErr = TypeError;
  const apply = Reflect.apply;
  const charCodeAt = String.prototype.charCodeAt;
  const slice = String.prototype.slice;
  const RangeErr = RangeError;

  delete g.SharedArrayBuffer;
  delete g.Atomics;
  delete g.WebAssembly;
  // their callbacks run after a call, outside every limit (on isolated-vm's threads)
  delete g.FinalizationRegistry;
  delete g.WeakRef;

  // resizable ArrayBuffers reserve memory the isolate's memory limit does not count: the
  // constructor takes a length only
  const RealArrayBuffer = ArrayBuffer;
  function SafeArrayBuffer(length) {
    if (new.target === undefined) throw new TypeErr("Constructor ArrayBuffer requires 'new'");
    return construct(RealArrayBuffer, [length], new.target);
  }
  SafeArrayBuffer.isView = RealArrayBuffer.isView;
  SafeArrayBuffer.prototype = RealArrayBuffer.prototype;
  defineProperty(RealArrayBuffer.prototype, 'constructor', { value: SafeArrayBuffer, writable: true, configurable: true });
  defineProperty(g, 'ArrayBuffer', { value: SafeArrayBuffer, writable: true, configurable: true });

  // ---- the clock ----
  let now = 0;
  let realClock = false;
  const realNow = RealDate.now;
  const at = () => (realClock ? realNow() : now);
  function SafeDate(...args) {
    if (new.target === undefined) return new RealDate(at()).toString();
    return args.length === 0 ? construct(RealDate, [at()], new.target) : construct(RealDate, args, new.target);
  }
  SafeDate.now = function now() { return at(); };
  SafeDate.parse = RealDate.parse;
  SafeDate.UTC = RealDate.UTC;
  SafeDate.prototype = RealDate.prototype;
  defineProperty(RealDate.prototype, 'constructor', { value: SafeDate, writable: true, configurable: true });
  defineProperty(g, 'Date', { value: SafeDate, writable: true, configurable: true });
  if (typeof Intl === 'object' && Intl !== null) {
    const proto = Intl.DateTimeFormat.prototype;
    const formatGetter = getDescriptor(proto, 'format').get;
    const realFormatToParts = proto.formatToParts;
    defineProperty(proto, 'format', {
      configurable: true,
      get() {
        const f = apply(formatGetter, this, []);
        return (d) => f(d === undefined ? at() : d);
      },
    });
    defineProperty(proto, 'formatToParts', {
      configurable: true,
      writable: true,
      value: function formatToParts(d) {
        return apply(realFormatToParts, this, [d === undefined ? at() : d]);
      },
    });
  }

  // ---- what the code asks for, recorded as text ----
  let copyLimit = 0;
  let granted = '';
  let configured = false;
  let out = '';
  let fault = '';
  /** ctx may be used: during init and receive, and for runUntrusted until its end. */
  let live = false;

  function json(v, what) {
    // JSON.stringify cannot be interrupted by the CPU limit: a string over the limit is
    // refused before it is stringified
    if (typeof v === 'string' && v.length > copyLimit) {
      if (fault === '') fault = '!copy ' + v.length;
      throw new RangeErr(what + ' is over the copy limit');
    }
    let s;
    try {
      s = stringify(v);
    } catch (e) {
      throw new TypeErr(what + ' is not JSON data');
    }
    if (typeof s !== 'string') throw new TypeErr(what + ' is not JSON data (' + typeof v + ')');
    const bytes = utf8(s);
    if (bytes > copyLimit) {
      if (fault === '') fault = '!copy ' + bytes;
      throw new RangeErr(what + ' is over the copy limit');
    }
    return s;
  }
  /** The UTF-8 size of a string, counted only when it could be over the limit. */
  function utf8(s) {
    const n = s.length;
    if (n * 3 <= copyLimit || n > copyLimit) return n;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const c = apply(charCodeAt, s, [i]);
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? 4 : 3;
      if (c >= 0xd800 && c < 0xdc00) i++;
    }
    return bytes;
  }
  function put(piece) {
    if (fault !== '') throw new RangeErr('this sandbox has already failed');
    if (!live)
      // a promise callback after receive returned: its effects would be taken for the next
      // message's (a reply to the wrong asker). Refused; the error fails the call that left
      // the callback (isolated-vm throws what a microtask of the call throws)
      throw new TypeErr('ctx is usable only while receive (or init) runs: it was used after receive returned (in a promise callback?)');
    out = out === '' ? piece : out + ',' + piece;
    if (out.length > copyLimit * 4) {
      fault = '!copy ' + out.length;
      throw new RangeErr('what this call copies out is over the copy limit');
    }
  }
  function addressOf(ref) {
    const a = ref !== null && typeof ref === 'object' ? ref.$ref : undefined;
    if (typeof a !== 'string') throw new TypeErr('not a ref: refs are the { $ref } objects this sandbox was given');
    return a;
  }

  const ctx = {
    self: undefined,
    sender: undefined,
    refs: undefined,
    reply(value) {
      put('["r",' + json(value === undefined ? null : value, 'a reply') + ']');
    },
  };
  function grant() {
    if (granted.indexOf('t') >= 0)
      ctx.tell = function tell(ref, msg) {
        const a = addressOf(ref);
        put('["t",' + stringify(a) + ',' + json(msg, 'a message') + ']');
      };
    if (granted.indexOf('e') >= 0)
      ctx.emit = function emit(event) {
        put('["e",' + json(event, 'an event') + ']');
      };
    if (granted.indexOf('l') >= 0)
      ctx.log = function log(...values) {
        let text = '';
        for (let i = 0; i < values.length; i++) {
          const v = values[i];
          const s = typeof v === 'string' ? v : json(v === undefined ? null : v, 'a logged value');
          text = i === 0 ? s : text + ' ' + s;
          if (text.length > copyLimit) {
            if (fault === '') fault = '!copy ' + text.length;
            throw new RangeErr('a log line is over the copy limit');
          }
        }
        put('["l",' + stringify(text) + ']');
      };
  }

  let state;
  let receive;
  let view;
  let restore;
  let task = null;
  let taskResult = '?';

  function take() {
    if (fault !== '') {
      const f = fault;
      out = '';
      return f;
    }
    const o = out;
    out = '';
    return o === '' ? '' : '[' + o + ']';
  }
  function codeFault(e) {
    if (fault !== '') return take();
    out = '';
    let name;
    let message;
    try {
      name = e instanceof Error ? StringOf(e.name) : typeof e;
      message = e instanceof Error ? StringOf(e.message) : stringify(e);
    } catch (_) {
      name = typeof e;
      message = '(it could not be read)';
    }
    if (typeof name !== 'string') name = 'Error';
    if (typeof message !== 'string') message = '(not text)';
    if (name.length > 256) name = apply(slice, name, [0, 256]) + '…';
    if (message.length > 4096) message = apply(slice, message, [0, 4096]) + '…';
    return '!code ' + name + '\n' + message;
  }

  function settled(next) {
    if (next !== null && (typeof next === 'object' || typeof next === 'function') && typeof next.then === 'function')
      throw new TypeErr('receive (and init) must return the next state, not a promise: they run synchronously');
    return next;
  }

  return function driver(op, a, b, t) {
    now = t;
    live = op === 'i' || op === 'r' || op === 'u' || (op === 'w' && live);
    try {
      switch (op) {
        case 'n':
          return '';
        case 'c':
          if (configured) return '';
          configured = true;
          copyLimit = a;
          realClock = b.indexOf('c') >= 0;
          granted = b;
          grant();
          return '';
        case 'i': {
          receive = g.receive;
          view = g.view;
          restore = g.restore;
          if (typeof receive !== 'function') return '!source the code defines no receive(state, msg, ctx) function';
          ctx.self = parse(b);
          const p = parse(a);
          ctx.refs = p.refs;
          ctx.sender = undefined;
          if (p.restore === true) state = settled(typeof restore === 'function' ? restore(p.snapshot, ctx) : p.snapshot);
          else {
            const init = g.init;
            state = settled(typeof init === 'function' ? init(p.input, ctx) : p.input);
          }
          return take();
        }
        case 'r':
          ctx.sender = b === '' ? undefined : parse(b);
          state = settled(receive(state, parse(a), ctx));
          return take();
        case 'v':
        case 'p':
          return json(typeof view === 'function' && op === 'v' ? view(state) : state, 'the state');
        case 'u': {
          taskResult = '?';
          task = a(parse(b), ctx.log);
          if (task !== null && typeof task === 'object' && typeof task.then === 'function') {
            task.then(
              (v) => {
                try {
                  taskResult = '=' + json(v === undefined ? null : v, 'the result');
                } catch (e) {
                  taskResult = codeFault(e);
                }
              },
              (e) => {
                taskResult = codeFault(e);
              },
            );
          } else taskResult = '=' + json(task === undefined ? null : task, 'the result');
          return take();
        }
        case 'w': {
          const effects = take();
          if (effects.charCodeAt(0) === 33) return effects;
          return effects + '\u0000' + taskResult;
        }
      }
      return '!code Error\nunknown operation';
    } catch (e) {
      return codeFault(e);
    } finally {
      // receive's call ends here; runUntrusted's at 'w'
      if (op !== 'u') live = false;
    }
  };
})()`;
