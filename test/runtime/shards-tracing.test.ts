/** One trace follows a message chain through three threads (spans from every shard). */
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createSystem, type ActorRef } from '../../index.ts';
import { relay, type RelayMsg } from '../fixtures/shard-behaviours.ts';
import { SPANS_CHANNEL, type CollectedSpan } from '../fixtures/shard-tracing-setup.ts';

describe('tracing across shards', () => {
  beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => context.disable());

  it('carries the trace context with the envelope: each receive’s parent is the sender’s span, on whatever thread', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const collected: CollectedSpan[] = [];
    const channel = new BroadcastChannel(SPANS_CHANNEL);
    channel.onmessage = (e) => collected.push((e as { data: CollectedSpan }).data);
    const system = createSystem({
      shards: 3,
      tracerProvider: provider,
      shardSetup: new URL('../fixtures/shard-tracing-setup.ts', import.meta.url),
    });
    try {
      const a = system.spawn(relay, { shard: 1, name: 'a' }) as ActorRef<RelayMsg>;
      const b = system.spawn(relay, { shard: 2, name: 'b' }) as ActorRef<RelayMsg>;
      const root = provider.getTracer('test').startSpan('request');
      context.with(trace.setSpan(context.active(), root), () => a.tell({ type: 'hop', next: b }));
      root.end();
      for (let i = 0; i < 300 && collected.length < 2; i++)
        await new Promise((r) => setTimeout(r, 10));
      const sa = collected.find((s) => s.name === 'receive /user/a');
      const sb = collected.find((s) => s.name === 'receive /user/b');
      expect(sa, 'a span from shard 1').toBeDefined();
      expect(sb, 'a span from shard 2').toBeDefined();
      expect(sa!.parent).toBe(root.spanContext().spanId);
      expect(sb!.parent).toBe(sa!.spanId);
      expect(new Set([sa!.traceId, sb!.traceId])).toEqual(new Set([root.spanContext().traceId]));
      expect(new Set([threadId, sa!.threadId, sb!.threadId]).size).toBe(3);
    } finally {
      channel.close();
      await system.shutdown();
    }
  });
});
