import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OtlpDecodeError } from '../../src/errors.js';
import { concatRequests } from '../../src/otlp/concat.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { protobufRequestToJsonBytes, protobufRequestToJsonText } from '../../src/otlp/otlp-json-text.js';
import { protobufRequestToJson } from '../../src/otlp/otlp-json.js';
import { cat, double, fixed32, fixed64, ld, request, span, str, tag, varint, vi, SPAN_1, SPAN_2, TRACE_1 } from './protobuf-builder.js';
import { generatedRequest } from './request-arbitrary.js';
import { handmadeSpans, toProtobuf, tracerSpans } from './sdk-span-fixtures.js';

/**
 * The reference: protobufjs objects through JSON.stringify. Given a Buffer, protobufjs decodes
 * strings with Node's UTF-8 decoder, as the text writer does, so even invalid UTF-8 compares.
 */
function reference(bytes: Uint8Array): string {
  return JSON.stringify(protobufRequestToJson(Buffer.from(bytes)));
}

/** A request whose only span carries `fields` besides its ids. */
function oneSpan(...fields: Uint8Array[]): Uint8Array {
  return request(span(TRACE_1, SPAN_1, ...fields));
}

/** A span attribute `key` holding the AnyValue made of `valueFields`. */
function attribute(key: string, ...valueFields: Uint8Array[]): Uint8Array {
  return ld(9, str(1, key), ld(2, ...valueFields));
}

function spanJson(bytes: Uint8Array): Record<string, unknown> {
  const json = JSON.parse(protobufRequestToJsonText(bytes)) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
  return json.resourceSpans[0].scopeSpans[0].spans[0];
}

describe('protobufRequestToJsonText', () => {
  it('writes what protobufjs and JSON.stringify write for SDK-serialized requests', () => {
    for (const spans of [tracerSpans(), handmadeSpans(), [...tracerSpans(), ...handmadeSpans()]]) {
      const bytes = toProtobuf(spans);
      expect(protobufRequestToJsonText(bytes)).toBe(reference(bytes));
    }
  });

  it('writes the same text for fuzzed requests and for the fragments the decoder cuts from them', () => {
    fc.assert(
      fc.property(generatedRequest, ({ bytes }) => {
        expect(protobufRequestToJsonText(bytes)).toBe(reference(bytes));
        const decoded = decodeProtobufRequest(bytes);
        if (!decoded.ok) throw decoded.error;
        const kept = concatRequests(decoded.value.fragments.map((f) => f.bytes));
        expect(protobufRequestToJsonText(kept)).toBe(reference(kept));
      }),
      { numRuns: 300 },
    );
  });

  it('writes the same text as the reference for damaged requests it accepts, and OtlpDecodeError otherwise', () => {
    const damaged = fc.tuple(generatedRequest, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })).map(([{ bytes }, edits]) => {
      const copy = Uint8Array.from(bytes);
      for (const [at, value] of edits) if (copy.length > 0) copy[at % copy.length] = value;
      return copy;
    });
    let accepted = 0;
    fc.assert(
      fc.property(damaged, (bytes) => {
        let text: string;
        try {
          text = protobufRequestToJsonText(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(OtlpDecodeError);
          return;
        }
        accepted++;
        expect(() => JSON.parse(text)).not.toThrow();
        // The reference checks more (all-zero ids, unknown-field wire types) and may refuse.
        let expected: string | undefined;
        try {
          expected = reference(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(OtlpDecodeError);
        }
        if (expected !== undefined) expect(text).toBe(expected);
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('writes fields in schema order, the last value of a repeated singular field, and repeated fields in wire order', () => {
    const bytes = oneSpan(
      vi(6, 3),
      str(5, 'first'),
      attribute('a', str(1, 'x')),
      ld(11, fixed64(1, 5n), str(2, 'event')),
      attribute('b', vi(3, -7)),
      str(5, 'second'),
      ld(4, Buffer.from(SPAN_2, 'hex')),
    );
    const text = protobufRequestToJsonText(bytes);
    expect(text).toBe(reference(bytes));
    const s = spanJson(bytes);
    expect(Object.keys(s)).toEqual(['traceId', 'spanId', 'parentSpanId', 'name', 'kind', 'attributes', 'events']);
    expect(s.name).toBe('second');
    expect(s.attributes).toEqual([
      { key: 'a', value: { stringValue: 'x' } },
      { key: 'b', value: { intValue: '-7' } },
    ]);
    expect(s.events).toEqual([{ timeUnixNano: '5', name: 'event' }]);
  });

  it('writes oneof members at their default value and leaves other defaults out', () => {
    const bytes = oneSpan(
      str(3, ''),
      vi(6, 0),
      fixed32(16, 0),
      attribute('s', str(1, '')),
      attribute('b', vi(2, 0)),
      attribute('i', vi(3, 0)),
      attribute('d', double(4, -0)),
      attribute('y', ld(7)),
      attribute('l', ld(5)),
      ld(15),
    );
    expect(protobufRequestToJsonText(bytes)).toBe(reference(bytes));
    const s = spanJson(bytes);
    expect(Object.keys(s)).toEqual(['traceId', 'spanId', 'attributes', 'status']);
    expect((s.attributes as { value: unknown }[]).map((a) => a.value)).toEqual([
      { stringValue: '' },
      { boolValue: false },
      { intValue: '0' },
      { doubleValue: 0 },
      { bytesValue: '' },
      { arrayValue: {} },
    ]);
    expect(s.status).toEqual({});
  });

  it('writes 64-bit integers exactly, enums as signed integers and special doubles as strings', () => {
    const bytes = oneSpan(
      vi(6, -2),
      fixed64(7, 18446744073709551615n),
      fixed64(8, 1715000000123456789n),
      attribute('max', vi(3, 9223372036854775807n)),
      attribute('min', vi(3, -9223372036854775808n)),
      attribute('safe', vi(3, -9007199254740993n)),
      attribute('nan', double(4, NaN)),
      attribute('inf', double(4, -Infinity)),
      attribute('bytes', ld(7, Uint8Array.of(0xfb, 0xff, 0x00))),
    );
    expect(protobufRequestToJsonText(bytes)).toBe(reference(bytes));
    const s = spanJson(bytes);
    expect([s.kind, s.startTimeUnixNano, s.endTimeUnixNano]).toEqual([-2, '18446744073709551615', '1715000000123456789']);
    expect((s.attributes as { value: unknown }[]).map((a) => a.value)).toEqual([
      { intValue: '9223372036854775807' },
      { intValue: '-9223372036854775808' },
      { intValue: '-9007199254740993' },
      { doubleValue: 'NaN' },
      { doubleValue: '-Infinity' },
      { bytesValue: '+/8A' },
    ]);
  });

  it('escapes strings as JSON does', () => {
    const bytes = oneSpan(str(5, 'quote " backslash \\ newline \n tab \t nul \u0000 emoji 😀 é'));
    expect(protobufRequestToJsonText(bytes)).toBe(reference(bytes));
    expect(spanJson(bytes).name).toBe('quote " backslash \\ newline \n tab \t nul \u0000 emoji 😀 é');
  });

  it('hands out a buffer of its own per call, with a newline when asked, however large the request', () => {
    const small = oneSpan(str(5, 'small'));
    // Far past the writer's starting buffer, so it has to grow mid-request.
    const large = oneSpan(...Array.from({ length: 3000 }, (_, i) => attribute(`key-${i}`, str(1, 'v'.repeat(100)))));
    const first = protobufRequestToJsonBytes(small, { newline: true });
    const second = protobufRequestToJsonBytes(large);
    const third = protobufRequestToJsonBytes(small);
    expect(first.toString('utf8')).toBe(`${reference(small)}\n`);
    expect(second.toString('utf8')).toBe(reference(large));
    expect(third.toString('utf8')).toBe(reference(small));
  });

  it('writes an empty request as an empty object', () => {
    expect(protobufRequestToJsonText(new Uint8Array(0))).toBe('{}');
  });

  it('refuses a known field with the wrong wire type, a length past its message and AnyValues nested too deep', () => {
    expect(() => protobufRequestToJsonText(oneSpan(vi(5, 1)))).toThrow(OtlpDecodeError);
    expect(() => protobufRequestToJsonText(cat(tag(1, 2), varint(50), Uint8Array.of(1, 2)))).toThrow(OtlpDecodeError);
    let value = str(1, 'deep');
    for (let i = 0; i < 32; i++) value = ld(5, ld(1, value));
    expect(protobufRequestToJsonText(oneSpan(attribute('ok', value)))).toBe(reference(oneSpan(attribute('ok', value))));
    expect(() => protobufRequestToJsonText(oneSpan(attribute('deep', ld(5, ld(1, value)))))).toThrow(OtlpDecodeError);
  });
});
