/**
 * The gateway stamps the principal `authenticate` gave into every message a client sends
 * (runtime/core/principal.ts): the actor reads it as `ctx.principal`, what the actor sends on
 * carries it, and nothing in a frame's body can set it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromReceive, type ActorRef } from '../../index.ts';
import { connect } from '../../protocol/client/node.ts';
import type { GatewayOp } from '../../runtime/gateway/options.ts';
import { chain, type ChainMsg, type Seen } from '../fixtures/principal-behaviours.ts';
import { startGateway, type GatewayHarness } from '../support/gateway.ts';
import { until } from '../support/until.ts';

const harnesses: GatewayHarness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function gateway(o: Parameters<typeof startGateway>[0] = {}): Promise<GatewayHarness> {
  const h = await startGateway(o);
  harnesses.push(h);
  return h;
}

/** An actor that tells `next` what it saw of each message's principal, and the body's claim. */
function forwarder(next: ActorRef<ChainMsg>, report: ActorRef<Seen>) {
  return fromReceive<null, { type: string; principal?: unknown }>(null, (s, msg, ctx) => {
    next.tell({ type: 'chain', via: [], report });
    ctx.reply({ id: ctx.principal?.id ?? null, claimed: msg.principal ?? null });
    return s;
  });
}

describe('gateway: the authenticated principal in every message a client sends', () => {
  it('stamps send and ask with the connection’s principal, carried to the actors it reaches', async () => {
    const h = await gateway();
    const sys = h.system;
    const seen: Seen[] = [];
    const report = sys.spawn(
      fromReceive<null, Seen>(null, (s, m) => {
        seen.push(m);
        return s;
      }),
    );
    const last = sys.spawn(chain, { name: 'last' }) as ActorRef<ChainMsg>;
    const front = sys.spawn(forwarder(last, report), { name: 'front' });
    const alice = connect(h.url, { token: 'alice', reconnect: false });
    // the body names another principal: it is data, never who the message acts for
    const answer = await alice.ask('/user/front', { type: 'go', principal: { id: 'bob' } });
    expect(answer).toEqual({ id: 'alice', claimed: { id: 'bob' } });
    await until(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ id: 'alice', stamped: true, frozen: true });
    const bob = connect(h.url, { token: 'bob', reconnect: false });
    await bob.send('/user/front', { type: 'go' });
    await until(() => seen.length === 2);
    expect(seen[1]!.id).toBe('bob');
    // a tell from host code acts for nobody
    front.tell({ type: 'go' });
    await until(() => seen.length === 3);
    expect(seen[2]!.id).toBeNull();
    await Promise.all([alice.close(), bob.close()]);
  });

  it('authorizes an approval decision as `send` or `ask` and as `approve`: both must allow', async () => {
    const ops: GatewayOp[] = [];
    const h = await gateway({
      authorize: (p, op) => {
        ops.push(op);
        return op !== 'approve' || p.role === 'admin';
      },
    });
    h.system.spawn(chain, { name: 'agent' });
    const bob = connect(h.url, { token: 'bob', reconnect: false });
    await expect(bob.send('/user/agent', { type: 'approve', callId: 'c1' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(bob.ask('/user/agent', { type: 'reject', callId: 'c1' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await bob.send('/user/agent', { type: 'status' });
    const alice = connect(h.url, { token: 'alice', reconnect: false });
    await alice.send('/user/agent', { type: 'approve', callId: 'c1' });
    expect(ops).toEqual(['send', 'approve', 'ask', 'approve', 'send', 'send', 'approve']);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('refuses the upgrade (500) when authenticate gives a principal it cannot stamp', async () => {
    const h = await gateway({ authenticate: () => ({ id: 'eve', scopes: 'all' }) as never });
    const c = connect(h.url, { token: 'eve', reconnect: false });
    await expect(c.ready).rejects.toBeInstanceOf(Error);
    expect(h.system.gateway!.stats().refused[500]).toBe(1);
    expect(h.system.gateway!.stats().connections).toBe(0);
  });
});
