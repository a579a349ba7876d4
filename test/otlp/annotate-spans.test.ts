import { describe, expect, it } from 'vitest';
import { annotateSpans } from '../../src/otlp/annotate-spans.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { protobufRequestToJson } from '../../src/otlp/otlp-json.js';
import type { OtlpJsonRequest } from '../../src/otlp/otlp-json.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { SPAN_1, SPAN_2, TRACE_1, cat, double, fixed64, kvString, ld, span, str, vi } from './protobuf-builder.js';
import { toProtobuf, tracerSpans } from './sdk-span-fixtures.js';

const REASONS = [
  { key: 'tailsampling.policy', value: 'errors' },
  { key: 'tailsift.sample_rate', value: 20 },
];

/** The attributes fields REASONS must become, built independently of the code under test. */
const REASON_FIELDS = cat(ld(9, kvString('tailsampling.policy', 'errors')), ld(9, str(1, 'tailsift.sample_rate'), ld(2, double(4, 20))));

function decoded(bytes: Uint8Array): DecodedRequest {
  const result = decodeProtobufRequest(bytes);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Removes the given attribute keys from every span of an OTLP/JSON request. */
function withoutSpanAttributes(json: OtlpJsonRequest, keys: readonly string[]): OtlpJsonRequest {
  return {
    ...json,
    resourceSpans: json.resourceSpans?.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans?.map((ss) => ({
        ...ss,
        spans: ss.spans?.map((s) => {
          const attributes = s.attributes?.filter((a) => !keys.includes(a.key ?? ''));
          const { attributes: _dropped, ...rest } = s;
          return attributes && attributes.length > 0 ? { ...rest, attributes } : rest;
        }),
      })),
    })),
  };
}

describe('annotateSpans', () => {
  const request = toProtobuf(tracerSpans());
  const fragments = decoded(request).fragments;

  it('adds the attributes to every span of every fragment; the project decoder reads them, and everything else, back', () => {
    expect(fragments.length).toBeGreaterThan(1);
    for (const fragment of fragments) {
      const before = decoded(fragment.bytes).spans;
      const after = decoded(annotateSpans(fragment.bytes, REASONS)).spans;
      expect(after).toHaveLength(before.length);
      after.forEach((span, i) => {
        const original = before[i];
        expect([span.traceId, span.spanId, span.parentSpanId, span.name, span.kind, span.startMs, span.endMs, span.statusCode]).toEqual([
          original.traceId,
          original.spanId,
          original.parentSpanId,
          original.name,
          original.kind,
          original.startMs,
          original.endMs,
          original.statusCode,
        ]);
        expect(span.attribute('tailsampling.policy')).toBe('errors');
        expect(span.attribute('tailsift.sample_rate')).toBe(20);
        expect(new Map([...span.attributes()].filter(([key]) => !key.startsWith('tails')))).toEqual(original.attributes());
        expect(span.resourceAttributes()).toEqual(original.resourceAttributes());
        expect(span.events()).toEqual(original.events());
      });
    }
  });

  it('gives the same request as protobufjs sees it, plus the attributes at the end of each span', () => {
    for (const fragment of fragments) {
      const before = protobufRequestToJson(fragment.bytes);
      const after = protobufRequestToJson(annotateSpans(fragment.bytes, REASONS));
      expect(withoutSpanAttributes(after, ['tailsampling.policy', 'tailsift.sample_rate'])).toEqual(
        withoutSpanAttributes(before, ['tailsampling.policy', 'tailsift.sample_rate']),
      );
      for (const rs of after.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            expect(s.attributes?.slice(-2)).toEqual([
              { key: 'tailsampling.policy', value: { stringValue: 'errors' } },
              { key: 'tailsift.sample_rate', value: { doubleValue: 20 } },
            ]);
          }
        }
      }
    }
  });

  it('annotates a whole request as well as a fragment', () => {
    const annotated = decoded(annotateSpans(request, REASONS));
    expect(annotated.spanCount).toBe(decoded(request).spanCount);
    expect(annotated.spans.every((s) => s.attribute('tailsampling.policy') === 'errors')).toBe(true);
  });

  it('changes nothing but the spans it appends to and the lengths around them, byte for byte', () => {
    const resource = ld(1, ld(1, kvString('service.name', 'checkout')), vi(2, 3));
    const scope = ld(1, str(1, 'tracer'), str(2, '1.0.0'));
    const first = span(TRACE_1, SPAN_1, str(5, 'GET /'), fixed64(7, 1n), fixed64(8, 2n), ld(9, kvString('http.route', '/')));
    // An unknown field inside a span, after the attributes, must stay where it is.
    const second = span(TRACE_1, SPAN_2, str(5, 'db'), ld(99, str(1, 'future field')));
    const input = cat(
      ld(1, resource, ld(2, scope, ld(2, first), ld(2, second), str(3, 'https://scope-schema')), str(3, 'https://resource-schema')),
      ld(1, resource, ld(2, ld(2, second))),
    );
    const expected = cat(
      ld(1, resource, ld(2, scope, ld(2, first, REASON_FIELDS), ld(2, second, REASON_FIELDS), str(3, 'https://scope-schema')), str(3, 'https://resource-schema')),
      ld(1, resource, ld(2, ld(2, second, REASON_FIELDS))),
    );
    expect(annotateSpans(input, REASONS)).toEqual(expected);
  });

  it('rewrites lengths that need more bytes once the attributes are in', () => {
    // A span of 120 bytes has a one-byte length; with the attributes it needs two, and so do
    // the ScopeSpans and ResourceSpans around it.
    const padding = 'x'.repeat(120 - span(TRACE_1, SPAN_1).length - 4);
    const long = span(TRACE_1, SPAN_1, str(5, padding));
    expect(long.length).toBe(120 - 2);
    const input = ld(1, ld(2, ld(2, long)));
    const annotated = annotateSpans(input, REASONS);
    expect(annotated).toEqual(ld(1, ld(2, ld(2, long, REASON_FIELDS))));
    expect(decoded(annotated).spans[0].name).toBe(padding);
  });

  it('replaces an attribute that already has one of the keys, keeping the others in order', () => {
    const kept = ld(9, kvString('http.route', '/'));
    const old = ld(9, kvString('tailsampling.policy', 'an-earlier-policy'));
    const input = ld(1, ld(2, ld(2, span(TRACE_1, SPAN_1, kept, old, ld(9, kvString('peer', 'db'))))));
    const annotated = annotateSpans(input, REASONS);
    expect(annotated).toEqual(ld(1, ld(2, ld(2, span(TRACE_1, SPAN_1, kept, ld(9, kvString('peer', 'db')), REASON_FIELDS)))));
    const json = protobufRequestToJson(annotated);
    expect(json.resourceSpans?.[0].scopeSpans?.[0].spans?.[0].attributes?.map((a) => a.key)).toEqual([
      'http.route',
      'peer',
      'tailsampling.policy',
      'tailsift.sample_rate',
    ]);
  });

  it('recognises the key wherever the KeyValue has it', () => {
    // Value before key is unusual but valid protobuf.
    const valueFirst = ld(9, ld(2, str(1, 'old')), str(1, 'tailsift.sample_rate'));
    const otherKey = ld(9, ld(2, str(1, 'x')), str(1, 'tailsift.sample_rates'));
    const input = ld(1, ld(2, ld(2, span(TRACE_1, SPAN_1, valueFirst, otherKey))));
    expect(annotateSpans(input, REASONS)).toEqual(ld(1, ld(2, ld(2, span(TRACE_1, SPAN_1, otherKey, REASON_FIELDS)))));
  });

  it('returns the input untouched when there is nothing to add', () => {
    expect(annotateSpans(request, [])).toBe(request);
  });

  it('writes UTF-8 keys and values', () => {
    const input = ld(1, ld(2, ld(2, span(TRACE_1, SPAN_1))));
    const annotated = decoded(annotateSpans(input, [{ key: 'tailsampling.policy', value: 'fehler-ü-🚨' }]));
    expect(annotated.spans[0].attribute('tailsampling.policy')).toBe('fehler-ü-🚨');
  });

  it('refuses bytes that are not a request', () => {
    expect(() => annotateSpans(Uint8Array.from([0x0a, 0x05, 0x12]), REASONS)).toThrow(/past the end/);
  });
});
