import protobuf from 'protobufjs';
import { OtlpDecodeError } from '../errors.js';
import type { DecodeResult } from './types.js';
import { decodeProtobufRequest, decodeProtobufSpans, type DecodeOptions } from './decode-protobuf.js';
import { bytesToHex, hexToBytes } from './hex.js';
import { MAX_ANY_VALUE_DEPTH } from './wire-validation.js';
import {
  ArrayValueType,
  ExportTraceServiceRequestType,
  KeyValueListType,
  LinkType,
  SpanType,
} from './otlp-schema.js';

/*
 * OTLP/JSON: the proto3 JSON mapping with OTLP's deviations (docs/specification.md of
 * opentelemetry-proto, "JSON Protobuf Encoding"):
 * - trace and span ids are hex, case-insensitive in, lowercase out (not base64);
 * - enums are integers; the spec forbids senders to use enum names, but proto3 JSON
 *   parsers accept them, and so do we on input (never on output);
 * - keys are lowerCamelCase; snake_case field names are accepted on input as well, as the
 *   Collector's pdata does, and never written;
 * - unknown keys are ignored; null means "not set";
 * - 64-bit integers are decimal strings (numbers accepted on input), bytes are base64
 *   (standard or URL-safe alphabet, padding optional, on input).
 *
 * Both directions walk the protobufjs reflection of otlp-schema.ts, so the field list lives
 * in one place; protobufjs does the binary encoding and decoding. This path is not hot: sinks
 * that write kept traces as JSON use otlp-json-text.ts, which writes the same JSON straight
 * from the protobuf bytes using the same field plans.
 */

export type OtlpJsonDouble = number | 'NaN' | 'Infinity' | '-Infinity';

export interface OtlpJsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  /** int64 as a decimal string. */
  intValue?: string;
  doubleValue?: OtlpJsonDouble;
  arrayValue?: { values?: OtlpJsonAnyValue[] };
  kvlistValue?: { values?: OtlpJsonKeyValue[] };
  /** base64 */
  bytesValue?: string;
}

export interface OtlpJsonKeyValue {
  key?: string;
  value?: OtlpJsonAnyValue;
}

export interface OtlpJsonResource {
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
  entityRefs?: { schemaUrl?: string; type?: string; idKeys?: string[]; descriptionKeys?: string[] }[];
}

export interface OtlpJsonScope {
  name?: string;
  version?: string;
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpJsonEvent {
  /** Unix nanoseconds as a decimal string. */
  timeUnixNano?: string;
  name?: string;
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpJsonLink {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
}

export interface OtlpJsonSpan {
  /** 32 lowercase hex characters. */
  traceId?: string;
  /** 16 lowercase hex characters. */
  spanId?: string;
  traceState?: string;
  parentSpanId?: string;
  flags?: number;
  name?: string;
  kind?: number;
  /** Unix nanoseconds as a decimal string. */
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
  events?: OtlpJsonEvent[];
  droppedEventsCount?: number;
  links?: OtlpJsonLink[];
  droppedLinksCount?: number;
  status?: { message?: string; code?: number };
}

export interface OtlpJsonScopeSpans {
  scope?: OtlpJsonScope;
  spans?: OtlpJsonSpan[];
  schemaUrl?: string;
}

export interface OtlpJsonResourceSpans {
  resource?: OtlpJsonResource;
  scopeSpans?: OtlpJsonScopeSpans[];
  schemaUrl?: string;
}

/** An OTLP/JSON ExportTraceServiceRequest. Fields at their default value are omitted. */
export interface OtlpJsonRequest {
  resourceSpans?: OtlpJsonResourceSpans[];
}

/**
 * Decodes an OTLP/JSON ExportTraceServiceRequest: parses and checks it (errors name the
 * JSON path, e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex
 * characters`), converts it to protobuf and decodes that, so the rest of the engine only
 * ever sees protobuf bytes. Never throws.
 */
export function decodeJsonRequest(body: string | Uint8Array, options?: DecodeOptions): DecodeResult {
  let json: unknown;
  try {
    const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return { ok: false, error: new OtlpDecodeError(`invalid JSON: ${(err as Error).message}`) };
  }
  let bytes: Uint8Array;
  try {
    bytes = jsonRequestToProtobuf(json);
  } catch (err) {
    if (err instanceof OtlpDecodeError) return { ok: false, error: err };
    throw err;
  }
  return decodeProtobufRequest(bytes, options);
}

/**
 * Encodes a parsed OTLP/JSON ExportTraceServiceRequest as protobuf.
 * @throws OtlpDecodeError naming the JSON path of the first problem.
 */
export function jsonRequestToProtobuf(json: unknown): Uint8Array {
  const message = jsonToMessage(json, planOf(ExportTraceServiceRequestType), '', 0);
  const bytes = ExportTraceServiceRequestType.encode(message).finish();
  // protobufjs hands out a Buffer on Node; callers were promised a plain Uint8Array.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Converts a protobuf ExportTraceServiceRequest, every field included, to OTLP/JSON, with
 * default values omitted as protobuf's JSON serializers do (and unknown fields dropped, as
 * JSON has no way to carry them).
 * @throws OtlpDecodeError when the bytes are not a well-formed request.
 */
export function protobufRequestToJson(bytes: Uint8Array): OtlpJsonRequest {
  // Our own walk first: protobufjs trusts wire types and would misread a malformed request.
  const checked = decodeProtobufSpans(bytes);
  if (!checked.ok) throw checked.error;
  const message = ExportTraceServiceRequestType.decode(bytes);
  return messageToJson(message as unknown as Record<string, unknown>, planOf(ExportTraceServiceRequestType));
}

// ---------------------------------------------------------------------------------------
// Field plans: what each field of a message is, once per message type.

export type FieldKind =
  | 'message'
  | 'enum'
  | 'string'
  | 'bool'
  | 'uint32'
  | 'int64'
  | 'fixed64'
  | 'double'
  | 'bytes'
  | 'hex-id';

export interface FieldPlan {
  /** protobufjs name, which is the lowerCamelCase JSON key. */
  readonly name: string;
  /** Field number. */
  readonly id: number;
  /** The wire type the field is written with (none is packed in these messages). */
  readonly wireType: number;
  readonly kind: FieldKind;
  readonly repeated: boolean;
  /** Oneof members are written even at their default value: being set is the value. */
  readonly inOneof: boolean;
  readonly messageType: protobuf.Type | undefined;
  readonly enumType: protobuf.Enum | undefined;
  /** For hex ids, their size in bytes. */
  readonly idBytes: number;
}

export interface MessagePlan {
  readonly type: protobuf.Type;
  readonly fields: readonly FieldPlan[];
  /** By lowerCamelCase key and by the proto's snake_case name. */
  readonly byKey: ReadonlyMap<string, FieldPlan>;
}

const SCALAR_KINDS: Record<string, FieldKind> = {
  string: 'string',
  bool: 'bool',
  uint32: 'uint32',
  fixed32: 'uint32',
  int64: 'int64',
  fixed64: 'fixed64',
  double: 'double',
  bytes: 'bytes',
};

/** The byte fields that OTLP/JSON writes as hex rather than base64. */
const HEX_IDS = new Map<protobuf.Type, Record<string, number>>([
  [SpanType, { traceId: 16, spanId: 8, parentSpanId: 8 }],
  [LinkType, { traceId: 16, spanId: 8 }],
]);

const plans = new Map<protobuf.Type, MessagePlan>();

export function planOf(type: protobuf.Type): MessagePlan {
  let plan = plans.get(type);
  if (plan !== undefined) return plan;
  const fields: FieldPlan[] = [];
  const byKey = new Map<string, FieldPlan>();
  for (const field of type.fieldsArray) {
    field.resolve();
    const resolved = field.resolvedType;
    const idBytes = HEX_IDS.get(type)?.[field.name] ?? 0;
    let kind: FieldKind;
    if (resolved instanceof protobuf.Type) kind = 'message';
    else if (resolved instanceof protobuf.Enum) kind = 'enum';
    else if (idBytes > 0) kind = 'hex-id';
    else kind = SCALAR_KINDS[field.type];
    if (kind === undefined) throw new Error(`otlp-schema: unsupported field type ${field.type}`);
    const fieldPlan: FieldPlan = {
      name: field.name,
      id: field.id,
      wireType: kind === 'message' ? 2 : kind === 'enum' ? 0 : (protobuf.types.basic as Record<string, number>)[field.type],
      kind,
      repeated: field.repeated,
      inOneof: field.partOf !== null,
      messageType: resolved instanceof protobuf.Type ? resolved : undefined,
      enumType: resolved instanceof protobuf.Enum ? resolved : undefined,
      idBytes,
    };
    fields.push(fieldPlan);
    byKey.set(field.name, fieldPlan);
    byKey.set(field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), fieldPlan);
  }
  plan = { type, fields, byKey };
  plans.set(type, plan);
  return plan;
}

// ---------------------------------------------------------------------------------------
// JSON to protobufjs message objects, checking every value on the way.

const TWO_POW_32 = 4294967296n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const INTEGER_TEXT = /^-?\d+$/;
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

function fail(path: string, reason: string): never {
  throw new OtlpDecodeError(path === '' ? reason : `${path}: ${reason}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonToMessage(json: unknown, plan: MessagePlan, path: string, depth: number): Record<string, unknown> {
  if (!isPlainObject(json)) fail(path, `expected an object, got ${describe(json)}`);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(json)) {
    const field = plan.byKey.get(key);
    const value = json[key];
    if (field === undefined || value === null || value === undefined) continue;
    const fieldPath = path === '' ? key : `${path}.${key}`;
    if (field.repeated) {
      if (!Array.isArray(value)) fail(fieldPath, `expected an array, got ${describe(value)}`);
      const items: unknown[] = [];
      for (let i = 0; i < value.length; i++) {
        const item = jsonToValue(value[i], field, `${fieldPath}[${i}]`, depth);
        // An array element is always written: its position is part of the value.
        items.push(item === undefined ? defaultOf(field) : item);
      }
      if (items.length > 0) out[field.name] = items;
    } else {
      const converted = jsonToValue(value, field, fieldPath, depth);
      if (converted !== undefined) out[field.name] = converted;
    }
  }
  if (plan.type === SpanType) checkSpanIds(out, path);
  return out;
}

function checkSpanIds(span: Record<string, unknown>, path: string): void {
  const prefix = path === '' ? '' : `${path}.`;
  const traceId = span.traceId as Uint8Array | undefined;
  const spanId = span.spanId as Uint8Array | undefined;
  if (traceId === undefined) fail(`${prefix}traceId`, 'missing (32 hex characters required)');
  if (spanId === undefined) fail(`${prefix}spanId`, 'missing (16 hex characters required)');
  if (traceId.every((b) => b === 0)) fail(`${prefix}traceId`, 'all zero (an invalid trace id)');
  if (spanId.every((b) => b === 0)) fail(`${prefix}spanId`, 'all zero (an invalid span id)');
}

function defaultOf(field: FieldPlan): unknown {
  switch (field.kind) {
    case 'message':
      return {};
    case 'string':
      return '';
    case 'bytes':
    case 'hex-id':
      return new Uint8Array(0);
    case 'bool':
      return false;
    default:
      return 0;
  }
}

/** One value of a field; undefined when it is the default and need not be written. */
function jsonToValue(value: unknown, field: FieldPlan, path: string, depth: number): unknown {
  const keep = field.inOneof;
  switch (field.kind) {
    case 'message': {
      const type = field.messageType as protobuf.Type;
      let nested = depth;
      if (type === ArrayValueType || type === KeyValueListType) {
        nested = depth + 1;
        if (nested > MAX_ANY_VALUE_DEPTH) fail(path, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
      }
      return jsonToMessage(value, planOf(type), path, nested);
    }
    case 'string':
      if (typeof value !== 'string') fail(path, `expected a string, got ${describe(value)}`);
      return value === '' && !keep ? undefined : value;
    case 'bool':
      if (typeof value !== 'boolean') fail(path, `expected true or false, got ${describe(value)}`);
      return !value && !keep ? undefined : value;
    case 'uint32': {
      const n = toBigInt(value, path, 'an unsigned 32-bit integer');
      if (n < 0n || n > 0xffffffffn) fail(path, `expected an unsigned 32-bit integer, got ${describe(value)}`);
      return n === 0n && !keep ? undefined : Number(n);
    }
    case 'enum': {
      const enumType = field.enumType as protobuf.Enum;
      let n: number;
      if (typeof value === 'string' && !INTEGER_TEXT.test(value)) {
        // Own names only: `values` is a plain object, so "toString" or "__proto__" would
        // otherwise find something on its prototype and be written as 0.
        const named = Object.hasOwn(enumType.values, value) ? enumType.values[value] : undefined;
        if (named === undefined) fail(path, `expected an integer or a ${enumType.name} name, got ${describe(value)}`);
        n = named;
      } else {
        const big = toBigInt(value, path, `an integer or a ${enumType.name} name`);
        if (big < -(2n ** 31n) || big >= 2n ** 31n) fail(path, `expected a 32-bit enum value, got ${describe(value)}`);
        n = Number(big);
      }
      return n === 0 && !keep ? undefined : n;
    }
    case 'int64':
    case 'fixed64': {
      const signed = field.kind === 'int64';
      const what = signed ? 'a 64-bit integer (decimal string or number)' : 'an unsigned 64-bit integer (decimal string or number)';
      const n = toBigInt(value, path, what);
      if (signed ? n < INT64_MIN || n > INT64_MAX : n < 0n || n > UINT64_MAX) fail(path, `expected ${what}, got ${describe(value)}`);
      if (n === 0n && !keep) return undefined;
      // protobufjs writes any { low, high } pair as the 64 bits, no Long needed.
      const bits = BigInt.asUintN(64, n);
      return { low: Number(bits % TWO_POW_32) | 0, high: Number(bits / TWO_POW_32) | 0 };
    }
    case 'double': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (value === 'NaN') n = NaN;
      else if (value === 'Infinity') n = Infinity;
      else if (value === '-Infinity') n = -Infinity;
      else if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) n = Number(value);
      else fail(path, `expected a number, got ${describe(value)}`);
      return n === 0 && !keep ? undefined : n;
    }
    case 'bytes': {
      if (typeof value !== 'string' || !BASE64_TEXT.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
        fail(path, `expected base64, got ${describe(value)}`);
      }
      const bytes = new Uint8Array(Buffer.from(value, 'base64'));
      return bytes.length === 0 && !keep ? undefined : bytes;
    }
    case 'hex-id': {
      const chars = field.idBytes * 2;
      if (typeof value !== 'string') fail(path, `expected ${chars} hex characters, got ${describe(value)}`);
      if (value === '') return undefined;
      const bytes = value.length === chars ? hexToBytes(value) : undefined;
      if (bytes === undefined) fail(path, `expected ${chars} hex characters, got ${describe(value)}`);
      return bytes;
    }
  }
}

function toBigInt(value: unknown, path: string, what: string): bigint {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INTEGER_TEXT.test(value)) return BigInt(value);
  return fail(path, `expected ${what}, got ${describe(value)}`);
}

// ---------------------------------------------------------------------------------------
// protobufjs messages to JSON.

function messageToJson(message: Record<string, unknown>, plan: MessagePlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of plan.fields) {
    // Decoded messages carry fields read from the wire as own properties; the rest are
    // prototype defaults.
    if (!Object.prototype.hasOwnProperty.call(message, field.name)) continue;
    const value = message[field.name];
    if (value === null || value === undefined) continue;
    if (field.repeated) {
      const items = value as unknown[];
      if (items.length > 0) out[field.name] = items.map((item) => valueToJson(item, field, true));
    } else {
      const converted = valueToJson(value, field, field.inOneof);
      if (converted !== undefined) out[field.name] = converted;
    }
  }
  return out;
}

/** One value as JSON; undefined for a default value unless `keep`. */
function valueToJson(value: unknown, field: FieldPlan, keep: boolean): unknown {
  switch (field.kind) {
    case 'message':
      return messageToJson(value as Record<string, unknown>, planOf(field.messageType as protobuf.Type));
    case 'hex-id':
    case 'bytes': {
      const bytes = value as Uint8Array;
      if (bytes.length === 0 && !keep) return undefined;
      return field.kind === 'hex-id' ? bytesToHex(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
    }
    case 'int64':
    case 'fixed64': {
      const text = String(value);
      return text === '0' && !keep ? undefined : text;
    }
    case 'double': {
      const n = value as number;
      if (n === 0 && !keep) return undefined;
      if (Number.isNaN(n)) return 'NaN';
      if (n === Infinity) return 'Infinity';
      if (n === -Infinity) return '-Infinity';
      return n;
    }
    default:
      return (value === 0 || value === '' || value === false) && !keep ? undefined : value;
  }
}
