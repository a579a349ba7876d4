/**
 * A fast-check arbitrary for whole ExportTraceServiceRequests together with what a correct
 * decoder must read from them: random field order, lengths long enough to need multi-byte
 * varints, every AnyValue type nested, negative enums, 64-bit times, unknown fields, and
 * trace ids shared across resources so that grouping has work to do.
 */
import fc from 'fast-check';
import type { AttrValue } from '../../src/otlp/types.js';
import { cat, double, fixed32, fixed64, ld, str, vi } from './protobuf-builder.js';
import type { Bytes } from './protobuf-builder.js';

export interface ExpectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  statusCode: number;
  traceState: string;
  flags: number;
  attributes: Record<string, AttrValue>;
  events: { name: string; timeNs: bigint; attributes: Record<string, AttrValue> }[];
  resourceAttributes: Record<string, AttrValue>;
}

export interface GeneratedRequest {
  bytes: Uint8Array;
  spans: ExpectedSpan[];
}

type Encoded<T> = { value: T; bytes: Bytes };

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const nonZero = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).filter((b) => b.some((x) => x !== 0));
const text = fc.string({ maxLength: 160, unit: 'grapheme' });
const longText = fc.oneof(text, fc.string({ minLength: 120, maxLength: 400 }));

/** Fields no OTLP version defines, of every wire type. */
const unknownField = fc.oneof(
  fc.tuple(fc.integer({ min: 100, max: 5000 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([f, v]) => vi(f, v)),
  fc.tuple(fc.integer({ min: 100, max: 5000 }), fc.uint8Array({ maxLength: 300 })).map(([f, b]) => ld(f, b)),
  fc.tuple(fc.integer({ min: 100, max: 5000 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([f, v]) => fixed64(f, v)),
  fc.tuple(fc.integer({ min: 100, max: 5000 }), fc.nat()).map(([f, v]) => fixed32(f, v)),
);

const { anyValue } = fc.letrec<{ anyValue: Encoded<AttrValue> }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    longText.map((s) => ({ value: s, bytes: str(1, s) })),
    fc.boolean().map((b) => ({ value: b, bytes: vi(2, b ? 1 : 0) })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => ({ value: Number(n), bytes: vi(3, n) })),
    fc.double({ noNaN: true }).map((d) => ({ value: d, bytes: double(4, d) })),
    fc.uint8Array({ maxLength: 200 }).map((b) => ({ value: b, bytes: ld(7, b) })),
    fc.array(tie('anyValue'), { maxLength: 4 }).map((items) => ({
      value: items.map((i) => i.value),
      bytes: ld(5, ...items.map((i) => ld(1, i.bytes))),
    })),
    fc.uniqueArray(fc.tuple(text, tie('anyValue')), { maxLength: 4, selector: ([k]) => k }).map((entries) => {
      const value = Object.create(null) as Record<string, AttrValue>;
      for (const [k, v] of entries) value[k] = v.value;
      return { value, bytes: ld(6, ...entries.map(([k, v]) => ld(1, str(1, k), ld(2, v.bytes)))) };
    }),
  ),
}));

/** Attributes with unique keys, each as a field `field` of the enclosing message. */
function attributes(field: number): fc.Arbitrary<Encoded<Record<string, AttrValue>> & { fields: Bytes[] }> {
  return fc.uniqueArray(fc.tuple(text, anyValue), { maxLength: 8, selector: ([k]) => k }).map((entries) => {
    // Own properties even for a key such as "__proto__", which plain assignment would not make.
    const value: Record<string, AttrValue> = Object.fromEntries(entries.map(([k, v]) => [k, v.value]));
    const fields = entries.map(([k, v]) => ld(field, str(1, k), ld(2, v.bytes)));
    return { value, bytes: cat(...fields), fields };
  });
}

const event = fc
  .record({ time: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), name: longText, attrs: attributes(3), dropped: fc.nat() })
  .map((e) => ({
    value: { name: e.name, timeNs: e.time, attributes: e.attrs.value },
    bytes: ld(11, fixed64(1, e.time), str(2, e.name), e.attrs.bytes, vi(4, e.dropped)),
  }));

const link = fc
  .record({ traceId: nonZero(16), spanId: nonZero(8), state: text, attrs: attributes(4), flags: fc.nat() })
  .map((l) => ld(13, ld(1, l.traceId), ld(2, l.spanId), str(3, l.state), l.attrs.bytes, fixed32(6, l.flags)));

function span(traceIds: readonly Uint8Array[]) {
  return fc
    .record({
      trace: fc.integer({ min: 0, max: traceIds.length - 1 }),
      spanId: nonZero(8),
      parent: fc.option(nonZero(8), { nil: undefined }),
      name: longText,
      state: fc.option(longText, { nil: undefined }),
      kind: fc.integer({ min: -3, max: 9 }),
      start: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      end: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      flags: fc.option(fc.nat(), { nil: undefined }),
      status: fc.option(fc.record({ code: fc.integer({ min: 0, max: 2 }), message: longText }), { nil: undefined }),
      attrs: attributes(9),
      events: fc.array(event, { maxLength: 3 }),
      links: fc.array(link, { maxLength: 2 }),
      unknown: fc.array(unknownField, { maxLength: 2 }),
      order: fc.array(fc.double({ noNaN: true }), { minLength: 64, maxLength: 64 }),
    })
    .map((s) => {
      const traceId = traceIds[s.trace];
      const fields: Bytes[] = [
        ld(1, traceId),
        ld(2, s.spanId),
        str(5, s.name),
        vi(6, s.kind),
        fixed64(7, s.start),
        fixed64(8, s.end),
        vi(10, 1),
        vi(12, 2),
        vi(14, 3),
        ...s.attrs.fields,
        ...s.events.map((e) => e.bytes),
        ...s.links,
        ...s.unknown,
      ];
      if (s.parent !== undefined) fields.push(ld(4, s.parent));
      if (s.state !== undefined) fields.push(str(3, s.state));
      if (s.flags !== undefined) fields.push(fixed32(16, s.flags));
      if (s.status !== undefined) fields.push(ld(15, str(2, s.status.message), vi(3, s.status.code)));
      // Protobuf allows fields in any order; repeated fields keep their relative order.
      const keyed = fields.map((bytes, i) => ({ bytes, key: s.order[i] ?? 0, i }));
      keyed.sort((a, b) => a.key - b.key || a.i - b.i);
      const bytes = orderRepeated(keyed.map((k) => k.bytes), fields);
      const expected: Omit<ExpectedSpan, 'resourceAttributes'> = {
        traceId: hexOf(traceId),
        spanId: hexOf(s.spanId),
        parentSpanId: s.parent === undefined ? '' : hexOf(s.parent),
        name: s.name,
        kind: s.kind,
        startNs: s.start,
        endNs: s.end,
        statusCode: s.status?.code ?? 0,
        traceState: s.state ?? '',
        flags: s.flags ?? 0,
        attributes: s.attrs.value,
        events: s.events.map((e) => e.value),
      };
      return { expected, bytes: cat(...bytes) };
    });
}

/**
 * Keeps shuffled fields, but puts the repeated ones (attributes, events, links: all fields
 * that share a tag byte) back in their original relative order, which protobuf preserves.
 */
function orderRepeated(shuffled: Bytes[], original: Bytes[]): Bytes[] {
  const byTag = new Map<number, Bytes[]>();
  for (const f of original) {
    const list = byTag.get(f[0]) ?? [];
    list.push(f);
    byTag.set(f[0], list);
  }
  const next = new Map<number, number>();
  return shuffled.map((f) => {
    const list = byTag.get(f[0]) as Bytes[];
    const at = next.get(f[0]) ?? 0;
    next.set(f[0], at + 1);
    return list[at];
  });
}

export const generatedRequest: fc.Arbitrary<GeneratedRequest> = fc
  .uniqueArray(nonZero(16), { minLength: 1, maxLength: 4, selector: hexOf })
  .chain((traceIds) =>
    fc.array(
      fc.record({
        resource: fc.option(attributes(1), { nil: undefined }),
        schemaUrl: fc.option(text, { nil: undefined }),
        unknown: fc.array(unknownField, { maxLength: 1 }),
        scopes: fc.array(
          fc.record({
            name: text,
            attrs: attributes(3),
            unknown: fc.array(unknownField, { maxLength: 1 }),
            spans: fc.array(span(traceIds), { maxLength: 4 }),
          }),
          { maxLength: 3 },
        ),
      }),
      { maxLength: 3 },
    ),
  )
  .map((resources) => {
    const spans: ExpectedSpan[] = [];
    const parts: Bytes[] = [];
    for (const rs of resources) {
      const resourceAttributes = rs.resource?.value ?? {};
      const scopeParts: Bytes[] = [];
      for (const scope of rs.scopes) {
        for (const s of scope.spans) spans.push({ ...s.expected, resourceAttributes });
        scopeParts.push(
          ld(2, ld(1, str(1, scope.name), scope.attrs.bytes), ...scope.spans.map((s) => ld(2, s.bytes)), ...scope.unknown),
        );
      }
      parts.push(
        ld(
          1,
          ...(rs.resource === undefined ? [] : [ld(1, rs.resource.bytes, vi(2, 0))]),
          ...scopeParts,
          ...(rs.schemaUrl === undefined ? [] : [str(3, rs.schemaUrl)]),
          ...rs.unknown,
        ),
      );
    }
    return { bytes: cat(...parts), spans };
  });
