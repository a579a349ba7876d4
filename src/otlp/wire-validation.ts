import { OtlpDecodeError } from '../errors.js';
import { wrongWireType, type ProtobufReader } from './protobuf-reader.js';

/**
 * Structure checks for the parts of a span that are decoded lazily (attributes, events,
 * links, resource, scope). The decoder walks them once without building any value, so the
 * lazy readers cannot fail later and every span we forward is well-formed protobuf.
 *
 * Each function reads the message the reader is narrowed to (after `enter`) up to `end`.
 * Known fields must have their declared wire type; unknown fields are skipped.
 */

/** Bound on nested arrays/kvlists in one AnyValue: deep enough for real data, never a stack risk. */
export const MAX_ANY_VALUE_DEPTH = 32;

/** Field names and wire types of one message, indexed by field number, for error messages. */
interface MessageShape {
  readonly name: string;
  readonly fields: readonly (readonly [name: string, wireType: number] | undefined)[];
}

function shape(name: string, fields: Record<number, readonly [string, number]>): MessageShape {
  const list: (readonly [string, number] | undefined)[] = [];
  for (const [num, field] of Object.entries(fields)) list[Number(num)] = field;
  return { name, fields: list };
}

export const KEY_VALUE = shape('KeyValue', { 1: ['key', 2], 2: ['value', 2], 3: ['key_strindex', 0] });
export const ANY_VALUE = shape('AnyValue', {
  1: ['string_value', 2],
  2: ['bool_value', 0],
  3: ['int_value', 0],
  4: ['double_value', 1],
  5: ['array_value', 2],
  6: ['kvlist_value', 2],
  7: ['bytes_value', 2],
  8: ['string_value_strindex', 0],
});
export const ARRAY_VALUE = shape('ArrayValue', { 1: ['values', 2] });
export const KEY_VALUE_LIST = shape('KeyValueList', { 1: ['values', 2] });
export const RESOURCE = shape('Resource', { 1: ['attributes', 2], 2: ['dropped_attributes_count', 0], 3: ['entity_refs', 2] });
export const ENTITY_REF = shape('EntityRef', {
  1: ['schema_url', 2],
  2: ['type', 2],
  3: ['id_keys', 2],
  4: ['description_keys', 2],
});
export const SCOPE = shape('InstrumentationScope', {
  1: ['name', 2],
  2: ['version', 2],
  3: ['attributes', 2],
  4: ['dropped_attributes_count', 0],
});
export const EVENT = shape('Span.Event', {
  1: ['time_unix_nano', 1],
  2: ['name', 2],
  3: ['attributes', 2],
  4: ['dropped_attributes_count', 0],
});
export const LINK = shape('Span.Link', {
  1: ['trace_id', 2],
  2: ['span_id', 2],
  3: ['trace_state', 2],
  4: ['attributes', 2],
  5: ['dropped_attributes_count', 0],
  6: ['flags', 5],
});
export const STATUS = shape('Status', { 2: ['message', 2], 3: ['code', 0] });

/**
 * Skips a field the caller did not recognise by tag. A known field number reaching here has
 * the wrong wire type, which is malformed input rather than a newer schema.
 */
export function skipOther(r: ProtobufReader, tag: number, message: MessageShape): void {
  const known = message.fields[tag >>> 3];
  if (known !== undefined) throw wrongWireType(`${message.name}.${known[0]}`, tag & 7, known[1], r.pos);
  r.skipField(tag & 7);
}

function skipBytes(r: ProtobufReader): void {
  const len = r.length();
  r.pos += len;
}

function skipFixed(r: ProtobufReader, size: number): void {
  if (r.end - r.pos < size) throw new OtlpDecodeError(`truncated fixed${size * 8}`, r.pos);
  r.pos += size;
}

/** One KeyValue; `depth` is the number of arrays/kvlists around it. */
export function validateKeyValue(r: ProtobufReader, depth: number): void {
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) {
      skipBytes(r);
    } else if (t === 0x12) {
      const outer = r.enter();
      validateAnyValue(r, depth);
      r.leave(outer);
    } else if (t === 0x18) {
      r.skipVarint();
    } else {
      skipOther(r, t, KEY_VALUE);
    }
  }
}

export function validateAnyValue(r: ProtobufReader, depth: number): void {
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x0a: // string_value
      case 0x3a: // bytes_value
        skipBytes(r);
        break;
      case 0x10: // bool_value
      case 0x18: // int_value
      case 0x40: // string_value_strindex
        r.skipVarint();
        break;
      case 0x21: // double_value
        skipFixed(r, 8);
        break;
      case 0x2a: // array_value
      case 0x32: { // kvlist_value
        if (depth >= MAX_ANY_VALUE_DEPTH) {
          throw new OtlpDecodeError(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`, r.pos);
        }
        const outer = r.enter();
        validateValueList(r, depth + 1, t === 0x32);
        r.leave(outer);
        break;
      }
      default:
        skipOther(r, t, ANY_VALUE);
    }
  }
}

/** ArrayValue (repeated AnyValue) or KeyValueList (repeated KeyValue): both use field 1. */
function validateValueList(r: ProtobufReader, depth: number, keyValues: boolean): void {
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) {
      const outer = r.enter();
      if (keyValues) validateKeyValue(r, depth);
      else validateAnyValue(r, depth);
      r.leave(outer);
    } else {
      skipOther(r, t, keyValues ? KEY_VALUE_LIST : ARRAY_VALUE);
    }
  }
}

/** A repeated KeyValue field's element: enters it, checks it, leaves. */
export function validateAttribute(r: ProtobufReader): void {
  const outer = r.enter();
  const end = r.end;
  if (scanScalarKeyValue(r.buf, r.pos, end)) r.pos = end;
  else validateKeyValue(r, 0);
  r.leave(outer);
}

/**
 * Checks a run of repeated KeyValue fields with the one-byte tag `tag`, the reader just
 * past the first tag. Attributes come in runs, so the common ones are checked here in one
 * loop without going back to the caller's field dispatch; the first that is not a simple
 * scalar KeyValue goes through the general validator and ends the run.
 */
export function validateAttributeRun(r: ProtobufReader, tag: number): void {
  const buf = r.buf;
  const end = r.end;
  let pos = r.pos;
  for (;;) {
    // Nearly every attribute is shorter than 128 bytes: its one-byte length is read inline.
    const b = pos < end ? buf[pos] : 0x80;
    let kvEnd: number;
    let kvStart: number;
    if (b < 0x80) {
      kvStart = pos + 1;
      kvEnd = kvStart + b;
      if (kvEnd > end) kvEnd = -1;
    } else {
      kvEnd = skipLengthDelimited(buf, pos, end);
      kvStart = lengthEnd;
    }
    if (kvEnd < 0 || !(isShortScalarKeyValue(buf, kvStart, kvEnd) || scanScalarKeyValue(buf, kvStart, kvEnd))) {
      r.pos = pos;
      validateAttribute(r);
      return;
    }
    pos = kvEnd;
    if (pos >= end || buf[pos] !== tag) break;
    pos++;
  }
  r.pos = pos;
}

/**
 * The fast path of attribute checking (attributes are most of a span's fields; through the
 * general validator they took a fifth of decode time, with these paths about a tenth): a
 * KeyValue made of a key and a scalar value (string, bool, int, double, bytes), with
 * one-byte tags and lengths under 2^28, read with local variables only. Returns false for
 * anything else (nested values, unknown fields, malformed bytes) and the general validator,
 * which gives the precise error, checks that KeyValue instead.
 */
function scanScalarKeyValue(buf: Uint8Array, pos: number, end: number): boolean {
  while (pos < end) {
    const t = buf[pos++];
    if (t === 0x0a) {
      pos = skipLengthDelimited(buf, pos, end);
      if (pos < 0) return false;
    } else if (t === 0x12) {
      const valueEnd = skipLengthDelimited(buf, pos, end);
      if (valueEnd < 0) return false;
      pos = lengthEnd;
      while (pos < valueEnd) {
        const vt = buf[pos++];
        if (vt === 0x0a || vt === 0x3a) {
          pos = skipLengthDelimited(buf, pos, valueEnd);
          if (pos < 0) return false;
        } else if (vt === 0x10 || vt === 0x18) {
          // A varint of at most 10 bytes whose 10th byte holds only bit 63.
          let n = 0;
          while (pos < valueEnd && buf[pos] >= 0x80 && n < 9) {
            pos++;
            n++;
          }
          if (pos >= valueEnd || buf[pos] >= 0x80 || (n === 9 && buf[pos] > 1)) return false;
          pos++;
        } else if (vt === 0x21) {
          pos += 8;
          if (pos > valueEnd) return false;
        } else {
          return false;
        }
      }
    } else {
      return false;
    }
  }
  return true;
}

/**
 * The most common attribute of all, straight-line: a key then a string, int, bool or double
 * value, with every length under 128. False means "not this shape", not "malformed".
 */
function isShortScalarKeyValue(buf: Uint8Array, pos: number, end: number): boolean {
  if (end - pos < 4 || buf[pos] !== 0x0a) return false;
  const keyLen = buf[pos + 1];
  if (keyLen >= 0x80) return false;
  pos += 2 + keyLen;
  if (end - pos < 3 || buf[pos] !== 0x12 || buf[pos + 1] !== end - pos - 2) return false;
  pos += 2;
  const t = buf[pos];
  if (t === 0x0a) return buf[pos + 1] === end - pos - 2;
  if (t === 0x21) return end - pos === 9;
  if (t === 0x10 || t === 0x18) {
    // A varint filling the rest of the value: continuation bits on all bytes but the last.
    if (end - pos < 2 || end - pos > 11) return false;
    for (let i = pos + 1; i < end - 1; i++) if (buf[i] < 0x80) return false;
    const last = buf[end - 1];
    return last < 0x80 && (end - pos < 11 || last <= 1);
  }
  return false;
}

/** Set by skipLengthDelimited: where the payload starts (after the length prefix). */
let lengthEnd = 0;

/**
 * Skips a length prefix and its payload at `pos`; returns the payload's end, or -1 when the
 * length is longer than 4 bytes or runs past `end`.
 */
function skipLengthDelimited(buf: Uint8Array, pos: number, end: number): number {
  let len = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    const b = buf[pos++];
    len |= (b & 0x7f) << shift;
    if (b < 0x80) {
      lengthEnd = pos;
      const payloadEnd = pos + len;
      return payloadEnd <= end ? payloadEnd : -1;
    }
  }
  return -1;
}

export function validateResource(r: ProtobufReader): void {
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) {
      validateAttribute(r);
    } else if (t === 0x10) {
      r.skipVarint();
    } else if (t === 0x1a) {
      const outer = r.enter();
      validateStrings(r, ENTITY_REF);
      r.leave(outer);
    } else {
      skipOther(r, t, RESOURCE);
    }
  }
}

/** A message whose known fields are all strings (EntityRef). */
function validateStrings(r: ProtobufReader, message: MessageShape): void {
  while (r.pos < r.end) {
    const t = r.tag();
    if ((t & 7) === 2) skipBytes(r);
    else skipOther(r, t, message);
  }
}

export function validateScope(r: ProtobufReader): void {
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a || t === 0x12) skipBytes(r);
    else if (t === 0x1a) validateAttribute(r);
    else if (t === 0x20) r.skipVarint();
    else skipOther(r, t, SCOPE);
  }
}

export function validateEvent(r: ProtobufReader): void {
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x09) skipFixed(r, 8);
    else if (t === 0x12) skipBytes(r);
    else if (t === 0x1a) validateAttribute(r);
    else if (t === 0x20) r.skipVarint();
    else skipOther(r, t, EVENT);
  }
}

/**
 * A link's ids may be empty (unknown) but otherwise have the OTLP sizes, as the Collector's
 * pdata requires when it unmarshals them.
 */
export function validateLink(r: ProtobufReader): void {
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x0a:
      case 0x12: {
        const want = t === 0x0a ? 16 : 8;
        const at = r.pos;
        const len = r.length();
        if (len !== 0 && len !== want) {
          const field = t === 0x0a ? 'trace_id' : 'span_id';
          throw new OtlpDecodeError(`Span.Link.${field}: expected ${want} bytes, got ${len}`, at);
        }
        r.pos += len;
        break;
      }
      case 0x1a:
        skipBytes(r);
        break;
      case 0x22:
        validateAttribute(r);
        break;
      case 0x28:
        r.skipVarint();
        break;
      case 0x35:
        skipFixed(r, 4);
        break;
      default:
        skipOther(r, t, LINK);
    }
  }
}

export const EXPORT_REQUEST = shape('ExportTraceServiceRequest', { 1: ['resource_spans', 2] });
export const RESOURCE_SPANS = shape('ResourceSpans', { 1: ['resource', 2], 2: ['scope_spans', 2], 3: ['schema_url', 2] });
export const SCOPE_SPANS = shape('ScopeSpans', { 1: ['scope', 2], 2: ['spans', 2], 3: ['schema_url', 2] });
export const SPAN = shape('Span', {
  1: ['trace_id', 2],
  2: ['span_id', 2],
  3: ['trace_state', 2],
  4: ['parent_span_id', 2],
  5: ['name', 2],
  6: ['kind', 0],
  7: ['start_time_unix_nano', 1],
  8: ['end_time_unix_nano', 1],
  9: ['attributes', 2],
  10: ['dropped_attributes_count', 0],
  11: ['events', 2],
  12: ['dropped_events_count', 0],
  13: ['links', 2],
  14: ['dropped_links_count', 0],
  15: ['status', 2],
  16: ['flags', 5],
});
