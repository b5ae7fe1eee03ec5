import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { fromReceive, type ActorRef } from '../../index.ts';
import { settle } from '../../testing.ts';
import { extractTrace, injectTrace } from '../../runtime/core/telemetry.ts';
import { testSystem } from '../support/system.ts';

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

/** a → b → c: each forwards the message to the next. */
function chain(system: ReturnType<typeof testSystem>['system']) {
  const c = system.spawn(
    fromReceive(null, (s, _m: { type: 'hop' }) => s),
    { name: 'c' },
  );
  const b = system.spawn(
    fromReceive(null, (s, m: { type: 'hop' }) => (c.tell(m), s)),
    { name: 'b' },
  );
  const a = system.spawn(
    fromReceive(null, (s, m: { type: 'hop' }) => (b.tell(m), s)),
    { name: 'a' },
  );
  return a as ActorRef<{ type: 'hop' }>;
}

describe('tracing', () => {
  // the caller's active span is read through the global context manager
  beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());

  it('makes each receive a span whose parent is the sender’s span, through three actors', async () => {
    const { exporter, provider } = tracing();
    const { system } = testSystem({ tracerProvider: provider });
    const a = chain(system);
    await settle(system);
    const root = provider.getTracer('test').startSpan('request');
    context.with(trace.setSpan(context.active(), root), () => a.tell({ type: 'hop' }));
    await settle(system);
    root.end();
    const spans = exporter.getFinishedSpans();
    const byName = new Map(spans.map((s) => [s.name, s]));
    const sa = byName.get('receive /user/a')!;
    const sb = byName.get('receive /user/b')!;
    const sc = byName.get('receive /user/c')!;
    expect(sa.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(sb.parentSpanContext?.spanId).toBe(sa.spanContext().spanId);
    expect(sc.parentSpanContext?.spanId).toBe(sb.spanContext().spanId);
    expect(new Set([sa, sb, sc].map((s) => s.spanContext().traceId))).toEqual(
      new Set([root.spanContext().traceId]),
    );
    expect(sb.attributes).toMatchObject({
      'troupe.actor.path': '/user/b',
      'troupe.actor.behaviour': 'receive',
      'troupe.message.type': 'hop',
    });
    await system.shutdown();
  });

  it('records a failure on the span of the message that failed', async () => {
    const { exporter, provider } = tracing();
    const { system } = testSystem({ tracerProvider: provider });
    const bad = system.spawn(
      fromReceive(null, () => {
        throw new Error('nope');
      }),
      { name: 'bad' },
    );
    await settle(system);
    bad.tell('x');
    await settle(system);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'receive /user/bad')!;
    expect(span.status.code).toBe(2);
    expect(span.events.map((e) => e.name)).toContain('exception');
    await system.shutdown();
  });

  it('uses the globally registered tracer provider, checked at each scheduler turn', async () => {
    const { exporter, provider } = tracing();
    const { system } = testSystem();
    const a = chain(system);
    await settle(system);
    expect(system.tracing).toBe(false);
    trace.setGlobalTracerProvider(provider);
    try {
      a.tell({ type: 'hop' });
      await settle(system);
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual([
        'receive /user/a',
        'receive /user/b',
        'receive /user/c',
      ]);
    } finally {
      trace.disable();
    }
    await system.shutdown();
  });

  it('does no span work when no tracer provider is registered', async () => {
    // no tracer is asked for, no context read: the cost is a branch
    const getTracer = vi.spyOn(trace.getTracerProvider(), 'getTracer');
    const active = vi.spyOn(context, 'active');
    try {
      const { system } = testSystem();
      const a = chain(system);
      a.tell({ type: 'hop' });
      await settle(system);
      expect(system.tracing).toBe(false);
      expect(getTracer).not.toHaveBeenCalled();
      expect(active).not.toHaveBeenCalled();
      await system.shutdown();
    } finally {
      getTracer.mockRestore();
      active.mockRestore();
    }
  });
});

describe('trace context at a boundary (injectTrace / extractTrace)', () => {
  const sc = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  };

  it('writes and reads W3C traceparent even with no propagator registered', () => {
    const headers = injectTrace(trace.setSpanContext(ROOT_CONTEXT, sc));
    expect(headers).toEqual({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(trace.getSpanContext(extractTrace(headers))).toEqual({ ...sc, isRemote: true });
  });

  it('reads a malformed traceparent as no trace context', () => {
    for (const traceparent of [
      '00-xyz',
      '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '',
    ])
      expect(trace.getSpanContext(extractTrace({ traceparent }))).toBeUndefined();
  });
});
