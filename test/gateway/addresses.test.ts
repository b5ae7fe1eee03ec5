/**
 * One spelling per address (runtime/gateway/targets.ts): whatever a client writes, `authorize`
 * sees the address of what the request reaches, in its one spelling, and a rule written about
 * that address holds against every other way to it.
 *
 * ADDRESS_SEED=<n> replays the property test; ADDRESS_RUNS sets its number of runs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromReceive, type GatewayOp, type Principal } from '../../index.ts';
import { canonicalAddress, entityAddress } from '../../protocol/address.ts';
import { connect, RequestError, type TroupeClient } from '../../protocol/client/node.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';

const SEED =
  process.env.ADDRESS_SEED !== undefined ? Number(process.env.ADDRESS_SEED) : Date.now() >>> 0;
const RUNS = Number(process.env.ADDRESS_RUNS ?? 150);

/** What an actor of these tests answers: where it lives. */
interface Where {
  readonly self: string;
  readonly path: string;
}

const where = fromReceive(0, (n: number, _m: unknown, ctx) => {
  if (ctx.replyTo !== undefined) ctx.reply({ self: ctx.self.address, path: ctx.self.path });
  return n + 1;
});

/** The entity address of an activation at `/system/e.<kind>.<id in base64url>`. */
function entityOf(path: string): string | null {
  const m = /^\/system\/e\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(path);
  return m === null ? null : entityAddress(m[1]!, Buffer.from(m[2]!, 'base64url').toString());
}

/** The one address of what answered. */
const reached = (w: Where): string => entityOf(w.path) ?? w.self;

const codeOf = (e: unknown): unknown => (e instanceof RequestError ? e.code : e);

const clients: TroupeClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('gateway: one spelling per address', () => {
  let h: GatewayHarness;
  /** What authorize saw, by the nonce of the request's message. */
  const seen = new Map<number, string[]>();
  /** Everything authorize saw. */
  const all: [GatewayOp, string][] = [];
  const SECRET = entityAddress('vault', 'secret');
  const principals: Record<string, Principal> = {
    alice: { id: 'alice' },
    bob: { id: 'bob' },
    // a principal id that is bob's id, percent-encoded
    mallory: { id: '%62ob' },
  };

  beforeAll(async () => {
    h = await startGateway({
      authenticate: (t) => (t === null ? null : (principals[t] ?? null)),
      authorize: (principal, op, target, detail) => {
        all.push([op, target]);
        const nonce = (detail.message as { nonce?: unknown } | undefined)?.nonce;
        if (typeof nonce === 'number') seen.set(nonce, [...(seen.get(nonce) ?? []), target]);
        // a deny rule, written about the entity's address
        if (target === SECRET) return false;
        // a rule built by gluing a principal's id onto a prefix (the wrong way: see options.ts)
        if (target.startsWith('troupe:entity/account/'))
          return target === 'troupe:entity/account/' + principal.id;
        return true;
      },
      limits: { messagesPerSecond: 100_000, burst: 100_000 },
    });
    h.system.define('vault', where);
    h.system.define('account', where);
    h.system.spawn(where, { name: 'echo' });
  });
  afterAll(() => h.close());

  function client(token = 'alice'): TroupeClient {
    const c = connect(h.url, { token, reconnect: false });
    clients.push(c);
    return c;
  }

  it('a deny rule on an entity holds against its percent-encoded spellings', async () => {
    const c = client();
    for (const spelt of [
      'troupe:entity/vault/%73ecret',
      'troupe:entity/vault/%73%65%63%72%65%74',
      'troupe:entity/%76ault/secret',
    ])
      expect(codeOf(await c.ask(spelt, { nonce: -1 }).catch((e: unknown) => e))).toBe('forbidden');
    expect(all.filter(([, t]) => t.includes('vault')).every(([, t]) => t === SECRET)).toBe(true);
  });

  it('an entity’s activation path is a bad target, on this node and by full address', async () => {
    // the secret vault is active (the node itself talked to it)
    const w = (await h.system.entity('vault', 'secret').ask({})) as Where;
    expect(w.path).toMatch(/^\/system\/e\.vault\./);
    const c = client();
    for (const t of [w.path, w.self, `${w.path}/child`, '/system/e.vault.x'])
      expect(codeOf(await c.ask(t, { nonce: -2 }).catch((e: unknown) => e)), t).toBe('bad-target');
    expect(seen.has(-2)).toBe(false);
  });

  it('a principal whose id is another’s, percent-encoded, reads only its own account', async () => {
    const m = client('mallory');
    // the glued rule compares with 'troupe:entity/account/%62ob'; authorize sees …/bob
    expect(
      codeOf(await m.ask('troupe:entity/account/%62ob', { nonce: -3 }).catch((e: unknown) => e)),
    ).toBe('forbidden');
    expect(seen.get(-3)).toEqual(['troupe:entity/account/bob']);
    // bob reads his
    const b = client('bob');
    const w = (await b.ask('troupe:entity/account/bob', {})) as Where;
    expect(reached(w)).toBe('troupe:entity/account/bob');
  });

  it('refuses ambiguous spellings, temporary addresses, bad segments and ids . and .. as bad targets', async () => {
    const c = client();
    for (const t of [
      'troupe:entity/vault/%zz',
      'troupe:entity/vault/%C0%AF',
      'troupe:entity/vault/%ED%A0%80',
      `troupe://${h.system.nodeId}/temp`,
      '/temp/x',
      '/user/./echo',
      '/user/../user/echo',
      'TROUPE://local/user/echo',
      // entity ids that read as path steps, in any spelling
      'troupe:entity/vault/.',
      'troupe:entity/vault/..',
      'troupe:entity/vault/%2E',
      'troupe:entity/vault/%2e%2E',
      'troupe:entity/vault/.%2e',
    ])
      expect(codeOf(await c.ask(t, { nonce: -4 }).catch((e: unknown) => e)), t).toBe('bad-target');
    expect(seen.has(-4)).toBe(false);
  });

  it('for every spelling that reaches an actor, authorize saw its canonical address (property)', async () => {
    const c = client();
    await c.ready;
    const node = h.system.nodeId;
    const hex = (b: number, upper: boolean) => {
      const x = b.toString(16).padStart(2, '0');
      return '%' + (upper ? x.toUpperCase() : x);
    };
    /** `s` written with each UTF-8 byte raw (where it may be) or escaped, upper or lower case. */
    const spell = (s: string, picks: readonly number[]): string => {
      let out = '';
      let i = 0;
      for (const ch of s) {
        const p = picks[i++ % picks.length]!;
        if (p === 0 && ch !== '/' && ch !== '%') out += ch;
        else out += [...new TextEncoder().encode(ch)].map((b) => hex(b, p === 1)).join('');
      }
      return out;
    };
    const idChar = fc.constantFrom(..."aZ9-_.~!*'()/% +?#&=:@é€😀\u0000\n".split(/(?:)/u));
    const id = fc.string({ unit: idChar, minLength: 1, maxLength: 10 });
    const picks = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 6 });
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const target = fc.oneof(
      // an entity, spelt any way, its kind too
      fc
        .tuple(fc.constantFrom('vault', 'account'), id, picks)
        .map(([k, i, p]) => `troupe:entity/${spell(k, p)}/${spell(i, p)}`),
      // the secret vault, spelt any way
      picks.map((p) => `troupe:entity/vault/${spell('secret', p)}`),
      // an activation's path
      fc
        .tuple(id, fc.boolean())
        .map(([i, full]) => `${full ? `troupe://${node}` : ''}/system/e.vault.${b64(i)}`),
      // an actor by path or address
      fc.constantFrom('/user/echo', `troupe://${node}/user/echo`),
      // broken: a stray "%", a mangled escape
      fc.tuple(id, fc.nat()).map(([i, n]) => {
        const s = `troupe:entity/vault/${spell(i, [1])}`;
        const at = 14 + (n % (s.length - 14));
        return s.slice(0, at) + '%' + s.slice(at);
      }),
    );
    let nonce = 0;
    let reachedCount = 0;
    await fc.assert(
      fc.asyncProperty(target, async (t) => {
        const n = ++nonce;
        let answer: unknown;
        try {
          answer = await c.ask(t, { nonce: n });
        } catch (e) {
          const code = codeOf(e);
          expect(['bad-target', 'forbidden'], `${t}: ${String(e)}`).toContain(code);
          // whatever authorize saw is in its one spelling
          for (const s of seen.get(n) ?? []) expect(canonicalAddress(s)).toBe(s);
          return;
        }
        reachedCount++;
        const got = reached(answer as Where);
        // reached only through authorize, which saw exactly where it went
        expect(seen.get(n), t).toEqual([got]);
        expect(canonicalAddress(got)).toBe(got);
        expect(got).not.toBe(SECRET);
        expect(got).not.toMatch(/\/system\/e\./);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // the property was not empty: about 30% of the spellings reach an actor (the others are
    // refused on purpose), so a sixth is far below the mean (a quarter was 1.4 σ below it at
    // 150 runs, and failed one run in twelve)
    expect(reachedCount).toBeGreaterThan(RUNS / 6);
  });
});
