import { describe, expect, it } from 'vitest';
import { OtlpDecodeError } from '../../src/errors.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import {
  SPAN_1,
  SPAN_2,
  TRACE_1,
  cat,
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

function reason(buf: Uint8Array): OtlpDecodeError {
  const result = decodeProtobufRequest(buf);
  if (result.ok) throw new Error('expected the request to be rejected');
  expect(result.error).toBeInstanceOf(OtlpDecodeError);
  expect(result.error.code).toBe('OTLP_MALFORMED');
  expect(result.error.retriable).toBe(false);
  return result.error;
}

/** An attribute whose value is an AnyValue nested in `levels` arrays. */
function nestedAttribute(levels: number): Uint8Array {
  let value = str(1, 'leaf');
  for (let i = 0; i < levels; i++) value = ld(5, ld(1, value));
  return ld(9, str(1, 'deep'), ld(2, value));
}

const SPAN_PATH = 'resource_spans[0].scope_spans[0].spans[0]';
const TEN_CONTINUATION_BYTES = new Uint8Array(10).fill(0xff);

describe('malformed protobuf is rejected with a reason', () => {
  it.each<[string, Uint8Array, RegExp]>([
    ['truncated varint (length missing)', Uint8Array.of(0x0a), /^resource_spans\[0\]: truncated varint \(at byte 1\)$/],
    ['truncated varint (cut in the middle)', Uint8Array.of(0x0a, 0x80), /^resource_spans\[0\]: truncated varint/],
    ['length past the end', Uint8Array.of(0x0a, 0x05, 0x00), /^resource_spans\[0\]: length 5 past the end of the message \(1 bytes left\) \(at byte 1\)$/],
    ['absurd length', cat(tag(1, 2), varint(2n ** 62n)), /^resource_spans\[0\]: length 46116860184\d{8} past the end/],
    ['length past its parent message', ld(1, ld(2, cat(tag(2, 2), varint(40)))), /^resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]: length 40 past the end/],
    ['15-byte trace id', request(span(TRACE_1.slice(2), SPAN_1)), new RegExp(`^${esc(SPAN_PATH)}: Span.trace_id: expected 16 bytes, got 15`)],
    ['17-byte trace id', request(span(`${TRACE_1}ff`, SPAN_1)), /Span.trace_id: expected 16 bytes, got 17/],
    ['no trace id', request(ld(2, hex(SPAN_1))), /Span.trace_id: expected 16 bytes, got 0/],
    ['zero trace id', request(span('0'.repeat(32), SPAN_1)), /Span.trace_id: all zero \(an invalid trace id\)/],
    ['zero span id', request(span(TRACE_1, '0'.repeat(16))), /Span.span_id: all zero \(an invalid span id\)/],
    ['7-byte span id', request(span(TRACE_1, SPAN_1.slice(2))), /Span.span_id: expected 8 bytes, got 7/],
    ['4-byte parent span id', request(span(TRACE_1, SPAN_1, ld(4, hex('01020304')))), /Span.parent_span_id: expected 0 or 8 bytes, got 4/],
    ['group start wire type', cat(tag(1, 3)), /^group wire type \(protobuf groups are not supported\) \(at byte 0\)$/],
    ['group end wire type', request(span(TRACE_1, SPAN_1, tag(20, 4))), /group wire type/],
    ['wire type 6', request(span(TRACE_1, SPAN_1, tag(20, 6))), /invalid wire type 6/],
    ['wire type 7', Uint8Array.of(0x0f), /^invalid wire type 7/],
    ['field number 0', Uint8Array.of(0x02, 0x00), /^field number 0/],
    ['varint longer than 10 bytes', request(span(TRACE_1, SPAN_1, tag(6, 0), TEN_CONTINUATION_BYTES, Uint8Array.of(0x01))), /varint longer than 10 bytes/],
    ['varint past 64 bits', request(span(TRACE_1, SPAN_1, tag(6, 0), new Uint8Array(9).fill(0xff), Uint8Array.of(0x02))), /varint overflows 64 bits/],
    ['tag past 32 bits', cat(varint(2n ** 33n + 2n), Uint8Array.of(0)), /^field tag larger than 32 bits/],
    ['truncated fixed64', request(cat(span(TRACE_1, SPAN_1), tag(7, 1), Uint8Array.of(1, 2, 3))), /truncated fixed64/],
    ['truncated fixed32', request(cat(span(TRACE_1, SPAN_1), tag(16, 5), Uint8Array.of(1))), /truncated fixed32/],
    ['resource_spans as a varint', vi(1, 3), /^ExportTraceServiceRequest.resource_spans: wire type 0, expected 2/],
    ['span name as a varint', request(span(TRACE_1, SPAN_1, vi(5, 1))), new RegExp(`^${esc(SPAN_PATH)}: Span.name: wire type 0, expected 2`)],
    ['start time as a varint', request(span(TRACE_1, SPAN_1, vi(7, 1))), /Span.start_time_unix_nano: wire type 0, expected 1/],
    ['flags as a varint', request(span(TRACE_1, SPAN_1, vi(16, 1))), /Span.flags: wire type 0, expected 5/],
    ['attribute value as a varint', request(span(TRACE_1, SPAN_1, ld(9, str(1, 'k'), vi(2, 1)))), /KeyValue.value: wire type 0, expected 2/],
    ['AnyValue int without its varint', request(span(TRACE_1, SPAN_1, ld(9, str(1, 'k'), ld(2, tag(3, 0))))), /truncated varint/],
    ['AnyValue double cut short', request(span(TRACE_1, SPAN_1, ld(9, str(1, 'k'), ld(2, tag(4, 1), new Uint8Array(7))))), /truncated fixed64/],
    ['AnyValue string longer than its value', request(span(TRACE_1, SPAN_1, ld(9, str(1, 'k'), ld(2, tag(1, 2), varint(5), new Uint8Array(2))))), /length 5 past the end/],
    ['AnyValue int as bytes', request(span(TRACE_1, SPAN_1, ld(9, str(1, 'k'), ld(2, ld(3))))), /AnyValue.int_value: wire type 2, expected 0/],
    ['AnyValue nested 33 levels', request(span(TRACE_1, SPAN_1, nestedAttribute(33))), /AnyValue nested deeper than 32 levels/],
    ['kvlist nested too deep', request(span(TRACE_1, SPAN_1, ld(9, str(1, 'k'), ld(2, deepKvlist(40))))), /AnyValue nested deeper than 32 levels/],
    ['event time as bytes', request(span(TRACE_1, SPAN_1, ld(11, ld(1)))), /Span.Event.time_unix_nano: wire type 2, expected 1/],
    ['event attribute truncated', request(span(TRACE_1, SPAN_1, ld(11, cat(tag(3, 2), varint(9))))), /length 9 past the end/],
    ['link trace id of 5 bytes', request(span(TRACE_1, SPAN_1, ld(13, ld(1, hex('0102030405'))))), /Span.Link.trace_id: expected 16 bytes, got 5/],
    ['link span id of 9 bytes', request(span(TRACE_1, SPAN_1, ld(13, ld(2, hex('010203040506070809'))))), /Span.Link.span_id: expected 8 bytes, got 9/],
    ['status code as bytes', request(span(TRACE_1, SPAN_1, ld(15, ld(3)))), /Status.code: wire type 2, expected 0/],
    ['resource attribute malformed', ld(1, ld(1, ld(1, str(1, 'k'), vi(2, 0))), ld(2, ld(2, span(TRACE_1, SPAN_1)))), /^resource_spans\[0\]: KeyValue.value: wire type 0, expected 2/],
    ['scope attribute malformed', ld(1, ld(2, ld(1, ld(3, ld(2, vi(5, 1)))), ld(2, span(TRACE_1, SPAN_1)))), /^resource_spans\[0\]\.scope_spans\[0\]: AnyValue.array_value: wire type 0, expected 2/],
    ['schema_url as a varint', ld(1, vi(3, 1)), /ResourceSpans.schema_url: wire type 0, expected 2/],
  ])('%s', (_name, buf, expected) => {
    expect(reason(buf).message).toMatch(expected);
  });

  it('accepts AnyValue nesting up to the bound', () => {
    expect(decodeProtobufRequest(request(span(TRACE_1, SPAN_1, nestedAttribute(32)))).ok).toBe(true);
  });

  it('names the failing span and the byte offset', () => {
    const good = ld(2, span(TRACE_1, SPAN_1, str(5, 'good')));
    const bad = ld(2, span(TRACE_1, SPAN_2, str(5, 'bad'), ld(4, hex('0102'))));
    const buf = ld(1, ld(2, good, bad));
    const error = reason(buf);
    expect(error.message).toMatch(/^resource_spans\[0\]\.scope_spans\[0\]\.spans\[1\]: Span.parent_span_id: expected 0 or 8 bytes, got 2 \(at byte \d+\)$/);
    const at = error.offset as number;
    expect(Array.from(buf.subarray(at, at + 2))).toEqual([1, 2]);
  });

  it('rejects the whole request, not only the bad span', () => {
    const buf = ld(1, ld(2, ld(2, span(TRACE_1, SPAN_1)), ld(2, span(TRACE_1, '0'.repeat(16)))));
    expect(decodeProtobufRequest(buf).ok).toBe(false);
  });

  it('skips a huge unknown field that fits', () => {
    const unknown = cat(tag(1000, 2), varint(100_000), new Uint8Array(100_000));
    const result = decodeProtobufRequest(request(span(TRACE_1, SPAN_1, unknown, kvAttr())));
    expect(result.ok).toBe(true);
  });
});

function deepKvlist(levels: number): Uint8Array {
  let value = str(1, 'leaf');
  for (let i = 0; i < levels; i++) value = ld(6, ld(1, str(1, `k${i}`), ld(2, value)));
  return value;
}

function kvAttr(): Uint8Array {
  return ld(9, kvString('k', 'v'));
}

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
