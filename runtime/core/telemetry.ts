/**
 * Tracing with OpenTelemetry: one tracer named `troupe`.
 *
 * When a tracer provider is registered (globally, or given as `createSystem({ tracerProvider })`),
 * each message an actor handles is a span `receive <path>` whose parent is the span of the
 * sender: the sender's context rides with the message (in-thread as a Context, at
 * boundaries as W3C `traceparent`/`tracestate` in the envelope). A tell from outside any
 * actor takes the active context of the caller.
 *
 * When none is registered the cost is one boolean read per tell and per scheduler batch: the
 * scheduler checks for a provider once per turn, and nothing else is done.
 */
import {
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

export const TRACER_NAME = 'troupe';
const NOOP_DELEGATE = new ProxyTracerProvider().getDelegate();

export class Telemetry {
  private readonly explicit: TracerProvider | undefined;
  private provider: TracerProvider | null = null;
  private tracer: Tracer | null = null;
  active = false;

  constructor(explicit: TracerProvider | undefined) {
    this.explicit = explicit;
    this.refresh();
  }

  /** Re-reads whether a provider is registered; cheap enough to call once per scheduler turn. */
  refresh(): boolean {
    const p = this.explicit ?? trace.getTracerProvider();
    const active = !(p instanceof ProxyTracerProvider && p.getDelegate() === NOOP_DELEGATE);
    if (active && p !== this.provider) {
      this.provider = p;
      this.tracer = p.getTracer(TRACER_NAME);
    }
    this.active = active;
    return active;
  }

  /** The tracer while a provider is registered, else null (the gateway's spans). */
  get currentTracer(): Tracer | null {
    return this.active ? this.tracer : null;
  }

  /** The caller's active context, for messages sent from outside any actor. */
  callerContext(): Context | null {
    const c = context.active();
    return trace.getSpan(c) === undefined ? null : c;
  }

  startReceive(path: string, behaviourKind: string, msg: unknown, parent: Context | null): Span {
    const type =
      typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
    return this.tracer!.startSpan(
      `receive ${path}`,
      {
        attributes: {
          'troupe.actor.path': path,
          'troupe.actor.behaviour': behaviourKind,
          ...(typeof type === 'string' ? { 'troupe.message.type': type } : {}),
        },
      },
      parent ?? ROOT_CONTEXT,
    );
  }

  endWithError(span: Span, error: unknown): void {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/** Context carrying `span`, for the messages sent while it is open. */
export function contextWithSpan(parent: Context | null, span: Span): Context {
  return trace.setSpan(parent ?? ROOT_CONTEXT, span);
}

/** W3C trace context for an envelope crossing a boundary. */
/**
 * The trace context as W3C headers, for an envelope. The registered propagator writes them;
 * with none registered (the API's default does nothing) troupe writes `traceparent` (and
 * `tracestate`) itself, so a trace never stops at a thread or node boundary silently.
 */
export function injectTrace(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier.traceparent === undefined) {
    const sc = trace.getSpanContext(ctx);
    if (sc !== undefined && isSpanContextValid(sc)) {
      carrier.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
      const state = sc.traceState?.serialize();
      if (state !== undefined && state !== '') carrier.tracestate = state;
    }
  }
  return carrier;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context an envelope's headers carry (see injectTrace); ROOT_CONTEXT for none or a bad one. */
export function extractTrace(carrier: Readonly<Record<string, string>>): Context {
  const ctx = propagation.extract(ROOT_CONTEXT, carrier);
  if (trace.getSpanContext(ctx) !== undefined) return ctx;
  const m = TRACEPARENT.exec(carrier.traceparent ?? '');
  if (m === null) return ctx;
  const sc: SpanContext = {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: Number.parseInt(m[3]!, 16),
    isRemote: true,
  };
  return isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ctx;
}
