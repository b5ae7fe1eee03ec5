import type { LocalRef } from '../../runtime/core/ref.ts';
import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { propagation } from '@opentelemetry/api';
import { fromReceive } from '../../index.ts';
import { MessageMeta } from '../../runtime/core/envelope.ts';
import { open, seal } from '../../runtime/core/boundary.ts';
import { testSystem } from '../support/system.ts';

describe('envelopes at a boundary', () => {
  it('seals refs as addresses with the reply address and correlation id, and opens them as refs of the receiving system', async () => {
    const a = testSystem({ nodeId: 'a' });
    const target = a.system.spawn(
      fromReceive(null, (s, _m: unknown) => s),
      { name: 'target' },
    );
    const sender = a.system.spawn(
      fromReceive(null, (s, _m: unknown) => s),
      { name: 'sender' },
    );
    const env = seal(
      'user',
      target,
      { type: 'job', owner: sender },
      new MessageMeta(sender, sender, 7, null),
    );
    expect(env).toEqual({
      v: 1,
      to: 'troupe://a/user/target',
      from: 'troupe://a/user/sender',
      replyTo: 'troupe://a/user/sender',
      corr: 7,
      kind: 'user',
      body: {
        type: 'job',
        owner: { $ref: 'troupe://a/user/sender', $uid: (sender as LocalRef).uid },
      },
    });
    const opened = open(JSON.parse(JSON.stringify(env)), a.system.refOf);
    expect(opened.to).toBe(target);
    expect((opened.body as { owner: unknown }).owner).toBe(sender);
    expect(opened.meta?.replyTo).toBe(sender);
    expect(opened.meta?.corr).toBe(7);
    await a.system.shutdown();
  });

  it('carries W3C trace context', async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const { system } = testSystem();
      const target = system.spawn(fromReceive(null, (s, _m: unknown) => s));
      const spanContext = {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
      };
      const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
      const env = seal('user', target, 'x', new MessageMeta(null, null, 0, ctx));
      expect(env.trace).toEqual({
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      const opened = open(env, system.refOf);
      expect(trace.getSpanContext(opened.meta!.trace!)).toMatchObject({
        traceId: spanContext.traceId,
        spanId: spanContext.spanId,
      });
      await system.shutdown();
    } finally {
      propagation.disable();
    }
  });

  it('refuses a bad version, kind, address, corr or trace with ERR_INVALID_ENVELOPE naming the field', async () => {
    const { system } = testSystem();
    const good = { v: 1, to: 'troupe://local/user/x', kind: 'user', body: 1 };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, v: 2 }, 'v'],
      [{ ...good, kind: 'evil' }, 'kind'],
      [{ ...good, to: 'http://x' }, 'to'],
      [{ ...good, from: 5 }, 'from'],
      [{ ...good, corr: 'x' }, 'corr'],
      [{ ...good, trace: { traceparent: 1 } }, 'trace'],
    ];
    for (const [env, field] of cases)
      expect(() => open(env, system.refOf)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE', field }),
      );
    expect(() => open(null, system.refOf)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE' }),
    );
    await system.shutdown();
  });

  it('refuses a body that cannot cross with ERR_NOT_SERIALIZABLE', async () => {
    const { system } = testSystem();
    const target = system.spawn(fromReceive(null, (s, _m: unknown) => s));
    expect(() => seal('user', target, { f: () => 1 }, null)).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_SERIALIZABLE', at: '$.f' }),
    );
    await system.shutdown();
  });
});
