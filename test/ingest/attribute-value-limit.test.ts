import { describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { truncateAttributeValues } from '../../src/ingest/attribute-value-limit.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { ExportTraceServiceRequestType } from '../../src/otlp/otlp-schema.js';
import type { DecodedRequest } from '../../src/otlp/types.js';

/** One trace from the SDK with long values in every place attributes live. */
function request(): DecodedRequest {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'host.description': 'r'.repeat(40) }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('test');
  const root = tracer.startSpan('GET /orders', {
    attributes: {
      'db.statement': 'SELECT * FROM orders WHERE id IN (' + '1,'.repeat(30) + '2)',
      short: 'ok',
      count: 1234567,
      'app.tags': ['x'.repeat(25), 'y'],
      // 10 characters, 30 bytes: the cut must fall between characters, not inside one.
      'app.emoji': '€€€€€€€€€€',
    },
  });
  root.addEvent('exception', { 'exception.stacktrace': 'Error: boom\n    at x (a.js:1:1)\n'.repeat(4) });
  const child = tracer.startSpan('db', { links: [{ context: root.spanContext(), attributes: { note: 'n'.repeat(50) } }] }, trace.setSpan(context.active(), root));
  child.end();
  root.end();
  const bytes = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
  const decoded = decodeProtobufRequest(bytes as Uint8Array);
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}

describe('truncateAttributeValues', () => {
  const original = request();
  const fragment = original.fragments[0];

  it('cuts long values of spans, events, links and resources to the limit and leaves the rest', () => {
    const { bytes, values } = truncateAttributeValues(fragment.bytes, 8);
    // db.statement, app.tags[0], app.emoji, the event's stack trace, the link's note, host.description.
    expect(values).toBe(6);
    const decoded = decodeProtobufRequest(bytes);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const root = decoded.value.spans.find((s) => s.name === 'GET /orders');
    const child = decoded.value.spans.find((s) => s.name === 'db');
    expect(root?.attribute('db.statement')).toBe('SELECT *');
    expect(root?.attribute('short')).toBe('ok');
    expect(root?.attribute('count')).toBe(1234567);
    expect(root?.attribute('app.tags')).toEqual(['xxxxxxxx', 'y']);
    expect(root?.attribute('app.emoji')).toBe('€€€€€€€€');
    expect(root?.resourceAttribute('host.description')).toBe('rrrrrrrr');
    expect(root?.resourceAttribute('service.name')).toBe('checkout');
    expect(root?.events()[0].attributes.get('exception.stacktrace')).toBe('Error: b');
    // Links are not read by the selective decoder: check them with the full schema.
    const full = ExportTraceServiceRequestType.toObject(ExportTraceServiceRequestType.decode(bytes)) as {
      resourceSpans: { scopeSpans: { spans: { name: string; links?: { attributes: { value: { stringValue: string } }[] }[] }[] }[] }[];
    };
    const linked = full.resourceSpans[0].scopeSpans[0].spans.find((s) => s.name === 'db');
    expect(linked?.links?.[0].attributes[0].value.stringValue).toBe('nnnnnnnn');
    expect(child?.spanId).toBe(original.spans.find((s) => s.name === 'db')?.spanId);
  });

  it('returns the input itself when nothing is longer than the limit', () => {
    const result = truncateAttributeValues(fragment.bytes, 1000);
    expect(result.values).toBe(0);
    expect(result.bytes).toBe(fragment.bytes);
  });

  it('does nothing with no limit', () => {
    expect(truncateAttributeValues(fragment.bytes, 0).bytes).toBe(fragment.bytes);
  });

  it('keeps every span, id and time as they were', () => {
    const { bytes } = truncateAttributeValues(fragment.bytes, 3);
    const decoded = decodeProtobufRequest(bytes);
    if (!decoded.ok) throw decoded.error;
    const summary = (r: DecodedRequest) => r.spans.map((s) => [s.traceId, s.spanId, s.parentSpanId, s.name, s.startMs, s.endMs, s.statusCode]);
    expect(summary(decoded.value)).toEqual(summary(original));
  });
});
