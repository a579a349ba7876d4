import { describe, expect, it } from 'vitest';
import type { KeptBatch, TraceSink } from '../../src/forward/sink.js';
import { concatRequests, decodeProtobufRequest, jsonRequestToProtobuf } from '../../src/otlp/index.js';
import type { SpanAttribute } from '../../src/otlp/annotate-spans.js';
import { AnomalyAttributesSink, annotateByTrace } from '../../src/replay/anomaly-attributes-sink.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

function span(traceId: string, spanId: string, name: string) {
  return {
    traceId,
    spanId,
    name,
    kind: 2,
    startTimeUnixNano: '1714564800000000000',
    endTimeUnixNano: '1714564800100000000',
    attributes: [{ key: 'http.route', value: { stringValue: `/${name}` } }],
  };
}

/** Two services, whose requests interleave spans of traces A and B. */
const REQUEST = jsonRequestToProtobuf({
  resourceSpans: ['frontend', 'currency'].map((service, i) => ({
    resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
    scopeSpans: [{ scope: { name: 'lib' }, spans: [span(A, `a${i}00000000000000`, `${service}-a`), span(B, `b${i}00000000000000`, `${service}-b`)] }],
  })),
});

/** The trace fragments of REQUEST joined as the decision loop joins a kept batch. */
function keptBatch(): Uint8Array {
  const decoded = decodeProtobufRequest(REQUEST);
  if (!decoded.ok) throw decoded.error;
  return concatRequests(decoded.value.fragments.map((f) => f.bytes));
}

const ANOMALY: SpanAttribute[] = [
  { key: 'tailsift.anomaly.score', value: 7.5 },
  { key: 'tailsift.anomaly.reason', value: 'currency "convert" 2.1s; baseline p50 4ms' },
];

describe('anomaly attributes on kept batches', () => {
  it('annotates every span of the anomalous trace and leaves the other trace as it was', () => {
    const batch = keptBatch();
    const out = annotateByTrace(batch, new Map([[A, ANOMALY]]));
    const decoded = decodeProtobufRequest(out);
    if (!decoded.ok) throw decoded.error;
    const spans = decoded.value.spans;
    expect(spans).toHaveLength(4);
    for (const s of spans) {
      expect(s.attribute('http.route')).toBe(`/${s.name}`);
      if (s.traceId === A) {
        expect(s.attribute('tailsift.anomaly.score')).toBe(7.5);
        expect(s.attribute('tailsift.anomaly.reason')).toBe(ANOMALY[1].value);
      } else {
        expect(s.attribute('tailsift.anomaly.score')).toBeUndefined();
      }
    }
    // Trace B's fragment is copied byte for byte.
    const original = decodeProtobufRequest(REQUEST);
    if (!original.ok) throw original.error;
    const b = original.value.fragments.find((f) => f.traceId === B)?.bytes ?? new Uint8Array();
    expect(Buffer.from(out).includes(Buffer.from(b))).toBe(true);
  });

  it('passes a batch without anomalous traces through untouched', async () => {
    const batch = keptBatch();
    expect(annotateByTrace(batch, new Map([['cccccccccccccccccccccccccccccccc', ANOMALY]]))).toBe(batch);

    const sent: KeptBatch[] = [];
    const inner: TraceSink = { name: 'memory', send: async (b) => void sent.push(b), close: async () => undefined };
    const attributes = new Map<string, readonly SpanAttribute[]>();
    const sink = new AnomalyAttributesSink(inner, attributes);
    await sink.send({ request: batch, traceCount: 2, spanCount: 4 });
    attributes.set(B, ANOMALY);
    await sink.send({ request: batch, traceCount: 2, spanCount: 4 });
    expect(sent[0].request).toBe(batch);
    expect(sent[1]).toMatchObject({ traceCount: 2, spanCount: 4 });
    const decoded = decodeProtobufRequest(sent[1].request);
    if (!decoded.ok) throw decoded.error;
    expect(decoded.value.spans.filter((s) => s.attribute('tailsift.anomaly.score') === 7.5).map((s) => s.traceId)).toEqual([B, B]);
    expect(sink.name).toBe('memory');
  });
});
