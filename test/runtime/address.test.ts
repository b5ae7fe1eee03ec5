import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ADDRESS_SCHEME,
  ENTITY_SCHEME,
  MAX_ENTITY_ID_LENGTH_CHARS,
  MAX_NAME_LENGTH_CHARS,
  AmbiguousAddressError,
  canonicalAddress,
  childPath,
  entityAddress,
  formatAddress,
  parseAddress,
  validateName,
  validateNodeId,
  type ActorPath,
  type NodeId,
} from '../../protocol/address.ts';

function codeOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return (e as { code?: unknown }).code;
  }
  return 'no error';
}

const SEGMENT_CHARS = 'abcXYZ019-_.~';
const segment = fc
  .array(fc.constantFrom(...SEGMENT_CHARS.split('')), { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(''));
const nodeId = fc
  .array(fc.constantFrom(...'abcXYZ019-_.:'.split('')), { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(''));

describe('addresses', () => {
  it('formats a spawned actor as troupe://<node><path>', () => {
    expect(formatAddress('local' as NodeId, '/user/swarm/worker-3' as ActorPath)).toBe(
      'troupe://local/user/swarm/worker-3',
    );
    expect(ADDRESS_SCHEME).toBe('troupe://');
    expect(ENTITY_SCHEME).toBe('troupe:entity/');
  });

  it('parses a spawned actor address into its node and path', () => {
    expect(parseAddress('troupe://local/user/swarm/worker-3')).toEqual({
      type: 'actor',
      node: 'local',
      path: '/user/swarm/worker-3',
    });
  });

  it('accepts node ids with ":" and system-made "$" segments', () => {
    expect(parseAddress('troupe://host-1.example:4000/temp/$ask-12')).toEqual({
      type: 'actor',
      node: 'host-1.example:4000',
      path: '/temp/$ask-12',
    });
  });

  it('parses back what it formats, for any valid node and path', () => {
    fc.assert(
      fc.property(nodeId, fc.array(segment, { minLength: 1, maxLength: 6 }), (node, segs) => {
        const path = ('/' + segs.join('/')) as ActorPath;
        const address = formatAddress(node as NodeId, path);
        expect(parseAddress(address)).toEqual({ type: 'actor', node, path });
      }),
    );
  });

  it('builds child paths under a parent and under the root', () => {
    expect(childPath('/user' as ActorPath, 'a')).toBe('/user/a');
    expect(childPath('/user/a' as ActorPath, 'b')).toBe('/user/a/b');
    expect(childPath('/' as ActorPath, 'user')).toBe('/user');
  });

  it('URI-encodes the kind and id of an entity address', () => {
    expect(entityAddress('chat room', 'a/b?c#d')).toBe('troupe:entity/chat%20room/a%2Fb%3Fc%23d');
  });

  it('parses an entity address back into its decoded kind and id', () => {
    expect(parseAddress(entityAddress('chat room', 'a/b?c#d'))).toEqual({
      type: 'entity',
      kind: 'chat room',
      id: 'a/b?c#d',
    });
  });

  it('round-trips any non-empty kind and id through an entity address', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, unit: 'grapheme' }),
        fc.string({ minLength: 1, unit: 'grapheme' }),
        (kind, id) => {
          expect(parseAddress(entityAddress(kind, id))).toEqual({ type: 'entity', kind, id });
        },
      ),
    );
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { address: 'troupe://local/user/a' }],
    ['the empty string', ''],
    ['another scheme', 'http://local/user/a'],
    ['a scheme alone', 'troupe://'],
    ['a node with no path', 'troupe://local'],
    ['a path with no node', 'troupe:///user/a'],
    ['a bad node id', 'troupe://lo cal/user/a'],
    ['a node id with "@"', 'troupe://me@local/user/a'],
    ['a trailing slash', 'troupe://local/user/'],
    ['a bare slash as path', 'troupe://local/'],
    ['an empty segment', 'troupe://local/user//a'],
    ['a space in a segment', 'troupe://local/user/a b'],
    ['a non-ASCII segment', 'troupe://local/user/é'],
    ['a query in a segment', 'troupe://local/user/a?x=1'],
    ['an entity with no id', 'troupe:entity/kind'],
    ['an entity with an empty kind', 'troupe:entity//id'],
    ['an entity with an empty id', 'troupe:entity/kind/'],
    ['an entity with three parts', 'troupe:entity/kind/id/extra'],
    ['an entity scheme alone', 'troupe:entity/'],
  ])('refuses %s with ERR_INVALID_ADDRESS', (_label, address) => {
    expect(codeOf(() => parseAddress(address))).toBe('ERR_INVALID_ADDRESS');
  });

  it('refuses an entity address with broken percent-encoding with ERR_INVALID_ADDRESS', () => {
    expect(codeOf(() => parseAddress('troupe:entity/%E0%A4%A/id'))).toBe('ERR_INVALID_ADDRESS');
    expect(codeOf(() => parseAddress('troupe:entity/kind/%'))).toBe('ERR_INVALID_ADDRESS');
  });

  it('keeps the refused value on the error', () => {
    try {
      parseAddress('troupe://local/user//a');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({
        code: 'ERR_INVALID_ADDRESS',
        name: 'InvalidAddressError',
        address: 'troupe://local/user//a',
      });
    }
  });

  it('validates node ids: letters, digits, "-", "_", "." and ":" only', () => {
    expect(validateNodeId('node-1.example:4000')).toBe('node-1.example:4000');
    expect(codeOf(() => validateNodeId(''))).toBe('ERR_INVALID_ADDRESS');
    expect(codeOf(() => validateNodeId('a/b'))).toBe('ERR_INVALID_ADDRESS');
    expect(codeOf(() => validateNodeId(7))).toBe('ERR_INVALID_ADDRESS');
  });
});

describe('validateName', () => {
  it('accepts names of letters, digits, "-", "_", "." and "~"', () => {
    for (const name of ['worker-3', 'a', 'A_b.c~d', '0']) expect(validateName(name)).toBe(name);
  });

  it('refuses the empty string', () => {
    expect(codeOf(() => validateName(''))).toBe('ERR_INVALID_ACTOR_NAME');
  });

  it('refuses a value that is not a string', () => {
    for (const v of [undefined, null, 3, {}, ['a']])
      expect(codeOf(() => validateName(v))).toBe('ERR_INVALID_ACTOR_NAME');
  });

  it('accepts a name of 1 and of exactly MAX_NAME_LENGTH_CHARS characters', () => {
    expect(MAX_NAME_LENGTH_CHARS).toBe(128);
    expect(validateName('x')).toBe('x');
    const longest = 'x'.repeat(MAX_NAME_LENGTH_CHARS);
    expect(validateName(longest)).toBe(longest);
  });

  it('refuses a name one character longer than MAX_NAME_LENGTH_CHARS', () => {
    expect(codeOf(() => validateName('x'.repeat(MAX_NAME_LENGTH_CHARS + 1)))).toBe(
      'ERR_INVALID_ACTOR_NAME',
    );
  });

  it('refuses names starting with "$", which are reserved for generated names', () => {
    expect(codeOf(() => validateName('$1'))).toBe('ERR_INVALID_ACTOR_NAME');
    expect(codeOf(() => validateName('$'))).toBe('ERR_INVALID_ACTOR_NAME');
  });

  it.each(['a b', 'a/b', 'a?b', 'é', 'a:b', 'a@b', 'tab\t', 'new\nline', '%20'])(
    'refuses the name %j for its characters',
    (name) => {
      expect(codeOf(() => validateName(name))).toBe('ERR_INVALID_ACTOR_NAME');
    },
  );

  it('keeps the refused name on the error', () => {
    try {
      validateName('a b');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({
        code: 'ERR_INVALID_ACTOR_NAME',
        name: 'InvalidActorNameError',
        actorName: 'a b',
      });
    }
  });

  it('accepts every name it validates as a segment of a parseable address', () => {
    fc.assert(
      fc.property(segment, (name) => {
        const path = childPath('/user' as ActorPath, validateName(name));
        expect(parseAddress(formatAddress('local' as NodeId, path))).toMatchObject({ path });
      }),
    );
  });
});

/** A fast-check seed: ADDRESS_SEED replays a run; a failure's report names the seed. */
const SEED =
  process.env.ADDRESS_SEED !== undefined ? Number(process.env.ADDRESS_SEED) : Date.now() >>> 0;

/** Every way to write `id` in an entity address: each UTF-8 byte raw (where it may be) or escaped. */
function spelling(id: string, choices: readonly number[]): string {
  let out = '';
  let i = 0;
  for (const ch of id) {
    const pick = choices[i++ % choices.length]!;
    const bytes = [...new TextEncoder().encode(ch)];
    const hex = (b: number) => '%' + b.toString(16).padStart(2, '0');
    // "/" and "%" are never raw: they would change what the address says
    if (pick === 0 && ch !== '/' && ch !== '%') out += ch;
    else if (pick === 1) out += bytes.map((b) => hex(b).toUpperCase()).join('');
    else out += bytes.map((b) => hex(b)).join('');
  }
  return out;
}

describe('canonicalAddress: one spelling per address', () => {
  it('decodes an entity id and escapes it again as entityAddress does', () => {
    expect(canonicalAddress('troupe:entity/vault/%73ecret')).toBe('troupe:entity/vault/secret');
    expect(canonicalAddress('troupe:entity/%76ault/secret')).toBe('troupe:entity/vault/secret');
    expect(canonicalAddress('troupe:entity/room/a%2fb c')).toBe('troupe:entity/room/a%2Fb%20c');
    expect(canonicalAddress('troupe:entity/room/caf%c3%a9')).toBe('troupe:entity/room/caf%C3%A9');
    expect(canonicalAddress('troupe:entity/room/café')).toBe('troupe:entity/room/caf%C3%A9');
    // "%25" is a percent sign in the id: decoded once, never twice
    expect(canonicalAddress('troupe:entity/account/%2562ob')).toBe('troupe:entity/account/%2562ob');
  });

  it('leaves an actor address as it is (its grammar has no escapes)', () => {
    expect(canonicalAddress('troupe://local/user/a')).toBe('troupe://local/user/a');
    expect(codeOf(() => canonicalAddress('troupe://local/user/%61'))).toBe('ERR_INVALID_ADDRESS');
  });

  it.each([
    ['a lone "%"', 'troupe:entity/vault/%'],
    ['a "%" without two hex digits', 'troupe:entity/vault/%7'],
    ['a "%" with non-hex digits', 'troupe:entity/vault/%zz'],
    ['a truncated UTF-8 sequence', 'troupe:entity/vault/%C3'],
    ['an overlong UTF-8 form of "/"', 'troupe:entity/vault/%C0%AF'],
    ['an encoded surrogate', 'troupe:entity/vault/%ED%A0%80'],
    ['a "." segment', 'troupe://local/user/./a'],
    ['a ".." segment', 'troupe://local/user/../system/x'],
    ['the entity id ".."', 'troupe:entity/room/..'],
    ['the entity id "." escaped', 'troupe:entity/room/%2E'],
    ['the entity id ".." half escaped', 'troupe:entity/room/.%2e'],
  ])('refuses %s with ERR_AMBIGUOUS_ADDRESS', (_label, address) => {
    expect(codeOf(() => canonicalAddress(address))).toBe('ERR_AMBIGUOUS_ADDRESS');
  });

  it.each([
    ['an upper-case scheme', 'TROUPE://local/user/a'],
    ['a capitalised entity scheme', 'Troupe:entity/vault/x'],
    ['a kind outside the kind grammar', 'troupe:entity/chat%20room/x'],
    ['a kind of 65 characters', `troupe:entity/${'k'.repeat(65)}/x`],
    ['an id over the longest', `troupe:entity/k/${'x'.repeat(MAX_ENTITY_ID_LENGTH_CHARS + 1)}`],
    ['an entity with three parts', 'troupe:entity/k/a/b'],
    ['a lone surrogate in an id', 'troupe:entity/k/\uD800'],
  ])('refuses %s with ERR_INVALID_ADDRESS', (_label, address) => {
    expect(codeOf(() => canonicalAddress(address))).toBe('ERR_INVALID_ADDRESS');
  });

  it('accepts an id of exactly MAX_ENTITY_ID_LENGTH_CHARS characters', () => {
    const id = 'x'.repeat(MAX_ENTITY_ID_LENGTH_CHARS);
    expect(canonicalAddress(`troupe:entity/k/${id}`)).toBe(entityAddress('k', id));
  });

  it('maps every spelling of an id to entityAddress(kind, id), and is idempotent (property)', () => {
    const kind = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/);
    fc.assert(
      fc.property(
        kind,
        fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 8 }),
        (k, id, choices) => {
          const canonical = entityAddress(k, id);
          // the ids . and .. are refused, however spelled (tested above)
          if (id === '.' || id === '..') {
            const spelt = `${ENTITY_SCHEME}${spelling(k, choices)}/${spelling(id, choices)}`;
            expect(() => canonicalAddress(spelt)).toThrow(AmbiguousAddressError);
            return;
          }
          const spelt = `${ENTITY_SCHEME}${spelling(k, choices)}/${spelling(id, choices)}`;
          expect(canonicalAddress(spelt)).toBe(canonical);
          expect(canonicalAddress(canonical)).toBe(canonical);
          // and it names what parseAddress reads from the spelling
          expect(parseAddress(canonical)).toEqual(parseAddress(spelt));
        },
      ),
      { seed: SEED },
    );
  });
});
