import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OtlpDecodeError } from '../../src/errors.js';
import { concatRequests } from '../../src/otlp/concat.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { decodeJsonRequest, jsonRequestToProtobuf, protobufRequestToJson } from '../../src/otlp/otlp-json.js';
import type { OtlpJsonRequest } from '../../src/otlp/otlp-json.js';
import { ProtobufReader } from '../../src/otlp/protobuf-reader.js';
import type { ProtobufSpanView } from '../../src/otlp/span-view.js';
import type { DecodeResult, SpanView, TraceFragment } from '../../src/otlp/types.js';
import { handmadeSpans, toJson, toProtobuf, tracerSpans } from './sdk-span-fixtures.js';
import { generatedRequest, type ExpectedSpan } from './request-arbitrary.js';

/**
 * Whatever the bytes, decoding returns a value (never throws, never hangs), and what it
 * accepts is usable all the way: lazy attributes and events decode, fragments re-decode to
 * the same spans, and the JSON conversion both ways works.
 */
function checkProtobuf(buf: Uint8Array): boolean {
  let result: DecodeResult | undefined;
  expect(() => {
    result = decodeProtobufRequest(buf);
  }).not.toThrow();
  if (result === undefined) return false;
  if (!result.ok) {
    expect(result.error).toBeInstanceOf(OtlpDecodeError);
    expect(result.error.message.length).toBeGreaterThan(0);
    return false;
  }
  const { spans, fragments } = result.value;
  for (const span of spans) {
    span.attributes();
    span.resourceAttributes();
    span.events();
    expect(typeof span.serviceName).toBe('string');
  }
  for (const f of fragments) sameAsItsBytes(f);
  const joined = decodeProtobufRequest(concatRequests(fragments.map((f) => f.bytes)));
  expect(joined.ok).toBe(true);
  if (joined.ok) {
    expect(joined.value.spanCount).toBe(spans.length);
    expect(joined.value.fragments.map((f) => f.spanCount)).toEqual(fragments.map((f) => f.spanCount));
  }
  const json = protobufRequestToJson(buf);
  matchesReference(spans, json);
  const again = decodeProtobufRequest(jsonRequestToProtobuf(json));
  expect(again.ok && again.value.spanCount).toBe(spans.length);
  return true;
}

/**
 * A fragment split from a request reads its spans from the request again without checks,
 * writes its bytes on first use and describes them in its layout: all three must agree with
 * a full, checking decode of the bytes it writes.
 */
function sameAsItsBytes(fragment: TraceFragment): void {
  const bytes = fragment.bytes;
  expect(fragment.byteLength).toBe(bytes.length);
  const own = decodeProtobufRequest(bytes);
  expect(own.ok).toBe(true);
  if (!own.ok) return;
  expect(own.value.fragments.map((f) => f.traceId)).toEqual([fragment.traceId]);
  expect((fragment.spans ?? []).map(spanFields)).toEqual(own.value.spans.map(spanFields));
  expect(joinLayout(fragment)).toEqual(Array.from(bytes));
}

function spanFields(span: SpanView): unknown {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    startMs: span.startMs,
    endMs: span.endMs,
    statusCode: span.statusCode,
    traceState: span.traceState,
    flags: span.flags,
    serviceName: span.serviceName,
    attributes: [...span.attributes()],
    resource: [...span.resourceAttributes()],
    events: span.events(),
  };
}

/** The fragment's bytes put together from its layout: tags and shortest lengths around each part. */
function joinLayout(fragment: TraceFragment): number[] {
  const layout = fragment.layout;
  if (layout === undefined) throw new Error('a split fragment has a layout');
  const out: number[] = [];
  const field = (tag: number, body: number[]): void => {
    out.push(tag, ...varintBytes(body.length), ...body);
  };
  for (const resource of layout.resources) {
    const blocks: number[][] = [];
    const r = new ProtobufReader(resource.envelope);
    while (!r.atEnd()) {
      const len = r.length();
      blocks.push(Array.from(resource.envelope.subarray(r.pos, r.pos + len)));
      r.pos += len;
    }
    expect(blocks).toHaveLength(resource.scopeSpanCounts.length + 1);
    const body = [...blocks[0]];
    let span = 0;
    resource.scopeSpanCounts.forEach((count, s) => {
      const scope = [...blocks[s + 1]];
      for (let i = 0; i < count; i++, span++) {
        const payload = Array.from(layout.source.subarray(resource.spanRanges[2 * span], resource.spanRanges[2 * span + 1]));
        scope.push(0x12, ...varintBytes(payload.length), ...payload);
      }
      body.push(0x12, ...varintBytes(scope.length), ...scope);
    });
    expect(span * 2).toBe(resource.spanRanges.length);
    field(0x0a, body);
  }
  return out;
}

/**
 * The eagerly read fields agree with protobufjs's full decode of the same bytes (through
 * protobufRequestToJson), so an accepted request is also read right. Where the two may
 * legitimately differ, the check steps aside: invalid UTF-8 (each decoder has its own
 * replacement rules) and several Status messages in a span (protobuf merges them, as we
 * do; protobufjs keeps the last).
 */
function matchesReference(spans: readonly SpanView[], json: OtlpJsonRequest): void {
  const reference = (json.resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []));
  expect(reference).toHaveLength(spans.length);
  spans.forEach((view, i) => {
    const ref = reference[i];
    expect(view.traceId).toBe(ref.traceId);
    expect(view.spanId).toBe(ref.spanId);
    expect(view.parentSpanId).toBe(ref.parentSpanId === undefined || /^0+$/.test(ref.parentSpanId) ? '' : ref.parentSpanId);
    expect(view.kind).toBe(ref.kind ?? 0);
    expect(view.flags).toBe(ref.flags ?? 0);
    for (const [ms, ns] of [
      [view.startMs, ref.startTimeUnixNano],
      [view.endMs, ref.endTimeUnixNano],
    ] as const) {
      const expected = Number(BigInt(ns ?? '0')) / 1e6;
      expect(Math.abs(ms - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-12 + 1e-6);
    }
    if (!view.name.includes('\ufffd') && !(ref.name ?? '').includes('\ufffd')) expect(view.name).toBe(ref.name ?? '');
    if (!view.traceState.includes('\ufffd') && !(ref.traceState ?? '').includes('\ufffd')) {
      expect(view.traceState).toBe(ref.traceState ?? '');
    }
    if (countField(view as ProtobufSpanView, 0x7a) <= 1) expect(view.statusCode).toBe(ref.status?.code ?? 0);
  });
}

function countField(view: ProtobufSpanView, wantedTag: number): number {
  const r = new ProtobufReader(view.buf, view.start, view.end);
  let count = 0;
  while (!r.atEnd()) {
    const t = r.tag();
    if (t === wantedTag) count++;
    r.skipField(t & 7);
  }
  return count;
}

function checkJson(body: string): void {
  let result: DecodeResult | undefined;
  expect(() => {
    result = decodeJsonRequest(body);
  }).not.toThrow();
  if (result !== undefined && !result.ok) expect(result.error).toBeInstanceOf(OtlpDecodeError);
}

const validRequests = [toProtobuf(tracerSpans()), toProtobuf(handmadeSpans()), toProtobuf([...handmadeSpans(), ...tracerSpans()])];

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'wire'; at: number; xor: number }
  | { kind: 'inflate'; at: number; extra: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('wire' as const), at: position, xor: fc.integer({ min: 1, max: 7 }) }),
  fc.record({ kind: fc.constant('inflate' as const), at: position, extra: fc.integer({ min: 1, max: 2 ** 31 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 16 }) }),
) as fc.Arbitrary<Mutation>;

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Array.from(input);
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = Math.floor(m.at * bytes.length);
    switch (m.kind) {
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
      case 'set':
        bytes[at] = m.value;
        break;
      case 'wire':
        // Tags sit at many positions; changing a byte's low three bits changes the wire
        // type when the byte is a tag (and something else otherwise).
        bytes[at] ^= m.xor;
        break;
      case 'inflate':
        // Read the byte as a one-byte length and make it much larger.
        bytes.splice(at, 1, ...varintBytes((bytes[at] & 0x7f) + m.extra));
        break;
      case 'insert':
        bytes.splice(at, 0, ...m.bytes);
        break;
      case 'delete':
        bytes.splice(at, m.count);
        break;
    }
  }
  return Uint8Array.from(bytes);
}

describe('decoding never throws and never accepts what it cannot use', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (buf) => {
        checkProtobuf(buf);
      }),
      { numRuns: 3000 },
    );
  });

  it('random sequences of plausible tags and lengths', () => {
    // Random bytes rarely get past the first tag; these are built from small fields.
    const field = fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 20 }), fc.constant(2), fc.uint8Array({ maxLength: 300 })),
      fc.tuple(fc.integer({ min: 1, max: 20 }), fc.constantFrom(0, 1, 5), fc.uint8Array({ minLength: 1, maxLength: 8 })),
    );
    const message = fc.array(field, { maxLength: 12 }).map((fields) => {
      const out: number[] = [];
      for (const [num, wire, payload] of fields) {
        out.push(...varintBytes(num * 8 + wire));
        if (wire === 2) out.push(...varintBytes(payload.length));
        out.push(...payload);
      }
      return Uint8Array.from(out);
    });
    fc.assert(
      fc.property(message, (buf) => {
        checkProtobuf(buf);
      }),
      { numRuns: 2000 },
    );
  });

  it('valid SDK requests, mutated', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: validRequests.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (which, mutations) => {
          if (checkProtobuf(mutate(validRequests[which], mutations))) accepted++;
        },
      ),
      { numRuns: 3000 },
    );
    // Some mutations (inside string payloads) leave a valid request: both outcomes occur.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(3000);
  });

  it('valid requests stay valid and round-trip', () => {
    for (const buf of validRequests) expect(checkProtobuf(buf)).toBe(true);
  });
});

function nsToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}

function closeTo(ms: number, expected: number): boolean {
  return Math.abs(ms - expected) <= Math.abs(expected) * 1e-12 + 1e-6;
}

function expectSpan(view: SpanView, want: ExpectedSpan): void {
  expect({
    traceId: view.traceId,
    spanId: view.spanId,
    parentSpanId: view.parentSpanId,
    name: view.name,
    kind: view.kind,
    statusCode: view.statusCode,
    traceState: view.traceState,
    flags: view.flags,
  }).toEqual({
    traceId: want.traceId,
    spanId: want.spanId,
    parentSpanId: want.parentSpanId,
    name: want.name,
    kind: want.kind,
    statusCode: want.statusCode,
    traceState: want.traceState,
    flags: want.flags,
  });
  expect(closeTo(view.startMs, nsToMs(want.startNs))).toBe(true);
  expect(closeTo(view.endMs, nsToMs(want.endNs))).toBe(true);
  expect(Object.fromEntries(view.attributes())).toEqual(want.attributes);
  expect(Object.fromEntries(view.resourceAttributes())).toEqual(want.resourceAttributes);
  const serviceName = want.resourceAttributes['service.name'];
  expect(view.serviceName).toBe(typeof serviceName === 'string' ? serviceName : '');
  const events = view.events();
  expect(events.map((e) => e.name)).toEqual(want.events.map((e) => e.name));
  events.forEach((e, i) => {
    expect(closeTo(e.timeMs, nsToMs(want.events[i].timeNs))).toBe(true);
    expect(Object.fromEntries(e.attributes)).toEqual(want.events[i].attributes);
  });
}

describe('generated requests', () => {
  it('decode to exactly what they hold, and split by trace', () => {
    fc.assert(
      fc.property(generatedRequest, (generated) => {
        const result = decodeProtobufRequest(generated.bytes);
        if (!result.ok) throw result.error;
        const { spans, fragments } = result.value;
        expect(spans).toHaveLength(generated.spans.length);
        spans.forEach((view, i) => expectSpan(view, generated.spans[i]));
        const traceIds = [...new Set(generated.spans.map((s) => s.traceId))];
        expect(fragments.map((f) => f.traceId)).toEqual(traceIds);
        for (const fragment of fragments) {
          const inside = decodeProtobufRequest(fragment.bytes);
          if (!inside.ok) throw inside.error;
          const want = generated.spans.filter((s) => s.traceId === fragment.traceId);
          expect(inside.value.spans).toHaveLength(want.length);
          inside.value.spans.forEach((view, i) => expectSpan(view, want[i]));
        }
        expect(checkProtobuf(generated.bytes)).toBe(true);
      }),
      { numRuns: 250 },
    );
  });

  it('mutated, never throw and are read right when accepted', () => {
    fc.assert(
      fc.property(generatedRequest, fc.array(mutation, { minLength: 1, maxLength: 3 }), (generated, mutations) => {
        checkProtobuf(mutate(generated.bytes, mutations));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('JSON decoding never throws', () => {
  const sdkJson = JSON.parse(Buffer.from(toJson([...tracerSpans(), ...handmadeSpans()])).toString('utf8')) as unknown;

  /** Every [container, key] in a JSON value, so one can be replaced. */
  function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        out.push([value, i]);
        slots(v, out);
      });
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        out.push([value as Record<string, unknown>, k]);
        slots(v, out);
      }
    }
    return out;
  }

  it('random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        checkJson(JSON.stringify(value) ?? 'null');
      }),
      { numRuns: 1000 },
    );
  });

  it('random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        checkJson(text);
      }),
      { numRuns: 1000 },
    );
  });

  it('SDK JSON with values replaced at random places', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(position, fc.jsonValue({ maxDepth: 3 })), { minLength: 1, maxLength: 3 }), (edits) => {
        const copy = structuredClone(sdkJson);
        for (const [at, value] of edits) {
          const all = slots(copy);
          if (all.length === 0) break;
          const [container, key] = all[Math.floor(at * all.length)];
          (container as Record<string | number, unknown>)[key] = value;
        }
        checkJson(JSON.stringify(copy));
      }),
      { numRuns: 1500 },
    );
  });
});
