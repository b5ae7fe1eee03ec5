/**
 * The gateway's admission chain (runtime/gateway/admission.ts): after `authorize`, before the
 * actor, each step allows, replaces the message or refuses; async steps keep a connection's
 * requests in order; a step that fails answers `internal` and harms nothing else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromReceive, type ActorSystem } from '../../index.ts';
import { connect, LimitedError, RefusedError, RequestError } from '../../protocol/client/node.ts';
import type { AdmissionRequest, AdmissionStep } from '../../runtime/gateway/admission.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';
import { until } from '../support/until.ts';

const harnesses: GatewayHarness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function gateway(admission: readonly AdmissionStep[]): Promise<GatewayHarness> {
  const h = await startGateway({ admission });
  harnesses.push(h);
  return h;
}

/** `/user/inbox`: records what reaches it, answers asks with 'got'. */
function inbox(system: ActorSystem): unknown[] {
  const got: unknown[] = [];
  system.spawn(
    fromReceive<null, unknown, string>(null, (s, m, ctx) => {
      got.push(m);
      ctx.reply('got');
      return s;
    }),
    { name: 'inbox' },
  );
  return got;
}

type Msg = { type: string; text?: string };

describe('gateway: the admission chain', () => {
  it('runs its steps in order: each sees the message the last left, the actor the final one', async () => {
    const seen: AdmissionRequest[] = [];
    const h = await gateway([
      (r) => {
        seen.push(r);
        const m = r.message as Msg;
        return { allow: true, message: { ...m, text: m.text?.replace(/\d{4}/g, '####') } };
      },
      (r) => {
        seen.push(r);
        return { allow: true };
      },
    ]);
    const got = inbox(h.system);
    const c = connect(h.url, { token: 'alice', reconnect: false });
    expect(await c.ask('/user/inbox', { type: 'note', text: 'card 1234 5678' })).toBe('got');
    expect(got).toEqual([{ type: 'note', text: 'card #### ####' }]);
    expect(seen.map((r) => r.op)).toEqual(['ask', 'ask']);
    expect(seen[0]).toMatchObject({ target: 'troupe://local/user/inbox' });
    expect(seen[0]!.principal.id).toBe('alice');
    expect((seen[1]!.message as Msg).text).toBe('card #### ####');
    // subscriptions do not go through it
    await c.subscribe('/user/inbox', () => undefined).ready;
    expect(seen).toHaveLength(2);
    await c.close();
  });

  it('refuses with refused or limited and the reason; nothing reaches the actor', async () => {
    const h = await gateway([
      (r) =>
        (r.message as Msg).type === 'spam'
          ? { allow: false, reason: 'looks like spam' }
          : { allow: true },
      (r) =>
        Promise.resolve(
          r.principal.id === 'bob'
            ? { allow: false, code: 'limited', reason: 'bob has sent enough today' }
            : { allow: true },
        ) as ReturnType<AdmissionStep>,
    ]);
    const got = inbox(h.system);
    const alice = connect(h.url, { token: 'alice', reconnect: false });
    const bob = connect(h.url, { token: 'bob', reconnect: false });
    const spam = await alice.send('/user/inbox', { type: 'spam' }).catch((e: unknown) => e);
    expect(spam).toBeInstanceOf(RefusedError);
    expect(spam).toMatchObject({ code: 'refused', message: 'looks like spam' });
    const limited = await bob.ask('/user/inbox', { type: 'hi' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(LimitedError);
    expect(limited).toMatchObject({ code: 'limited', message: 'bob has sent enough today' });
    await alice.send('/user/inbox', { type: 'hi' });
    await until(() => got.length === 1);
    expect(got).toEqual([{ type: 'hi' }]);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('keeps a connection’s requests in order behind a step that answers later', async () => {
    const waiting: (() => void)[] = [];
    const h = await gateway([
      (r) =>
        (r.message as Msg).type === 'slow'
          ? new Promise((resolve) => waiting.push(() => resolve({ allow: true })))
          : { allow: true },
    ]);
    const got = inbox(h.system);
    const c = connect(h.url, { token: 'alice', reconnect: false });
    const sent = [
      c.send('/user/inbox', { type: 'slow' }),
      c.send('/user/inbox', { type: 'fast-1' }),
      c.send('/user/inbox', { type: 'fast-2' }),
    ];
    await until(() => waiting.length === 1);
    expect(got).toEqual([]);
    waiting[0]!();
    await Promise.all(sent);
    await until(() => got.length === 3);
    expect(got.map((m) => (m as Msg).type)).toEqual(['slow', 'fast-1', 'fast-2']);
    await c.close();
  });

  it('answers internal for a step that throws or answers no verdict; the connection stays', async () => {
    const h = await gateway([
      (r) => {
        const t = (r.message as Msg).type;
        if (t === 'throw') throw new Error('a bug in a step');
        if (t === 'nonsense') return 'yes' as never;
        if (t === 'reject') return Promise.reject(new Error('down'));
        return { allow: true };
      },
    ]);
    const got = inbox(h.system);
    const c = connect(h.url, { token: 'alice', reconnect: false });
    for (const type of ['throw', 'nonsense', 'reject']) {
      const e = await c.ask('/user/inbox', { type }).catch((x: unknown) => x);
      expect(e, type).toBeInstanceOf(RequestError);
      expect(e, type).toMatchObject({ code: 'internal' });
    }
    expect(await c.ask('/user/inbox', { type: 'fine' })).toBe('got');
    expect(got).toEqual([{ type: 'fine' }]);
    await c.close();
  });

  // startGateway gives gateway(…): its fields are named gateway.<field>
  it('refuses a bad admission option at start, naming the field', async () => {
    await expect(
      startGateway({ admission: [() => ({ allow: true }), 3] as never }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      field: 'gateway.admission',
    });
  });
});
