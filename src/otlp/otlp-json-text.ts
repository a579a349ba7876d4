import type protobuf from 'protobufjs';
import { OtlpDecodeError } from '../errors.js';
import { planOf, type FieldKind } from './otlp-json.js';
import { ArrayValueType, ExportTraceServiceRequestType, KeyValueListType } from './otlp-schema.js';
import { int64ToNumber, ProtobufReader, wrongWireType } from './protobuf-reader.js';
import { decodeUtf8 } from './utf8.js';
import { MAX_ANY_VALUE_DEPTH } from './wire-validation.js';

/*
 * Protobuf straight to OTLP/JSON as UTF-8 bytes, for sinks that write kept traces as JSON
 * (the file sink on `replay --out`, where converting through protobufjs objects and
 * JSON.stringify cost more than deciding the traces). The output is the UTF-8 of
 * `JSON.stringify(protobufRequestToJson(bytes))` for a well-formed request: the same field
 * plans (otlp-json.ts, from the protobufjs reflection of otlp-schema.ts), so the same keys in
 * the same order, defaults left out except for oneof members, a singular field read twice
 * keeps its last value, repeated fields keep wire order. Strings of printable ASCII are
 * copied from the protobuf bytes as they are; others go through JSON.stringify.
 *
 * Unlike protobufRequestToJson this does not run the full request check first: it is meant
 * for bytes the engine decoded already. It still rejects a broken wire structure (a wrong
 * wire type on a known field, a length past its message, AnyValues nested too deep) with an
 * OtlpDecodeError. Invalid UTF-8 in a string becomes U+FFFD, as everywhere else in the engine.
 */

interface JsonField {
  readonly id: number;
  readonly kind: FieldKind;
  readonly wireType: number;
  readonly repeated: boolean;
  readonly inOneof: boolean;
  readonly name: string;
  /** `"name":` and `,"name":` as bytes. */
  readonly key: Uint8Array;
  readonly nextKey: Uint8Array;
  readonly child: JsonMessage | undefined;
  /** Entering this field is one more level of AnyValue nesting (arrays, key-value lists). */
  readonly nests: boolean;
}

interface JsonMessage {
  readonly name: string;
  readonly fields: JsonField[];
  /** Index into `fields` by field number; undefined for numbers the schema does not define. */
  readonly byNumber: (number | undefined)[];
}

const messages = new Map<protobuf.Type, JsonMessage>();

function jsonMessageOf(type: protobuf.Type): JsonMessage {
  let message = messages.get(type);
  if (message !== undefined) return message;
  // Registered before its children are built: AnyValue and ArrayValue contain each other.
  const fields: JsonField[] = [];
  message = { name: type.name, fields, byNumber: [] };
  messages.set(type, message);
  const plans = planOf(type).fields;
  for (const plan of plans) {
    message.byNumber[plan.id] = fields.length;
    const key = `${JSON.stringify(plan.name)}:`;
    fields.push({
      id: plan.id,
      kind: plan.kind,
      wireType: plan.wireType,
      repeated: plan.repeated,
      inOneof: plan.inOneof,
      name: plan.name,
      key: Buffer.from(key, 'latin1'),
      nextKey: Buffer.from(`,${key}`, 'latin1'),
      child: undefined,
      nests: plan.messageType === ArrayValueType || plan.messageType === KeyValueListType,
    });
  }
  plans.forEach((plan, i) => {
    if (plan.messageType !== undefined) fields[i] = { ...fields[i], child: jsonMessageOf(plan.messageType) };
  });
  return message;
}

const REQUEST = jsonMessageOf(ExportTraceServiceRequestType);
const MOST_FIELDS = Math.max(...[...messages.values()].map((m) => m.fields.length));

/**
 * Where each field of a message was seen: for field i, the offsets of the tags of its first
 * and of its last occurrence (-1: absent). One array per nesting level, reused, so a span
 * costs no allocation for this.
 */
const seenAt: Int32Array[] = [];

// The output is built in one buffer reused from call to call (calls never overlap: the
// writer is synchronous); one that grew past KEEP_BYTES for a large request is let go after.
const START_BYTES = 64 * 1024;
const KEEP_BYTES = 4 * 1024 * 1024;
let out = Buffer.allocUnsafe(START_BYTES);
let at = 0;

const QUOTE = 0x22;
const COMMA = 0x2c;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The OTLP/JSON of a protobuf ExportTraceServiceRequest as UTF-8, followed by a newline
 * when `newline` is set (a JSON Lines record).
 * @throws OtlpDecodeError when the wire structure is broken.
 */
export function protobufRequestToJsonBytes(bytes: Uint8Array, options: { readonly newline?: boolean } = {}): Buffer {
  at = 0;
  try {
    writeMessage(new ProtobufReader(bytes), REQUEST, 0, bytes.length, 0, 0);
    if (options.newline) {
      room(1);
      out[at++] = 0x0a;
    }
    const result = Buffer.allocUnsafe(at);
    out.copy(result, 0, 0, at);
    return result;
  } finally {
    if (out.length > KEEP_BYTES) out = Buffer.allocUnsafe(START_BYTES);
  }
}

/**
 * The OTLP/JSON text of a protobuf ExportTraceServiceRequest: what
 * `JSON.stringify(protobufRequestToJson(bytes))` gives for a well-formed request.
 * @throws OtlpDecodeError when the wire structure is broken.
 */
export function protobufRequestToJsonText(bytes: Uint8Array): string {
  return protobufRequestToJsonBytes(bytes).toString('utf8');
}

function room(bytes: number): void {
  if (at + bytes <= out.length) return;
  const grown = Buffer.allocUnsafe(Math.max(out.length * 2, at + bytes));
  out.copy(grown, 0, 0, at);
  out = grown;
}

/** Keys and other short byte runs: a loop, as TypedArray.set costs more than it copies here. */
function put(bytes: Uint8Array): void {
  const len = bytes.length;
  room(len);
  // Module variables in locals: the loop would otherwise reload them on every byte.
  const o = out;
  const base = at;
  for (let i = 0; i < len; i++) o[base + i] = bytes[i];
  at = base + len;
}

/** Text known to be ASCII (numbers, base64, JSON.stringify of a double). */
function putAscii(text: string): void {
  room(text.length);
  at += out.write(text, at, 'latin1');
}

function writeMessage(r: ProtobufReader, message: JsonMessage, start: number, end: number, level: number, depth: number): void {
  const fields = message.fields;
  const n = fields.length;
  const seen = (seenAt[level] ??= new Int32Array(2 * MOST_FIELDS));
  // A loop, not fill(): for a dozen entries the builtin's call costs more than the stores.
  for (let i = 0; i < 2 * n; i++) seen[i] = -1;
  r.pos = start;
  r.end = end;
  while (r.pos < end) {
    const tagAt = r.pos;
    const t = r.tag();
    const wire = t & 7;
    const i = message.byNumber[t >>> 3];
    if (i !== undefined) {
      const field = fields[i];
      if (wire !== field.wireType) throw wrongWireType(`${message.name}.${field.name}`, wire, field.wireType, tagAt);
      if (seen[2 * i] < 0) seen[2 * i] = tagAt;
      seen[2 * i + 1] = tagAt;
    }
    r.skipField(wire);
  }

  room(1);
  out[at++] = 0x7b; // {
  let written = false;
  for (let i = 0; i < n; i++) {
    const last = seen[2 * i + 1];
    if (last < 0) continue;
    const field = fields[i];
    if (field.repeated) {
      // Every element is written, defaults included: its position is part of the value.
      put(written ? field.nextKey : field.key);
      room(1);
      out[at++] = 0x5b; // [
      let item = seen[2 * i];
      let first = true;
      while (item <= last) {
        r.pos = item;
        r.end = end;
        const t = r.tag();
        if (t >>> 3 === field.id) {
          if (!first) {
            room(1);
            out[at++] = COMMA;
          }
          writeValue(r, field, end, level, depth, undefined);
          first = false;
        } else {
          r.skipField(t & 7);
        }
        item = r.pos;
      }
      room(1);
      out[at++] = 0x5d; // ]
      written = true;
    } else {
      r.pos = last;
      r.end = end;
      r.tag();
      if (writeValue(r, field, end, level, depth, written ? field.nextKey : field.key)) written = true;
    }
  }
  room(1);
  out[at++] = 0x7d; // }
}

/**
 * One value, read at `r.pos` (just past its tag) within a message ending at `end`; leaves
 * `r.pos` past the value. With a `key`, the value is a singular field's: it is written after
 * the key unless it is a default that is left out (returns false). Without one it is an array
 * element and always written.
 */
function writeValue(r: ProtobufReader, field: JsonField, end: number, level: number, depth: number, key: Uint8Array | undefined): boolean {
  const keep = key === undefined || field.inOneof;
  switch (field.kind) {
    case 'message': {
      const len = r.length();
      const start = r.pos;
      let nested = depth;
      if (field.nests && ++nested > MAX_ANY_VALUE_DEPTH) {
        throw new OtlpDecodeError(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`, start);
      }
      if (key !== undefined) put(key);
      writeMessage(r, field.child as JsonMessage, start, start + len, level + 1, nested);
      r.pos = start + len;
      r.end = end;
      return true;
    }
    case 'string': {
      const len = r.length();
      const start = r.pos;
      r.pos = start + len;
      if (len === 0 && !keep) return false;
      if (key !== undefined) put(key);
      putString(r.buf, start, start + len);
      return true;
    }
    case 'bytes': {
      const len = r.length();
      const start = r.pos;
      r.pos = start + len;
      if (len === 0 && !keep) return false;
      if (key !== undefined) put(key);
      putQuotedAscii(Buffer.from(r.buf.buffer, r.buf.byteOffset + start, len).toString('base64'));
      return true;
    }
    case 'hex-id': {
      const len = r.length();
      const start = r.pos;
      r.pos = start + len;
      if (len === 0 && !keep) return false;
      if (key !== undefined) put(key);
      putHex(r.buf, start, len);
      return true;
    }
    case 'bool': {
      // protobufjs reads a bool as the low 32 bits of the varint being non-zero.
      const value = r.varint32();
      if (value === 0 && !keep) return false;
      if (key !== undefined) put(key);
      putAscii(value === 0 ? 'false' : 'true');
      return true;
    }
    case 'uint32':
    case 'enum': {
      let value = field.wireType === 5 ? r.fixed32() : r.varint32();
      if (field.kind === 'enum') value |= 0;
      if (value === 0 && !keep) return false;
      if (key !== undefined) put(key);
      putAscii(String(value));
      return true;
    }
    case 'int64':
    case 'fixed64': {
      if (field.kind === 'int64') r.varint64();
      else r.fixed64();
      const { lo, hi } = r;
      if (lo === 0 && hi === 0 && !keep) return false;
      if (key !== undefined) put(key);
      putQuotedAscii(field.kind === 'int64' ? int64Text(lo, hi) : uint64Text(lo, hi));
      return true;
    }
    case 'double': {
      const value = r.double();
      if (value === 0 && !keep) return false;
      if (key !== undefined) put(key);
      if (Number.isNaN(value)) putQuotedAscii('NaN');
      else if (value === Infinity) putQuotedAscii('Infinity');
      else if (value === -Infinity) putQuotedAscii('-Infinity');
      else putAscii(JSON.stringify(value));
      return true;
    }
  }
}

function putQuotedAscii(text: string): void {
  room(text.length + 2);
  out[at++] = QUOTE;
  at += out.write(text, at, 'latin1');
  out[at++] = QUOTE;
}

/**
 * A protobuf string as a JSON string. Printable ASCII other than `"` and `\` is the same
 * bytes in JSON, so it is copied; anything else is decoded and left to JSON.stringify, which
 * decides the escapes.
 */
function putString(buf: Uint8Array, start: number, end: number): void {
  room(end - start + 2);
  const o = out;
  let to = at;
  o[to++] = QUOTE;
  let i = start;
  for (; i < end; i++) {
    const b = buf[i];
    if (b < 0x20 || b >= 0x80 || b === QUOTE || b === 0x5c) break;
    o[to++] = b;
  }
  if (i === end) {
    o[to++] = QUOTE;
    at = to;
    return;
  }
  const text = JSON.stringify(decodeUtf8(buf, start, end));
  // JSON.stringify keeps every character it does not escape, each at most 3 UTF-8 bytes.
  room(text.length * 3);
  at += out.write(text, at, 'utf8');
}

function putHex(buf: Uint8Array, start: number, len: number): void {
  room(2 * len + 2);
  const o = out;
  let to = at;
  o[to++] = QUOTE;
  for (let i = start; i < start + len; i++) {
    const b = buf[i];
    o[to++] = HEX_DIGITS[b >> 4];
    o[to++] = HEX_DIGITS[b & 15];
  }
  o[to++] = QUOTE;
  at = to;
}

const TWO_POW_32 = 4294967296;
/** High words below this keep a 64-bit value under 2^53, exact as a double. */
const EXACT_HI = 0x200000;

function uint64Text(lo: number, hi: number): string {
  if (hi < EXACT_HI) return String(hi * TWO_POW_32 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function int64Text(lo: number, hi: number): string {
  if (hi < EXACT_HI) return String(hi * TWO_POW_32 + lo);
  if (hi >= TWO_POW_32 - EXACT_HI) return String(int64ToNumber(lo, hi));
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
}
