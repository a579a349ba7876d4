import { describe, expect, it } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OtlpDecodeError } from '../../src/errors.js';
import { concatRequests } from '../../src/otlp/concat.js';
import { decodeProtobufRequest, decodeProtobufSpans } from '../../src/otlp/decode-protobuf.js';
import { decodeJsonRequest, protobufRequestToJson } from '../../src/otlp/otlp-json.js';
import { ProtobufSpanView } from '../../src/otlp/span-view.js';
import type { AttrValue, DecodedRequest, SpanView } from '../../src/otlp/types.js';
import {
  expectedView,
  handmadeSpans,
  hrToMs,
  toJson,
  toProtobuf,
  tracerSpans,
} from './sdk-span-fixtures.js';
import {
  SPAN_1,
  SPAN_2,
  TRACE_1,
  cat,
  double,
  fixed32,
  fixed64,
  hex,
  kvString,
  ld,
  request,
  span,
  str,
  tag,
  varint,
  vi,
} from './protobuf-builder.js';

function decoded(buf: Uint8Array): DecodedRequest {
  const result = decodeProtobufRequest(buf);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Everything a view exposes, as plain data, for comparing views of different decodes. */
function describeSpan(view: SpanView) {
  return {
    traceId: view.traceId,
    spanId: view.spanId,
    parentSpanId: view.parentSpanId,
    name: view.name,
    kind: view.kind,
    startMs: view.startMs,
    endMs: view.endMs,
    statusCode: view.statusCode,
    traceState: view.traceState,
    flags: view.flags,
    serviceName: view.serviceName,
    attributes: Object.fromEntries(view.attributes()),
    resourceAttributes: Object.fromEntries(view.resourceAttributes()),
    events: view.events().map((e) => ({ name: e.name, timeMs: e.timeMs, attributes: Object.fromEntries(e.attributes) })),
  };
}

function bySpanId(views: readonly SpanView[]): Map<string, SpanView> {
  return new Map(views.map((v) => [v.spanId, v]));
}

const allSdkSpans = (): ReadableSpan[] => [...tracerSpans(), ...handmadeSpans()];

describe('decodeProtobufRequest against the OpenTelemetry JS SDK serializer', () => {
  const sdkSpans = allSdkSpans();
  const request = decoded(toProtobuf(sdkSpans));
  const views = bySpanId(request.spans);

  it('finds every span', () => {
    expect(request.spanCount).toBe(sdkSpans.length);
    expect(request.spans).toHaveLength(sdkSpans.length);
    expect([...views.keys()].sort()).toEqual(sdkSpans.map((s) => s.spanContext().spanId).sort());
  });

  it('reads ids, name, kind, status, trace state and flags as the SDK had them', () => {
    for (const sdkSpan of sdkSpans) {
      const view = views.get(sdkSpan.spanContext().spanId);
      expect(view).toMatchObject(expectedView(sdkSpan));
    }
  });

  it('reads start and end times to well under a microsecond', () => {
    for (const sdkSpan of sdkSpans) {
      const view = views.get(sdkSpan.spanContext().spanId) as SpanView;
      expect(Math.abs(view.startMs - hrToMs(sdkSpan.startTime))).toBeLessThan(0.0005);
      expect(Math.abs(view.endMs - hrToMs(sdkSpan.endTime))).toBeLessThan(0.0005);
    }
  });

  it('decodes span attributes of every type as the SDK had them', () => {
    for (const sdkSpan of sdkSpans) {
      const view = views.get(sdkSpan.spanContext().spanId) as SpanView;
      expect(Object.fromEntries(view.attributes())).toEqual(sdkSpan.attributes);
      for (const [key, value] of Object.entries(sdkSpan.attributes)) expect(view.attribute(key)).toEqual(value);
    }
    const reserve = [...views.values()].find((v) => v.name === 'reserve') as SpanView;
    expect(reserve.attribute('bytes')).toBeInstanceOf(Uint8Array);
    expect(reserve.attribute('kvlist')).toEqual({ inner: 'v', deeper: { n: 7, list: [1, 'two'] }, 'x.y': 'kept' });
    expect(reserve.attribute('int.negative')).toBe(-(2 ** 40));
    expect(reserve.attribute('missing')).toBeUndefined();
  });

  it('decodes resource attributes, shared by the spans of a resource, and the service name', () => {
    for (const sdkSpan of sdkSpans) {
      const view = views.get(sdkSpan.spanContext().spanId) as SpanView;
      expect(Object.fromEntries(view.resourceAttributes())).toEqual(sdkSpan.resource.attributes);
      expect(view.serviceName).toBe(sdkSpan.resource.attributes['service.name']);
      expect(view.resourceAttribute('service.name')).toBe(sdkSpan.resource.attributes['service.name']);
    }
    const checkout = request.spans.filter((v) => v.serviceName === 'checkout');
    expect(checkout.length).toBeGreaterThan(1);
    for (const view of checkout) expect(view.resourceAttributes()).toBe(checkout[0].resourceAttributes());
  });

  it('decodes events with their times and attributes', () => {
    for (const sdkSpan of sdkSpans) {
      const view = views.get(sdkSpan.spanContext().spanId) as SpanView;
      const events = view.events();
      expect(events.map((e) => e.name)).toEqual(sdkSpan.events.map((e) => e.name));
      events.forEach((event, i) => {
        expect(Math.abs(event.timeMs - hrToMs(sdkSpan.events[i].time))).toBeLessThan(0.0005);
        expect(Object.fromEntries(event.attributes)).toEqual(sdkSpan.events[i].attributes ?? {});
      });
    }
    const query = [...views.values()].find((v) => v.name === 'SELECT orders') as SpanView;
    expect(query.events()).toHaveLength(3);
    expect(query.events()).toBe(query.events());
  });

  it('keeps the spans in request order', () => {
    const again = decoded(toProtobuf(sdkSpans));
    expect(again.spans.map((s) => s.spanId)).toEqual(request.spans.map((s) => s.spanId));
  });

  it('decodes JSON and protobuf from the SDK to the same spans', () => {
    const fromJson = decodeJsonRequest(toJson(sdkSpans));
    if (!fromJson.ok) throw fromJson.error;
    expect(fromJson.value.spans.map(describeSpan)).toEqual(request.spans.map(describeSpan));
    expect(fromJson.value.fragments.map((f) => [f.traceId, f.spanCount, f.hasRoot])).toEqual(
      request.fragments.map((f) => [f.traceId, f.spanCount, f.hasRoot]),
    );
  });
});

describe('lazy attributes', () => {
  it('reads attributes from the buffer on first use and caches them', () => {
    const buf = request(span(TRACE_1, SPAN_1, ld(9, kvString('color', 'red'))));
    const view = decoded(buf).spans[0];
    // The value is read only now, so a change to the buffer shows (why callers must not mutate it).
    const at = Buffer.from(buf).indexOf('red');
    buf[at] = 'b'.charCodeAt(0);
    expect(view.attribute('color')).toBe('bed');
    buf[at] = 'r'.charCodeAt(0);
    expect(view.attribute('color')).toBe('bed');
    expect(view.attributes()).toBe(view.attributes());
  });

  it('keeps the first of duplicate keys and leaves out empty values', () => {
    const view = decoded(
      request(
        span(
          TRACE_1,
          SPAN_1,
          ld(9, kvString('k', 'first')),
          ld(9, kvString('k', 'second')),
          ld(9, str(1, 'empty'), ld(2)),
          ld(9, str(1, 'profiles-only'), ld(2, vi(8, 3))),
          ld(9, str(1, 'list'), ld(2, ld(5, ld(1, str(1, 'a')), ld(1), ld(1, vi(2, 1))))),
        ),
      ),
    ).spans[0];
    expect(Object.fromEntries(view.attributes())).toEqual({ k: 'first', list: ['a', true] });
  });

  it('decodes every AnyValue type, with the last of several oneof fields winning', () => {
    const view = decoded(
      request(
        span(
          TRACE_1,
          SPAN_1,
          ld(9, str(1, 'max'), ld(2, vi(3, 2n ** 63n - 1n))),
          ld(9, str(1, 'min'), ld(2, vi(3, -(2n ** 63n)))),
          ld(9, str(1, 'minus one'), ld(2, vi(3, -1))),
          ld(9, str(1, 'bool'), ld(2, vi(2, 1))),
          ld(9, str(1, 'nan'), ld(2, double(4, NaN))),
          ld(9, str(1, 'bytes'), ld(2, ld(7, Uint8Array.of(9, 8)))),
          ld(9, str(1, 'last wins'), ld(2, str(1, 'text'), vi(3, 5))),
          ld(9, str(1, 'proto'), ld(2, ld(6, ld(1, kvString('__proto__', 'plain key'))))),
        ),
      ),
    ).spans[0];
    expect(view.attribute('max')).toBe(2 ** 63);
    expect(view.attribute('min')).toBe(-(2 ** 63));
    expect(view.attribute('minus one')).toBe(-1);
    expect(view.attribute('bool')).toBe(true);
    expect(view.attribute('nan')).toBeNaN();
    expect(view.attribute('bytes')).toEqual(Uint8Array.of(9, 8));
    expect(view.attribute('last wins')).toBe(5);
    const proto = view.attribute('proto') as Record<string, AttrValue>;
    expect(Object.getPrototypeOf(proto)).toBeNull();
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(proto['__proto__']).toBe('plain key');
  });

  it('merges repeated Resource and Status messages as protobuf does', () => {
    const buf = ld(
      1,
      ld(1, ld(1, kvString('service.name', 'svc'))),
      ld(2, ld(2, span(TRACE_1, SPAN_1, ld(15, vi(3, 2)), ld(15, str(2, 'message only'))))),
      ld(1, ld(1, kvString('zone', 'b'))),
    );
    const view = decoded(buf).spans[0];
    expect(Object.fromEntries(view.resourceAttributes())).toEqual({ 'service.name': 'svc', zone: 'b' });
    expect(view.serviceName).toBe('svc');
    expect(view.statusCode).toBe(2);
  });
});

describe('span ids and times', () => {
  it('treats an all-zero parent span id as no parent', () => {
    const result = decoded(request(span(TRACE_1, SPAN_1, ld(4, new Uint8Array(8)))));
    expect(result.spans[0].parentSpanId).toBe('');
    expect(result.fragments[0].hasRoot).toBe(true);
  });

  it('accepts ids in any byte values and writes lowercase hex', () => {
    const view = decoded(request(span('FFEEDDCCBBAA99887766554433221100', 'ABCDEF0123456789', ld(4, hex('0000000000000001'))))).spans[0];
    expect(view.traceId).toBe('ffeeddccbbaa99887766554433221100');
    expect(view.spanId).toBe('abcdef0123456789');
    expect(view.parentSpanId).toBe('0000000000000001');
  });

  it('converts fixed64 nanoseconds above 2^53 to milliseconds', () => {
    const ns = 1741944413589123456n;
    const view = decoded(request(span(TRACE_1, SPAN_1, fixed64(7, ns), fixed64(8, ns + 1_500_000n), fixed32(16, 0x301)))).spans[0];
    expect(Math.abs(view.startMs - (1741944413589 + 0.123456))).toBeLessThan(0.0005);
    expect(Math.abs(view.endMs - view.startMs - 1.5)).toBeLessThan(0.0005);
    expect(view.flags).toBe(0x301);
  });
});

describe('long fields', () => {
  it('reads fields whose length takes several bytes', () => {
    const name = 'n'.repeat(200);
    const state = `vendor=${'s'.repeat(300)}`;
    const event = ld(11, fixed64(1, 2_000_000n), str(2, 'e'.repeat(150)), ld(3, kvString('big', 'v'.repeat(5000))));
    const link = ld(13, ld(1, hex(TRACE_1)), ld(2, hex(SPAN_2)), ld(4, kvString('why', 'w'.repeat(400))));
    const status = ld(15, str(2, 'm'.repeat(1000)), vi(3, 2));
    const view = decoded(request(span(TRACE_1, SPAN_1, str(5, name), str(3, state), event, link, status, fixed32(16, 1)))).spans[0];
    expect(view.name).toBe(name);
    expect(view.traceState).toBe(state);
    expect(view.statusCode).toBe(2);
    expect(view.flags).toBe(1);
    expect(view.events()[0].name).toBe('e'.repeat(150));
    expect(view.events()[0].attributes.get('big')).toBe('v'.repeat(5000));
  });
});

describe('unknown fields', () => {
  // One unknown field of every wire type, with field numbers past what OTLP defines.
  const unknown = cat(vi(900, 7), fixed64(901, 1n), ld(902, str(1, 'future')), fixed32(903, 5));

  const buf = cat(
    unknown,
    ld(
      1,
      unknown,
      ld(1, unknown, ld(1, kvString('service.name', 'svc'), unknown), ld(3, str(2, 'service'), unknown)),
      ld(
        2,
        unknown,
        ld(1, str(1, 'scope'), unknown, ld(3, kvString('scope.attr', 'x'))),
        ld(
          2,
          span(
            TRACE_1,
            SPAN_1,
            unknown,
            str(5, 'op'),
            ld(9, str(1, 'k'), unknown, ld(2, unknown, str(1, 'v'))),
            ld(11, fixed64(1, 1_000_000n), str(2, 'event'), unknown, ld(3, kvString('e', '1'))),
            ld(13, ld(1, hex(TRACE_1)), ld(2, hex(SPAN_2)), unknown),
            ld(15, unknown, vi(3, 1), vi(1, 2)),
          ),
        ),
        str(3, 'https://schema/scope'),
      ),
      str(3, 'https://schema/resource'),
    ),
  );

  it('are skipped at every level', () => {
    const view = decoded(buf).spans[0];
    expect(view.name).toBe('op');
    expect(view.statusCode).toBe(1);
    expect(view.serviceName).toBe('svc');
    expect(view.attribute('k')).toBe('v');
    expect(view.events()).toEqual([{ name: 'event', timeMs: 1, attributes: new Map([['e', '1']]) }]);
  });

  it('travel with the resource, scope and span bytes into the fragment', () => {
    const fragment = decoded(buf).fragments[0];
    const text = Buffer.from(fragment.bytes);
    // Three copies: ResourceSpans, ScopeSpans and Span level (the request level is not part of a fragment).
    let copies = 0;
    for (let at = text.indexOf(unknown); at >= 0; at = text.indexOf(unknown, at + 1)) copies++;
    expect(copies).toBeGreaterThanOrEqual(3);
    const json = protobufRequestToJson(fragment.bytes);
    expect(json.resourceSpans?.[0].schemaUrl).toBe('https://schema/resource');
    expect(json.resourceSpans?.[0].scopeSpans?.[0].schemaUrl).toBe('https://schema/scope');
    expect(json.resourceSpans?.[0].scopeSpans?.[0].scope?.name).toBe('scope');
    expect(json.resourceSpans?.[0].resource?.entityRefs).toEqual([{ type: 'service' }]);
  });
});

describe('fragments', () => {
  const sdkSpans = allSdkSpans();
  const original = decoded(toProtobuf(sdkSpans));

  it('hold one fragment per trace, in first-seen order, each with exactly its spans', () => {
    const firstSeen = [...new Set(original.spans.map((s) => s.traceId))];
    expect(original.fragments.map((f) => f.traceId)).toEqual(firstSeen);
    for (const fragment of original.fragments) {
      const expected = original.spans.filter((s) => s.traceId === fragment.traceId);
      const inside = decoded(fragment.bytes);
      expect(inside.spans.map((s) => s.traceId)).toEqual(expected.map(() => fragment.traceId));
      expect(inside.spans.map(describeSpan)).toEqual(expected.map(describeSpan));
      expect(fragment.spanCount).toBe(expected.length);
      expect(fragment.hasRoot).toBe(expected.some((s) => s.parentSpanId === ''));
    }
  });

  it('concatenate into a request that decodes to the same spans, byte for byte', () => {
    const joined = decoded(concatRequests(original.fragments.map((f) => f.bytes)));
    expect(joined.spanCount).toBe(original.spanCount);
    const originals = bySpanId(original.spans);
    for (const view of joined.spans) {
      const before = originals.get(view.spanId) as ProtobufSpanView;
      expect(describeSpan(view)).toEqual(describeSpan(before));
      expect(view).toBeInstanceOf(ProtobufSpanView);
      expect((view as ProtobufSpanView).bytes()).toEqual(before.bytes());
    }
    expect(joined.fragments.map((f) => f.traceId)).toEqual(original.fragments.map((f) => f.traceId));
    expect(joined.fragments.map((f) => f.bytes)).toEqual(original.fragments.map((f) => f.bytes));
  });

  it('carry the resource and scope of their spans', () => {
    const json = protobufRequestToJson(concatRequests(original.fragments.map((f) => f.bytes)));
    const pairs = new Set<string>();
    for (const rs of json.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue;
          pairs.add(`${s.spanId} ${service} ${ss.scope?.name}@${ss.scope?.version ?? ''} ${ss.schemaUrl ?? ''} ${rs.schemaUrl ?? ''}`);
        }
      }
    }
    const expected = new Set(
      sdkSpans.map(
        (s) =>
          `${s.spanContext().spanId} ${s.resource.attributes['service.name']} ${s.instrumentationScope.name}@` +
          `${s.instrumentationScope.version ?? ''} ${s.instrumentationScope.schemaUrl ?? ''} ${s.resource.schemaUrl ?? ''}`,
      ),
    );
    expect(pairs).toEqual(expected);
  });

  it('copy spans whose length was not minimally encoded', () => {
    const a = span(TRACE_1, SPAN_1, str(5, 'a'));
    const b = span(TRACE_1, SPAN_2, str(5, 'b'));
    // Span b's length as a two-byte varint: valid protobuf, but not what a writer emits.
    const padded = cat(tag(2, 2), Uint8Array.of(0x80 | b.length, 0x00), b);
    const buf = ld(1, ld(2, ld(2, a), padded, ld(2, a)));
    const result = decoded(buf);
    const inside = decoded(result.fragments[0].bytes);
    expect(inside.spans.map((s) => s.name)).toEqual(['a', 'b', 'a']);
    expect(result.fragments[0].bytes.length).toBe(buf.length - 1);
  });

  it('are fresh copies, independent of the request buffer', () => {
    const buf = toProtobuf(sdkSpans);
    const result = decoded(buf);
    const copy = result.fragments.map((f) => Uint8Array.from(f.bytes));
    buf.fill(0);
    expect(result.fragments.map((f) => Uint8Array.from(f.bytes))).toEqual(copy);
  });

  it('are bounded in size: a large resource repeated for many traces is rejected', () => {
    const resource = ld(1, ld(1, kvString('big', 'x'.repeat(20_000))));
    const spans: Uint8Array[] = [];
    for (let i = 1; i <= 200; i++) spans.push(ld(2, span(i.toString(16).padStart(32, '0'), SPAN_1)));
    const buf = ld(1, resource, ld(2, ...spans));
    const result = decodeProtobufRequest(buf);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/splitting the request by trace would take \d+ bytes/);
    const allowed = decodeProtobufRequest(buf, { maxExpansion: 1000 });
    expect(allowed.ok && allowed.value.fragments.length).toBe(200);
  });

  it('are not built by decodeProtobufSpans', () => {
    const result = decodeProtobufSpans(toProtobuf(sdkSpans));
    expect(result.ok && result.value.fragments).toEqual([]);
    expect(result.ok && result.value.spans.map((s) => s.spanId)).toEqual(original.spans.map((s) => s.spanId));
  });
});

describe('edge cases of the request', () => {
  it('decodes an empty request', () => {
    expect(decoded(new Uint8Array(0))).toEqual({ spans: [], fragments: [], spanCount: 0 });
  });

  it('drops resources and scopes without spans from the fragments', () => {
    const buf = cat(ld(1, ld(1, ld(1, kvString('service.name', 'idle')))), request(span(TRACE_1, SPAN_1)), ld(1, ld(2, ld(1))));
    const result = decoded(buf);
    expect(result.fragments).toHaveLength(1);
    expect(decoded(result.fragments[0].bytes).spans[0].serviceName).toBe('');
  });

  it('returns errors as values, never throws', () => {
    const result = decodeProtobufRequest(Uint8Array.of(0x0a, 0x05, 0x12));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(OtlpDecodeError);
  });

  it('reads long varints for enums and lengths', () => {
    // kind 2 written as a 10-byte varint (how a negative int32 would look, but positive).
    const longKind = cat(tag(6, 0), Uint8Array.of(0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
    const view = decoded(request(span(TRACE_1, SPAN_1, longKind, vi(6, 3), cat(tag(6, 0), varint(-1))))).spans[0];
    expect(view.kind).toBe(-1);
  });
});
