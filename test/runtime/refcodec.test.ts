import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../../index.ts';
import {
  MAX_ENCODE_DEPTH,
  SerializationError,
  decodeValue,
  encodeValue,
} from '../../runtime/core/refcodec.ts';
import { InvalidOptionError } from '../../runtime/core/error.ts';
import type { Address } from '../../protocol/address.ts';
import type { LocalRef } from '../../runtime/core/ref.ts';

let system: ActorSystem;
let a: ActorRef<unknown>;
let b: ActorRef<unknown>;

beforeAll(() => {
  system = createSystem();
  a = system.spawn(
    fromReceive(0, (s) => s),
    { name: 'a' },
  );
  b = system.spawn(fromReceive(0, (s) => s));
});

afterAll(async () => {
  await system.shutdown();
});

const refOf = (address: Address, uid?: number): ActorRef<unknown> => system.refOf(address, uid);
const noRefs = (address: Address): ActorRef<unknown> => {
  throw new Error(`no ref expected, got ${address}`);
};

/** The SerializationError `encodeValue(v)` throws (fails the test when it does not throw). */
function refusal(v: unknown): SerializationError {
  try {
    encodeValue(v);
  } catch (e) {
    expect(e).toBeInstanceOf(SerializationError);
    return e as SerializationError;
  }
  throw new Error('encodeValue did not throw');
}

/** `depth` nested objects `{ a: { a: … { a: leaf } } }`: the innermost object is at depth-1. */
function nested(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe('encodeValue / decodeValue', () => {
  it('encodes a ref as { $ref: address } and revives it through refOf', () => {
    const encoded = encodeValue({ who: a, list: [b] });
    expect(encoded).toEqual({
      who: { $ref: a.address, $uid: (a as LocalRef).uid },
      list: [{ $ref: b.address, $uid: (b as LocalRef).uid }],
    });
    expect(a.address).toBe('troupe://local/user/a');
    const decoded = decodeValue(encoded, refOf) as {
      who: ActorRef<unknown>;
      list: ActorRef<unknown>[];
    };
    expect(decoded.who.address).toBe(a.address);
    expect(decoded.list[0]!.address).toBe(b.address);
    expect(decoded.who).toBe(a); // a live local actor revives as its own ref
  });

  it('hands each { $ref } address to refOf exactly once', () => {
    const seen: string[] = [];
    const out = decodeValue(
      [{ $ref: 'troupe://n/user/x' }, { x: { $ref: 'troupe://n/user/y' } }],
      (addr) => {
        seen.push(addr);
        return a;
      },
    );
    expect(seen).toEqual(['troupe://n/user/x', 'troupe://n/user/y']);
    expect(out).toEqual([a, { x: a }]);
  });

  it('round-trips a Date', () => {
    const when = new Date('2026-11-24T08:00:00.000Z');
    const encoded = encodeValue({ when });
    expect(encoded).toEqual({ when: { $date: '2026-11-24T08:00:00.000Z' } });
    const decoded = decodeValue(encoded, noRefs) as { when: Date };
    expect(decoded.when).toBeInstanceOf(Date);
    expect(decoded.when.getTime()).toBe(when.getTime());
  });

  it('refuses an invalid Date with ERR_NOT_SERIALIZABLE naming where it sits', () => {
    const e = refusal({ when: new Date(Number.NaN) });
    expect(e.code).toBe('ERR_NOT_SERIALIZABLE');
    expect(e.at).toBe('$.when');
  });

  it('refuses to decode a { $date } that is not a date (the encoder never writes one)', () => {
    expect(() =>
      decodeValue({ at: { $date: 'garbage' } }, () => {
        throw new Error('no refs here');
      }),
    ).toThrow(SerializationError);
  });

  it('round-trips an Error as its name, message and string code', () => {
    const err = new InvalidOptionError('options.x', 1, 'a string');
    const encoded = encodeValue({ err });
    expect(encoded).toEqual({
      err: {
        $error: {
          name: 'InvalidOptionError',
          message: err.message,
          code: 'ERR_INVALID_OPTION',
          data: { field: 'options.x', value: 1 },
        },
      },
    });
    const decoded = decodeValue(encoded, noRefs) as { err: Error & { code?: string } };
    expect(decoded.err).toBeInstanceOf(Error);
    expect(decoded.err.name).toBe('InvalidOptionError');
    expect(decoded.err.message).toBe(err.message);
    expect(decoded.err.code).toBe('ERR_INVALID_OPTION');
  });

  it("keeps an error's own scalar fields (data), and leaves out the rest", () => {
    class OverdrawnError extends Error {
      readonly code = 'ERR_OVERDRAWN';
      readonly cap = 'tokens';
      readonly limit = 4_000;
      readonly spent = 3_950.5;
      override readonly name = 'OverdrawnError';
    }
    const err = Object.assign(new OverdrawnError('over'), {
      nested: { no: 1 },
      infinite: Infinity,
      stack: 'kept out',
    });
    const encoded = encodeValue(err) as { $error: { data: Record<string, unknown> } };
    expect(encoded.$error.data).toEqual({ cap: 'tokens', limit: 4_000, spent: 3_950.5 });
    const back = decodeValue(encoded, noRefs) as Error & Record<string, unknown>;
    expect(back).toMatchObject({
      name: 'OverdrawnError',
      code: 'ERR_OVERDRAWN',
      cap: 'tokens',
      limit: 4_000,
      spent: 3_950.5,
    });
    expect(back.message).toBe(err.message);
    // data never overrides what the codec writes itself, and takes scalars only
    const forged = decodeValue(
      {
        $error: {
          name: 'E',
          message: 'm',
          data: { message: 'x', stack: 's', deep: { a: 1 }, ok: 2 },
        },
      },
      noRefs,
    ) as Error & Record<string, unknown>;
    expect(forged.message).toBe('m');
    expect(forged.stack).not.toBe('s');
    expect(forged.deep).toBeUndefined();
    expect(forged.ok).toBe(2);
  });

  it('round-trips a plain Error without a code, and leaves out a code that is not a string', () => {
    const plain = new TypeError('bad');
    expect(encodeValue(plain)).toEqual({ $error: { name: 'TypeError', message: 'bad' } });
    const odd = Object.assign(new Error('odd'), { code: 42 });
    expect(encodeValue(odd)).toEqual({ $error: { name: 'Error', message: 'odd' } });
    const decoded = decodeValue(encodeValue(plain), noRefs) as Error & { code?: unknown };
    expect(decoded.name).toBe('TypeError');
    expect(decoded.message).toBe('bad');
    expect(decoded.code).toBeUndefined();
  });

  it('passes strings, finite numbers, booleans and null unchanged', () => {
    const v = { s: 'x', n: -1.5, z: 0, t: true, f: false, nil: null, arr: [1, 'two', null] };
    expect(encodeValue(v)).toEqual(v);
    expect(decodeValue(encodeValue(v), noRefs)).toEqual(v);
    expect(encodeValue(Number.MAX_VALUE)).toBe(Number.MAX_VALUE);
  });

  it('leaves out undefined properties, and writes undefined array elements as null', () => {
    const encoded = encodeValue({ gone: undefined, kept: 1, arr: [undefined, 2] }) as Record<
      string,
      unknown
    >;
    expect(encoded).toEqual({ kept: 1, arr: [null, 2] });
    expect(Object.keys(encoded)).toEqual(['kept', 'arr']);
    expect(encodeValue(undefined)).toBeUndefined();
  });

  it('accepts an object with a null prototype as a plain object', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.x = 1;
    expect(encodeValue(o)).toEqual({ x: 1 });
  });

  it('accepts the same object reached twice without a cycle', () => {
    const shared = { n: 1 };
    expect(encodeValue({ x: shared, y: [shared, shared] })).toEqual({
      x: { n: 1 },
      y: [{ n: 1 }, { n: 1 }],
    });
  });

  it.each([
    ['a function', () => 0],
    ['a symbol', Symbol('s')],
    ['a bigint', 10n],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a Map', new Map([[1, 2]])],
    ['a Set', new Set([1])],
    [
      'a class instance',
      new (class Point {
        x = 1;
      })(),
    ],
    ['a boxed string', new String('s')],
    ['a typed array', new Uint8Array(2)],
    ['a RegExp', /x/],
    ['a Promise', Promise.resolve(1)],
  ])('refuses %s with ERR_NOT_SERIALIZABLE at the path where it sits', (_label, bad) => {
    const e = refusal({ a: { b: [1, 2, bad] } });
    expect(e.code).toBe('ERR_NOT_SERIALIZABLE');
    expect(e.at).toBe('$.a.b[2]');
    expect(e.value).toBe(bad);
  });

  it('names the root as "$" when the value itself is refused', () => {
    expect(refusal(() => 0).at).toBe('$');
    expect(refusal(new Map()).at).toBe('$');
  });

  it('refuses a cycle at the property that closes it', () => {
    const root: Record<string, unknown> = { x: { y: {} } };
    ((root.x as Record<string, unknown>).y as Record<string, unknown>).back = root;
    const e = refusal(root);
    expect(e.code).toBe('ERR_NOT_SERIALIZABLE');
    expect(e.at).toBe('$.x.y.back');
  });

  it('refuses an array that contains itself', () => {
    const arr: unknown[] = [1];
    arr.push(arr);
    expect(refusal({ arr }).at).toBe('$.arr[1]');
  });

  it('accepts nesting of exactly MAX_ENCODE_DEPTH objects', () => {
    expect(MAX_ENCODE_DEPTH).toBe(64);
    const v = nested(MAX_ENCODE_DEPTH, 1);
    expect(encodeValue(v)).toEqual(v);
    expect(decodeValue(encodeValue(v), noRefs)).toEqual(v);
  });

  it('refuses nesting one object deeper than MAX_ENCODE_DEPTH, naming the innermost path', () => {
    const e = refusal(nested(MAX_ENCODE_DEPTH + 1, 1));
    expect(e.code).toBe('ERR_NOT_SERIALIZABLE');
    expect(e.at).toBe('$' + '.a'.repeat(MAX_ENCODE_DEPTH));
  });

  it('refuses arrays nested deeper than MAX_ENCODE_DEPTH too', () => {
    let v: unknown = [];
    for (let i = 0; i < MAX_ENCODE_DEPTH; i++) v = [v];
    const e = refusal(v);
    expect(e.at).toBe('$' + '[0]'.repeat(MAX_ENCODE_DEPTH));
  });

  it.each([
    ['a Date', () => new Date(0)],
    ['an Error', () => new Error('deep')],
    ['a ref', () => a],
  ])('decodes what it encoded with %s at the depth limit', (_label, leaf) => {
    // encode accepts a tagged value one level below the deepest object; decode must too
    const encoded = encodeValue(nested(MAX_ENCODE_DEPTH, leaf()));
    expect(() => decodeValue(encoded, refOf)).not.toThrow();
  });

  it('refuses to decode data nested deeper than MAX_ENCODE_DEPTH', () => {
    let v: unknown = {};
    for (let i = 0; i < MAX_ENCODE_DEPTH; i++) v = { a: v };
    try {
      decodeValue(v, noRefs);
      expect.unreachable();
    } catch (e) {
      expect((e as { code?: unknown }).code).toBe('ERR_NOT_SERIALIZABLE');
    }
  });

  it('drops __proto__ keys on decode and pollutes no prototype', () => {
    const data: unknown = JSON.parse(
      '{"__proto__": {"polluted": true}, "ok": 1, "inner": {"__proto__": {"x": 1}}}',
    );
    const out = decodeValue(data, noRefs) as Record<string, unknown>;
    expect(out).toEqual({ ok: 1, inner: {} });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(out.inner)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(false);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('refuses a __proto__ key on encode (decoding would drop it) with ERR_NOT_SERIALIZABLE', () => {
    const data: unknown = JSON.parse('{"ok": 1, "inner": {"__proto__": {"x": 1}}}');
    expect(() => encodeValue(data)).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_SERIALIZABLE', at: '$.inner.__proto__' }),
    );
  });

  it('decodes objects with several keys, one of them a tag name, as plain objects', () => {
    const v = { $date: '2026-01-01T00:00:00.000Z', other: 1 };
    expect(decodeValue(v, noRefs)).toEqual(v);
  });

  it('round-trips any JSON-like value unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        fc.pre(!JSON.stringify(v).includes('"__proto__"'));
        // unchanged through the codec (objects that look like a tag are escaped on the way)
        expect(decodeValue(encodeValue(v), noRefs)).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips JSON-like values holding dates, errors and refs', () => {
    const leaf = fc.oneof(
      // the codec refuses `__proto__` keys (a test above): they are no round-trip
      fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('"__proto__"')),
      fc.constant(a),
      fc.constant(b),
      fc.integer({ min: 0, max: 4e12 }).map((t) => new Date(t)),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((k) => !k.startsWith('$') && k !== '__proto__'),
          tie('node'),
          {
            maxKeys: 4,
          },
        ),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(decodeValue(encodeValue(v), refOf)).toEqual(v);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps user objects that look like a tag as data', async () => {
    const system = createSystem();
    for (const v of [
      { $ref: 'troupe://local/user/x' },
      { $date: '2020-01-01T00:00:00.000Z' },
      { $error: { message: 'm' } },
      { $esc: { a: 1 } },
    ]) {
      const encoded = JSON.parse(JSON.stringify(encodeValue({ v })));
      expect(decodeValue(encoded, system.refOf)).toEqual({ v });
    }
    await system.shutdown();
  });
});
