import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanView } from '../../src/otlp/types.js';

/**
 * Finished spans made by the OpenTelemetry JS SDK, for tests that need what real
 * instrumented services send: per trace one server root and `spansPerTrace - 1` client children.
 */
export function makeSdkSpans(options: { traces?: number; spansPerTrace?: number; serviceName?: string } = {}): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'checkout', 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('tailsift-test', '1.0.0');
  const traces = options.traces ?? 2;
  const spansPerTrace = options.spansPerTrace ?? 3;
  for (let t = 0; t < traces; t++) {
    const root = tracer.startSpan(`GET /orders/${t}`, { kind: SpanKind.SERVER, attributes: { 'http.route': '/orders/:id' } });
    const parent = trace.setSpan(context.active(), root);
    for (let c = 1; c < spansPerTrace; c++) {
      const child = tracer.startSpan(`db query ${c}`, { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', rows: c } }, parent);
      if (c === 2) child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
      child.end();
    }
    root.end();
  }
  return exporter.getFinishedSpans();
}

export interface SpanSummary {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly statusCode: number;
  readonly serviceName: string;
}

const bySpanId = (a: SpanSummary, b: SpanSummary): number => a.spanId.localeCompare(b.spanId);

/** What the SDK made, in OTLP terms (OTLP span kinds are the SDK's plus one). */
export function summarizeSdkSpans(spans: readonly ReadableSpan[]): SpanSummary[] {
  return spans
    .map((s) => ({
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId ?? '',
      name: s.name,
      kind: s.kind + 1,
      statusCode: s.status.code,
      serviceName: String(s.resource.attributes['service.name']),
    }))
    .sort(bySpanId);
}

/** What a decoder read, in the same shape. */
export function summarizeViews(spans: readonly SpanView[]): SpanSummary[] {
  return spans
    .map((s) => ({
      traceId: s.traceId,
      spanId: s.spanId,
      parentSpanId: s.parentSpanId,
      name: s.name,
      kind: s.kind,
      statusCode: s.statusCode,
      serviceName: s.serviceName,
    }))
    .sort(bySpanId);
}
