/**
 * Topics on one node and across three linked nodes; and one trace across nodes: an ask from an
 * actor of node a to an actor of node b and its reply.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createSystem, fromReceive, type ActorRef, type ActorSystem } from '../../index.ts';
import { until } from '../support/until.ts';

const SECRET = 'a-secret-of-16-chars-or-more';
const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.shutdown()));
});

/** Nodes n0..n(k-1), each dialling those before it (a full mesh). */
async function mesh(k: number, extra: Record<string, unknown> = {}): Promise<ActorSystem[]> {
  const out: ActorSystem[] = [];
  for (let i = 0; i < k; i++) {
    const s = createSystem({
      node: { name: `n${i}` },
      peers: out.map((p, j) => ({ name: `n${j}`, url: `ws://127.0.0.1:${p.nodes!.net.port}` })),
      secret: SECRET,
      ...extra,
    });
    systems.push(s);
    await s.nodeReady;
    out.push(s);
  }
  await until(() => out.every((s) => s.nodes!.net.peersUp.length === k - 1));
  return out;
}

function inbox(system: ActorSystem, name: string) {
  const got: unknown[] = [];
  const ref = system.spawn(
    fromReceive<null, unknown>(null, (s, m) => {
      got.push(m);
      return s;
    }),
    { name },
  );
  return { ref, got };
}

describe('topics', () => {
  it('on one node: subscribers get what is published; an unsubscribed or stopped one does not', async () => {
    const s = createSystem();
    systems.push(s);
    const a = inbox(s, 'a');
    const b = inbox(s, 'b');
    s.topics.subscribe('board', a.ref);
    s.topics.subscribe('board', b.ref);
    s.topics.publish('board', 1);
    await until(() => a.got.length === 1 && b.got.length === 1);
    s.topics.unsubscribe('board', a.ref);
    await s.stop(b.ref);
    await until(() => s.topics.subscribers('board').length === 0);
    s.topics.publish('board', 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(a.got).toEqual([1]);
    expect(() => s.topics.publish('', 1)).toThrow(/topic/);
  });

  it('across three nodes: a publish reaches every subscriber once, on every node', async () => {
    const [n0, n1, n2] = await mesh(3);
    const s1 = inbox(n1!, 's1');
    const s2a = inbox(n2!, 's2a');
    const s2b = inbox(n2!, 's2b');
    const other = inbox(n0!, 'other');
    n1!.topics.subscribe('findings', s1.ref);
    n2!.topics.subscribe('findings', s2a.ref);
    n2!.topics.subscribe('findings', s2b.ref);
    n0!.topics.subscribe('elsewhere', other.ref);
    // each node learns the others' interest
    await until(
      () =>
        n0!.topics.nodesWith('findings').length === 2 &&
        n2!.topics.nodesWith('findings').length === 1,
    );
    n0!.topics.publish('findings', { fact: 42 });
    n2!.topics.publish('findings', { fact: 43 });
    await until(() => s1.got.length === 2 && s2a.got.length === 2 && s2b.got.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    // once each (no order between two publishers on different nodes)
    const facts = (got: unknown[]) => got.map((g) => (g as { fact: number }).fact).sort();
    for (const s of [s1, s2a, s2b]) expect(facts(s.got)).toEqual([42, 43]);
    expect(other.got).toEqual([]);
  });
});

describe('tracing across nodes', () => {
  beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());

  it('one trace follows a message from node a to node b and the reply back', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const [a, b] = await mesh(2, { tracerProvider: provider });
    b!.spawn(
      fromReceive<null, string>(null, (s, m, ctx) => {
        ctx.reply(`${m}!`);
        return s;
      }),
      { name: 'echo' },
    );
    const echo = a!.refOf('troupe://n1/user/echo' as never) as ActorRef<string, string>;
    const replies: string[] = [];
    const asker = a!.spawn(
      fromReceive<null, string>(null, (s, m, ctx) => {
        if (m === 'go') echo.tell('hi');
        else replies.push(m);
        void ctx;
        return s;
      }),
      { name: 'asker' },
    );
    const root = provider.getTracer('test').startSpan('request');
    context.with(trace.setSpan(context.active(), root), () => asker.tell('go'));
    await until(() => replies.length === 1);
    root.end();
    await until(() => exporter.getFinishedSpans().length >= 3);
    const spans = exporter.getFinishedSpans();
    const go = spans.find(
      (s) =>
        s.name === 'receive /user/asker' &&
        s.parentSpanContext?.spanId === root.spanContext().spanId,
    )!;
    const atB = spans.find((s) => s.name === 'receive /user/echo')!;
    const back = spans.find((s) => s.name === 'receive /user/asker' && s !== go)!;
    expect(atB.parentSpanContext?.spanId).toBe(go.spanContext().spanId);
    expect(back.parentSpanContext?.spanId).toBe(atB.spanContext().spanId);
    expect(new Set([go, atB, back].map((s) => s.spanContext().traceId))).toEqual(
      new Set([root.spanContext().traceId]),
    );
  });
});
