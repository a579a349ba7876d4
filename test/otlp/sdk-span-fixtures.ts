/**
 * Spans made by the OpenTelemetry JS SDK, serialized by its own OTLP serializers, as the
 * reference the decoder is checked against.
 */
import { SpanKind, SpanStatusCode, context, trace, TraceFlags } from '@opentelemetry/api';
import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';

export const BASE_MS = Date.UTC(2025, 2, 14, 9, 26, 53, 589);

/** Spans from real tracers: two services, two scopes on one of them, parents, events, links, status. */
export function tracerSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = (service: string, extra: Attributes): BasicTracerProvider =>
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'host.name': `${service}-host`, ...extra }, {
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
  const checkout = provider('checkout', { 'process.pid': 4242, 'k8s.pod.ready': true, 'host.cpu.ghz': 2.5 });
  const payments = provider('payments', { 'deployment.environment.name': 'prod' });
  const http = checkout.getTracer('@opentelemetry/instrumentation-http', '0.57.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
  });
  const db = checkout.getTracer('pg');
  const grpc = payments.getTracer('grpc', '1.2.3');

  const root = http.startSpan('GET /checkout', {
    kind: SpanKind.SERVER,
    startTime: BASE_MS,
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'http.route': '/checkout',
      'server.duration_ratio': 0.25,
      'user.vip': false,
      'app.tags': ['a', 'b', 'ü€'],
      'app.retries': [1, 2, 3],
      'app.weights': [0.5, 1.5],
      'app.flags': [true, false],
      'app.big': 2 ** 53 + 2,
      'app.negative': -17,
      'app.empty': '',
    },
  });
  const rootCtx = trace.setSpan(context.active(), root);
  const query = db.startSpan('SELECT orders', { kind: SpanKind.CLIENT, startTime: BASE_MS + 3 }, rootCtx);
  query.addEvent('rows fetched', { 'db.rows': 12, 'db.cached': true }, BASE_MS + 7.25);
  query.addEvent('no attributes', undefined, BASE_MS + 8);
  query.addEvent('exception', { 'exception.stacktrace': 'Error: deadlock\n    at query (db.js:1:1)\n'.repeat(20) }, BASE_MS + 8.5);
  query.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock detected' });
  query.end(BASE_MS + 9.123456);

  const internal = db.startSpan(`map rows ${'of a very long operation name '.repeat(6)}`, { kind: SpanKind.INTERNAL, startTime: BASE_MS + 9.5 }, rootCtx);
  internal.setStatus({ code: SpanStatusCode.OK });
  internal.end(BASE_MS + 10);

  const producer = http.startSpan(
    'publish order',
    {
      kind: SpanKind.PRODUCER,
      startTime: BASE_MS + 11,
      links: [
        {
          context: {
            traceId: '0af7651916cd43dd8448eb211c80319c',
            spanId: 'b7ad6b7169203331',
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
            traceState: new TraceState('rojo=00f067aa0ba902b7'),
          },
          attributes: { 'link.reason': 'batch', 'link.index': 1 },
        },
      ],
    },
    rootCtx,
  );
  producer.end(BASE_MS + 12);
  root.end(BASE_MS + 40);

  // A second trace continued from a remote parent that carries a trace state.
  const remoteParent: SpanContext = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
  };
  const consumer = grpc.startSpan(
    'payments.Charge',
    { kind: SpanKind.CONSUMER, startTime: BASE_MS + 20 },
    trace.setSpanContext(context.active(), remoteParent),
  );
  consumer.end(BASE_MS + 31);
  return exporter.getFinishedSpans();
}

interface HandmadeSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: SpanKind;
  startMs: number;
  endMs: number;
  attributes?: Record<string, unknown>;
  events?: TimedEvent[];
  links?: Link[];
  status?: { code: SpanStatusCode; message?: string };
  resource: Resource;
  scope: InstrumentationScope;
  dropped?: { attributes: number; events: number; links: number };
}

function hr(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/**
 * A ReadableSpan made by hand, for values the SDK's attribute sanitizer would drop but OTLP
 * carries (kvlist and bytes values, nested arrays) and for dropped counts.
 */
export function handmadeSpan(s: HandmadeSpan): ReadableSpan {
  const ctx: SpanContext = { traceId: s.traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: s.name,
    kind: s.kind ?? SpanKind.INTERNAL,
    spanContext: () => ctx,
    parentSpanContext:
      s.parentSpanId === undefined
        ? undefined
        : { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: false },
    startTime: hr(s.startMs),
    endTime: hr(s.endMs),
    status: s.status ?? { code: SpanStatusCode.UNSET },
    attributes: (s.attributes ?? {}) as Attributes,
    links: s.links ?? [],
    events: s.events ?? [],
    duration: hr(s.endMs - s.startMs),
    ended: true,
    resource: s.resource,
    instrumentationScope: s.scope,
    droppedAttributesCount: s.dropped?.attributes ?? 0,
    droppedEventsCount: s.dropped?.events ?? 0,
    droppedLinksCount: s.dropped?.links ?? 0,
  };
}

/** Hand-made spans with every AnyValue type, nested values, dropped counts; three traces. */
export function handmadeSpans(): ReadableSpan[] {
  const resource = resourceFromAttributes({
    'service.name': 'inventory',
    'service.version': '2.1.0',
    'host.ids': ['i-1', 'i-2'],
  });
  const other = resourceFromAttributes({ 'service.name': 'ledger' });
  const scope: InstrumentationScope = { name: 'inventory-lib', version: '9.9.9' };
  const otherScope: InstrumentationScope = { name: 'ledger-lib' };
  const traceA = '5b8efff798038103d269b633813fc60c';
  const traceB = 'eee19b7ec3c1b174a0a5b0b59e5b1c01';
  const traceC = '00000000000000000000000000000001';
  return [
    handmadeSpan({
      traceId: traceA,
      spanId: 'eee19b7ec3c1b174',
      name: 'reserve',
      kind: SpanKind.SERVER,
      startMs: BASE_MS + 100,
      endMs: BASE_MS + 180.000001,
      attributes: {
        'str': 'value',
        'bool': true,
        'int': 42,
        'int.negative': -(2 ** 40),
        'double': 3.14159,
        'bytes': new Uint8Array([0, 1, 2, 254, 255]),
        'array.mixed': ['x', 1, 2.5, false],
        'array.nested': [[1, 2], ['a']],
        'kvlist': { inner: 'v', deeper: { n: 7, list: [1, 'two'] }, 'x.y': 'kept' },
        'unicode': 'naïve ☃ 日本',
      },
      events: [
        { name: 'cache miss', time: hr(BASE_MS + 120.5), attributes: { key: 'sku-1', size: 3 }, droppedAttributesCount: 2 },
      ],
      status: { code: SpanStatusCode.ERROR, message: 'out of stock' },
      resource,
      scope,
      dropped: { attributes: 3, events: 1, links: 4 },
    }),
    handmadeSpan({
      traceId: traceB,
      spanId: '1111111111111111',
      name: '',
      startMs: BASE_MS + 101,
      endMs: BASE_MS + 102,
      resource,
      scope,
    }),
    handmadeSpan({
      traceId: traceA,
      spanId: 'a0a5b0b59e5b1c01',
      parentSpanId: 'eee19b7ec3c1b174',
      name: 'db write',
      kind: SpanKind.CLIENT,
      startMs: BASE_MS + 110,
      endMs: BASE_MS + 150,
      attributes: { 'db.system': 'postgresql' },
      resource,
      scope,
    }),
    handmadeSpan({
      traceId: traceC,
      spanId: '0000000000000002',
      name: 'ledger append',
      kind: SpanKind.PRODUCER,
      startMs: BASE_MS + 200,
      endMs: BASE_MS + 201,
      resource: other,
      scope: otherScope,
    }),
    handmadeSpan({
      traceId: traceA,
      spanId: 'c1c1c1c1c1c1c1c1',
      parentSpanId: 'a0a5b0b59e5b1c01',
      name: 'ledger check',
      startMs: BASE_MS + 120,
      endMs: BASE_MS + 121,
      resource: other,
      scope: otherScope,
    }),
  ];
}

export function toProtobuf(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error('the SDK protobuf serializer returned nothing');
  return bytes;
}

export function toJson(spans: ReadableSpan[]): Uint8Array {
  const bytes = JsonTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error('the SDK JSON serializer returned nothing');
  return bytes;
}

/** What the decoder should report for a span, computed from the SDK's own span. */
export function expectedView(span: ReadableSpan) {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: parent?.spanId ?? '',
    name: span.name,
    kind: span.kind + 1,
    statusCode: span.status.code,
    traceState: ctx.traceState?.serialize() ?? '',
    // W3C flags in the low byte, then OTLP's "has is-remote" and "is remote" bits.
    flags: (ctx.traceFlags & 0xff) | 0x100 | (parent?.isRemote ? 0x200 : 0),
  };
}

export function hrToMs(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}
