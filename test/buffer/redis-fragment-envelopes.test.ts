import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactFragment, compactLayout, rebuildFragment, referencedDigests } from '../../src/buffer/redis/fragment-envelopes.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import type { TraceFragment } from '../../src/otlp/types.js';
import { sdkRequests } from './redis-otlp-requests.js';
import { generatedRequest } from '../otlp/request-arbitrary.js';

function sdkFragments(): TraceFragment[] {
  return sdkRequests({ traces: 6 }).flatMap((request) => {
    const decoded = decodeProtobufRequest(request);
    if (!decoded.ok) throw decoded.error;
    return [...decoded.value.fragments];
  });
}

const ANY_TRACE = '0af7651916cd43dd8448eb211c80319c';

function roundTrip(bytes: Uint8Array, traceId = ANY_TRACE): { rebuilt: Uint8Array; recordLength: number; envelopes: number } {
  const { record, envelopes } = compactFragment(bytes, traceId);
  const byDigest = new Map(envelopes.map((e) => [e.digest, e.bytes]));
  const rebuilt = rebuildFragment(record, traceId, (d) => byDigest.get(d));
  expect(rebuilt.missing).toBe(0);
  return { rebuilt: rebuilt.bytes, recordLength: record.length, envelopes: envelopes.length };
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(tag: number, payload: number[]): number[] {
  return [tag, ...varint(payload.length), ...payload];
}

function spanBytes(span: { traceIdField: string; rest: number[] }): number[] {
  if (span.traceIdField === 'none') return span.rest;
  const id = span.traceIdField === 'own' ? ANY_TRACE : 'ffffffffffffffffffffffffffffffff';
  return [...field(0x0a, Array.from(Buffer.from(id, 'hex'))), ...span.rest];
}

/** A fragment-shaped run: resources with envelope fields, scopes, span fields. */
const structuredFragment = fc
  .array(
    fc.record({
      resource: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 80 }),
      scopes: fc.array(
        fc.record({
          scope: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
          spans: fc.array(
            fc.record({
              // The span's own trace id first (elided in storage), another trace's, or none.
              traceIdField: fc.constantFrom('own', 'other', 'none'),
              rest: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 }),
            }),
            { maxLength: 4 },
          ),
        }),
        { maxLength: 3 },
      ),
    }),
    { maxLength: 3 },
  )
  .map((resources) =>
    Uint8Array.from(
      resources.flatMap((r) =>
        field(0x0a, [
          ...field(0x0a, r.resource),
          ...r.scopes.flatMap((s) => field(0x12, [...field(0x0a, s.scope), ...s.spans.flatMap((span) => field(0x12, spanBytes(span)))])),
        ]),
      ),
    ),
  );

describe('Redis buffer: compact fragments', () => {
  it('stores SDK fragments without their Resource and rebuilds them byte for byte', () => {
    const fragments = sdkFragments();
    expect(fragments.length).toBeGreaterThan(10);
    for (const f of fragments) {
      const { rebuilt, recordLength, envelopes } = roundTrip(f.bytes, f.traceId);
      expect(Buffer.compare(Buffer.from(rebuilt), Buffer.from(f.bytes))).toBe(0);
      expect(envelopes).toBeGreaterThan(0);
      // 14 resource attributes are several hundred bytes, a reference is 17; each span's
      // trace id (18 bytes) is left out.
      expect(f.bytes.length - recordLength).toBeGreaterThan(300 + 16 * f.spanCount);
    }
  });

  it('compacts a split fragment from its layout into the very record its bytes give', () => {
    const same = (f: TraceFragment): void => {
      if (f.layout === undefined) throw new Error('a split fragment has a layout');
      const fromLayout = compactLayout(f.layout, f.traceId);
      const fromBytes = compactFragment(f.bytes, f.traceId);
      expect(Buffer.from(fromLayout.record).equals(fromBytes.record)).toBe(true);
      expect(fromLayout.envelopes.map((e) => [e.digest, Array.from(e.bytes)])).toEqual(
        fromBytes.envelopes.map((e) => [e.digest, Array.from(e.bytes)]),
      );
    };
    const fragments = sdkFragments();
    expect(fragments.some((f) => compactFragment(f.bytes, f.traceId).envelopes.length > 0)).toBe(true);
    for (const f of fragments) same(f);
    fc.assert(
      fc.property(generatedRequest, (request) => {
        const decoded = decodeProtobufRequest(request.bytes);
        if (!decoded.ok) throw decoded.error;
        for (const f of decoded.value.fragments) same(f);
      }),
      { numRuns: 150 },
    );
  });

  it('shares one envelope among the fragments of one resource', () => {
    const fragments = sdkFragments();
    const digests = new Set(fragments.flatMap((f) => referencedDigests(compactFragment(f.bytes, f.traceId).record)));
    // One per resource and set of scopes seen together: far fewer than fragments.
    expect(fragments.length).toBeGreaterThan(3 * digests.size);
  });

  it('rebuilds any fragment-shaped run exactly, in compact form', () => {
    fc.assert(
      fc.property(structuredFragment, (bytes) => {
        const { record } = compactFragment(bytes, ANY_TRACE);
        expect(record[0]).toBe(0x01);
        expect(Array.from(roundTrip(bytes).rebuilt)).toEqual(Array.from(bytes));
      }),
    );
  });

  it('keeps arbitrary bytes as they came', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(Array.from(roundTrip(bytes).rebuilt)).toEqual(Array.from(bytes));
      }),
    );
  });

  it('stores raw what a rebuild would change: a length not in its shortest form', () => {
    // resource_spans with a two-byte length 0x85 0x00 (= 5): valid protobuf, not minimal.
    const bytes = Uint8Array.from([0x0a, 0x85, 0x00, 0x0a, 0x03, 0x01, 0x02, 0x03]);
    expect(compactFragment(bytes, ANY_TRACE).record[0]).toBe(0x00);
    expect(Array.from(roundTrip(bytes).rebuilt)).toEqual(Array.from(bytes));
  });

  it('delivers the spans of a fragment whose envelope is gone, and says so', () => {
    const f = sdkFragments()[0];
    const { record } = compactFragment(f.bytes, f.traceId);
    const rebuilt = rebuildFragment(record, f.traceId, () => undefined);
    expect(rebuilt.missing).toBeGreaterThan(0);
    const decoded = decodeProtobufRequest(rebuilt.bytes);
    if (!decoded.ok) throw decoded.error;
    expect(decoded.value.spanCount).toBe(f.spanCount);
    expect(decoded.value.spans[0].serviceName).toBe('');
  });
});
