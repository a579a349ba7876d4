import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * ExportTraceServiceRequests serialized by the OpenTelemetry JS SDK, shaped like what reaches
 * the Redis buffer: three services with 14 resource attributes each, two or three
 * instrumentation scopes per service, every trace crossing services, and each service's
 * spans sent in several requests (so a trace arrives in several fragments).
 */
export function sdkRequests(options: { traces?: number } = {}): Uint8Array[] {
  const traces = options.traces ?? 12;
  const services = ['frontend', 'checkout', 'payments'].map((name, i) => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(
        {
          'service.name': name,
          'service.namespace': 'shop',
          'service.version': `2.${i}.1`,
          'service.instance.id': `${name}-6c9d7f-${i}q8zl`,
          'deployment.environment.name': 'production',
          'host.name': `ip-10-0-${i}-21.eu-west-1.compute.internal`,
          'host.arch': 'amd64',
          'os.type': 'linux',
          'process.pid': 4100 + i,
          'process.runtime.name': 'nodejs',
          'process.runtime.version': '20.19.0',
          'telemetry.sdk.language': 'nodejs',
          'k8s.pod.name': `${name}-6c9d7f-${i}q8zl`,
          'k8s.namespace.name': 'shop',
        },
        { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' },
      ),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    return {
      exporter,
      http: provider.getTracer('@opentelemetry/instrumentation-http', '0.57.0'),
      db: provider.getTracer('@opentelemetry/instrumentation-pg', '0.50.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' }),
      app: provider.getTracer(name),
    };
  });

  const base = Date.UTC(2025, 4, 2, 8, 0, 0);
  for (let t = 0; t < traces; t++) {
    const start = base + t * 10;
    const [frontend, checkout, payments] = services;
    const root = frontend.http.startSpan(`GET /cart/${t}`, { kind: SpanKind.SERVER, startTime: start, attributes: { 'http.route': '/cart/:id' } });
    const rootCtx = trace.setSpan(context.active(), root);
    const call = frontend.http.startSpan('POST /checkout', { kind: SpanKind.CLIENT, startTime: start + 1 }, rootCtx);
    const callCtx = trace.setSpan(context.active(), call);
    const server = checkout.http.startSpan('POST /checkout', { kind: SpanKind.SERVER, startTime: start + 1.5 }, callCtx);
    const serverCtx = trace.setSpan(context.active(), server);
    const query = checkout.db.startSpan('SELECT carts', { kind: SpanKind.CLIENT, startTime: start + 2, attributes: { 'db.system': 'postgresql' } }, serverCtx);
    query.end(start + 3.25);
    const work = checkout.app.startSpan('price cart', { startTime: start + 3.5 }, serverCtx);
    work.end(start + 4);
    if (t % 2 === 0) {
      const charge = payments.http.startSpan('POST /charge', { kind: SpanKind.SERVER, startTime: start + 4.5 }, serverCtx);
      if (t % 4 === 0) charge.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
      charge.end(start + 6);
    }
    server.end(start + 7);
    call.end(start + 7.5);
    root.end(start + 8);
  }

  const requests: Uint8Array[] = [];
  for (const service of services) {
    const spans = service.exporter.getFinishedSpans();
    // Three requests per service, cutting through traces, as an SDK's batches would.
    const third = Math.ceil(spans.length / 3);
    for (let i = 0; i < spans.length; i += third) requests.push(serialize(spans.slice(i, i + third)));
  }
  return requests;
}

function serialize(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error('the SDK serializer produced nothing');
  return bytes;
}
