import type { AttrValue, SpanEventView } from './types.js';
import { int64ToNumber, ProtobufReader } from './protobuf-reader.js';
import { decodeUtf8 } from './utf8.js';

/**
 * The lazy half of span decoding: attributes and events, read on first use from bytes the
 * decoder already validated (wire-validation.ts), so these readers do not fail on data that
 * came through `decodeProtobufRequest` (they would still throw OtlpDecodeError otherwise).
 *
 * Conventions, following the OpenTelemetry Collector's pdata where OTLP leaves a choice:
 * - the first of duplicate keys wins (pdata's Map.Get returns the first match);
 * - an empty AnyValue (no field set, or the profiles-only string_value_strindex) has no
 *   AttrValue: its key is left out of the map, its array element is skipped;
 * - int64 becomes a number, exact up to 2^53;
 * - bytes are copied, so a value kept by a policy does not pin the request buffer.
 */

/** Reads every field `tag` (a repeated KeyValue) of the message in [start, end) into `into`. */
export function readAttributeFields(
  buf: Uint8Array,
  start: number,
  end: number,
  tag: number,
  into: Map<string, AttrValue>,
): void {
  const r = new ProtobufReader(buf, start, end);
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === tag) {
      const outer = r.enter();
      readKeyValueInto(r, into);
      r.leave(outer);
    } else {
      r.skipField(t & 7);
    }
  }
}

/** Reads one KeyValue (the reader narrowed to it) and sets it unless the key is taken. */
function readKeyValueInto(r: ProtobufReader, into: Map<string, AttrValue> | Record<string, AttrValue>): void {
  let key = '';
  let value: AttrValue | undefined;
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) {
      const len = r.length();
      key = decodeUtf8(r.buf, r.pos, r.pos + len);
      r.pos += len;
    } else if (t === 0x12) {
      const outer = r.enter();
      value = readAnyValue(r);
      r.leave(outer);
    } else {
      r.skipField(t & 7);
    }
  }
  if (value === undefined) return;
  if (into instanceof Map) {
    if (!into.has(key)) into.set(key, value);
  } else if (!Object.prototype.hasOwnProperty.call(into, key)) {
    into[key] = value;
  }
}

/** One AnyValue (the reader narrowed to it). As in protobuf, the last oneof member wins. */
export function readAnyValue(r: ProtobufReader): AttrValue | undefined {
  let value: AttrValue | undefined;
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x0a: {
        const len = r.length();
        value = decodeUtf8(r.buf, r.pos, r.pos + len);
        r.pos += len;
        break;
      }
      case 0x10:
        r.varint64();
        value = r.lo !== 0 || r.hi !== 0;
        break;
      case 0x18:
        r.varint64();
        value = int64ToNumber(r.lo, r.hi);
        break;
      case 0x21:
        value = r.double();
        break;
      case 0x2a:
      case 0x32: {
        const outer = r.enter();
        value = t === 0x2a ? readArrayValue(r) : readKeyValueList(r);
        r.leave(outer);
        break;
      }
      case 0x3a: {
        const len = r.length();
        // A plain copy, also when the request is a Buffer (whose slice shares memory).
        const bytes = new Uint8Array(len);
        bytes.set(r.buf.subarray(r.pos, r.pos + len));
        value = bytes;
        r.pos += len;
        break;
      }
      case 0x40:
        r.skipVarint();
        value = undefined;
        break;
      default:
        r.skipField(t & 7);
    }
  }
  return value;
}

function readArrayValue(r: ProtobufReader): AttrValue[] {
  const values: AttrValue[] = [];
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) {
      const outer = r.enter();
      const v = readAnyValue(r);
      r.leave(outer);
      if (v !== undefined) values.push(v);
    } else {
      r.skipField(t & 7);
    }
  }
  return values;
}

function readKeyValueList(r: ProtobufReader): { [key: string]: AttrValue } {
  // No prototype, so a key such as "__proto__" is an ordinary entry.
  const values = Object.create(null) as { [key: string]: AttrValue };
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) {
      const outer = r.enter();
      readKeyValueInto(r, values);
      r.leave(outer);
    } else {
      r.skipField(t & 7);
    }
  }
  return values;
}

/** Every Span.Event (field 11) of the span in [start, end). */
export function readSpanEvents(buf: Uint8Array, start: number, end: number): SpanEventView[] {
  const events: SpanEventView[] = [];
  const r = new ProtobufReader(buf, start, end);
  while (r.pos < r.end) {
    const t = r.tag();
    if (t !== 0x5a) {
      r.skipField(t & 7);
      continue;
    }
    const outer = r.enter();
    const eventStart = r.pos;
    let name = '';
    let timeMs = 0;
    let hasAttributes = false;
    while (r.pos < r.end) {
      const et = r.tag();
      if (et === 0x09) {
        timeMs = nanosToMs(r);
      } else if (et === 0x12) {
        const len = r.length();
        name = decodeUtf8(buf, r.pos, r.pos + len);
        r.pos += len;
      } else {
        if (et === 0x1a) hasAttributes = true;
        r.skipField(et & 7);
      }
    }
    const attributes = new Map<string, AttrValue>();
    if (hasAttributes) readAttributeFields(buf, eventStart, r.end, 0x1a, attributes);
    r.leave(outer);
    events.push({ name, timeMs, attributes });
  }
  return events;
}

/** A fixed64 of Unix nanoseconds as float milliseconds, without BigInt. */
export function nanosToMs(r: ProtobufReader): number {
  r.fixed64();
  return r.hi * 4294.967296 + r.lo / 1e6;
}
