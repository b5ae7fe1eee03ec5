import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ADDRESS_SCHEME,
  ENTITY_SCHEME,
  MAX_NAME_LENGTH_CHARS,
  childPath,
  entityAddress,
  formatAddress,
  parseAddress,
  validateName,
  validateNodeId,
  type ActorPath,
  type NodeId,
} from '../../runtime/address.ts';

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
