import { ProtobufReader, WIRE_LEN } from '../otlp/protobuf-reader.js';

/**
 * Attribute values cut to a length at intake (`limits.maxAttributeValueLength`), the way
 * OpenTelemetry SDKs apply OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: a string keeps its first N
 * characters (Unicode code points, never split inside one), a byte array its first N bytes;
 * lists and maps have each of their values cut on their own; numbers and booleans stay.
 *
 * Truncating rather than refusing the request: an OTLP client drops a request answered 400
 * and does not retry it, so refusing would lose every other span in it for one long value
 * (often an SQL statement or a stack trace). The cut is counted, so it is visible.
 *
 * Works on the protobuf bytes of a fragment without decoding it: only the attributes of
 * resources, scopes, spans, span events and span links are walked, only messages holding a
 * value that was cut are written anew (with their new lengths), every other byte is copied.
 */

type MessageKind =
  | 'request'
  | 'resourceSpans'
  | 'resource'
  | 'scopeSpans'
  | 'scope'
  | 'span'
  | 'event'
  | 'link'
  | 'keyValue'
  | 'anyValue'
  | 'arrayValue'
  | 'keyValueList';

type FieldKind = MessageKind | 'string' | 'bytes';

/** The length-delimited fields that lead to attribute values, by message; the rest is copied as is. */
const FIELDS: Record<MessageKind, Readonly<Record<number, FieldKind>>> = {
  request: { 1: 'resourceSpans' }, // ExportTraceServiceRequest.resource_spans
  resourceSpans: { 1: 'resource', 2: 'scopeSpans' },
  resource: { 1: 'keyValue' }, // Resource.attributes
  scopeSpans: { 1: 'scope', 2: 'span' },
  scope: { 3: 'keyValue' }, // InstrumentationScope.attributes
  span: { 9: 'keyValue', 11: 'event', 13: 'link' }, // Span.attributes, events, links
  event: { 3: 'keyValue' }, // Span.Event.attributes
  link: { 4: 'keyValue' }, // Span.Link.attributes
  keyValue: { 2: 'anyValue' },
  anyValue: { 1: 'string', 5: 'arrayValue', 6: 'keyValueList', 7: 'bytes' },
  arrayValue: { 1: 'anyValue' },
  keyValueList: { 1: 'keyValue' },
};

export interface TruncatedFragment {
  /** The fragment with long values cut; the input itself when nothing was cut. */
  readonly bytes: Uint8Array;
  /** Values cut. */
  readonly values: number;
}

/**
 * Cuts every attribute value of a fragment (a run of ExportTraceServiceRequest
 * `resource_spans` fields, as the decoder makes them) longer than `maxLength`. The input
 * must be well-formed; otherwise an OtlpDecodeError is thrown.
 */
export function truncateAttributeValues(fragment: Uint8Array, maxLength: number): TruncatedFragment {
  // A value is never longer in characters than the whole fragment is in bytes.
  if (maxLength <= 0 || fragment.length <= maxLength) return { bytes: fragment, values: 0 };
  const cutter = new ValueCutter(fragment, maxLength);
  const out = cutter.message(0, fragment.length, 'request');
  return { bytes: out ?? fragment, values: cutter.cut };
}

class ValueCutter {
  private readonly r: ProtobufReader;
  cut = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly max: number,
  ) {
    this.r = new ProtobufReader(buf);
  }

  /** The message's new content, or undefined when nothing in it changed. */
  message(start: number, end: number, kind: MessageKind): Uint8Array | undefined {
    const r = this.r;
    const fields = FIELDS[kind];
    let pieces: Uint8Array[] | undefined;
    let copyFrom = start;
    r.pos = start;
    r.end = end;
    while (r.pos < end) {
      const fieldStart = r.pos;
      const tag = r.tag();
      const child = (tag & 7) === WIRE_LEN ? fields[tag >>> 3] : undefined;
      if (child === undefined) {
        r.skipField(tag & 7);
        continue;
      }
      const len = r.length();
      const contentStart = r.pos;
      const contentEnd = contentStart + len;
      const replaced = this.field(contentStart, contentEnd, child);
      r.pos = contentEnd;
      r.end = end;
      if (replaced === undefined) continue;
      pieces ??= [];
      pieces.push(this.buf.subarray(copyFrom, fieldStart), tagAndLength(tag, replaced.length), replaced);
      copyFrom = contentEnd;
    }
    if (pieces === undefined) return undefined;
    pieces.push(this.buf.subarray(copyFrom, end));
    return concat(pieces);
  }

  private field(start: number, end: number, kind: FieldKind): Uint8Array | undefined {
    if (kind === 'bytes') {
      if (end - start <= this.max) return undefined;
      this.cut++;
      return this.buf.subarray(start, start + this.max);
    }
    if (kind === 'string') {
      // Fewer bytes than the limit means fewer characters too.
      if (end - start <= this.max) return undefined;
      const cutAt = codePointBoundary(this.buf, start, end, this.max);
      if (cutAt === end) return undefined;
      this.cut++;
      return this.buf.subarray(start, cutAt);
    }
    return this.message(start, end, kind);
  }
}

/** Where the code point after the first `count` starts, or `end` when there are no more. */
function codePointBoundary(buf: Uint8Array, start: number, end: number, count: number): number {
  let seen = 0;
  for (let i = start; i < end; i++) {
    // Every byte but a UTF-8 continuation byte (10xxxxxx) starts a code point.
    if ((buf[i] & 0xc0) !== 0x80) {
      if (seen === count) return i;
      seen++;
    }
  }
  return end;
}

function tagAndLength(tag: number, length: number): Uint8Array {
  const out: number[] = [];
  for (const value of [tag, length]) {
    let v = value;
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
  }
  return Uint8Array.from(out);
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of pieces) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
