import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { DecodeResult } from '../../src/otlp/types.js';

/**
 * Reads what the generator wrote, independently of the code under test: OTLP/JSON lines with
 * JSON.parse, OTLP protobuf with protobufjs and the subset of the OTLP schema tests look at.
 */
export interface FlatSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly statusCode: number;
  readonly attributes: Record<string, unknown>;
  readonly events: { name: string; attributes: Record<string, unknown> }[];
  readonly flags: number;
  readonly service: string;
  readonly resource: Record<string, unknown>;
  readonly scope: string;
  /** Index of the request (line, POST, message) the span arrived in. */
  readonly request: number;
}

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

function jsonValue(value: JsonAnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = jsonValue(kv.value);
  return out;
}

/** One ExportTraceServiceRequest in OTLP/JSON, flattened to spans. */
export function spansFromJson(text: string, request: number): FlatSpan[] {
  const body = JSON.parse(text) as {
    resourceSpans: {
      resource: { attributes: JsonKeyValue[] };
      scopeSpans: {
        scope: { name: string };
        spans: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
          attributes?: JsonKeyValue[];
          events?: { name: string; attributes?: JsonKeyValue[] }[];
          status?: { code?: number };
          flags?: number;
        }[];
      }[];
    }[];
  };
  const out: FlatSpan[] = [];
  for (const rs of body.resourceSpans) {
    const resource = jsonAttributes(rs.resource.attributes);
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          statusCode: s.status?.code ?? 0,
          attributes: jsonAttributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: jsonAttributes(e.attributes) })),
          flags: s.flags ?? 0,
          service: String(resource['service.name']),
          resource,
          scope: ss.scope.name,
          request,
        });
      }
    }
  }
  return out;
}

/** Every span of an OTLP/JSON lines file; `requests` is the number of lines. */
export function readJsonLines(path: string): { spans: FlatSpan[]; requests: number } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  return { spans: lines.flatMap((line, i) => spansFromJson(line, i)), requests: lines.length };
}

export function readManifest<T = ManifestLine>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

export interface ManifestLine {
  traceId: string;
  spans: number;
  rootService: string;
  rootName: string;
  startMs: number;
  durationMs: number;
  hasError: boolean;
  faults: string[];
}

// Field numbers from opentelemetry/proto (trace/v1, common/v1, resource/v1, collector/trace/v1).
const OTLP_SUBSET = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message KeyValue { string key = 1; AnyValue value = 2; }
message ArrayValue { repeated AnyValue values = 1; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; }
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
  repeated Event events = 11; Status status = 15; fixed32 flags = 16;
}
`;
const RequestType = protobuf.parse(OTLP_SUBSET).root.lookupType('otlp.ExportTraceServiceRequest');

interface PbAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
}
interface PbKeyValue {
  key: string;
  value: PbAnyValue;
}

function pbAttributes(list: PbKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const value = (v: PbAnyValue): unknown => {
    if (v.stringValue !== undefined) return v.stringValue;
    if (v.boolValue !== undefined) return v.boolValue;
    if (v.intValue !== undefined) return Number(v.intValue);
    if (v.doubleValue !== undefined) return v.doubleValue;
    if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
    return undefined;
  };
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

/** One ExportTraceServiceRequest in OTLP protobuf, flattened to spans. */
export function spansFromProtobuf(bytes: Uint8Array, request: number): FlatSpan[] {
  const decoded = RequestType.toObject(RequestType.decode(bytes), { longs: String, bytes: String, oneofs: false }) as {
    resourceSpans?: {
      resource?: { attributes?: PbKeyValue[] };
      scopeSpans?: {
        scope?: { name?: string };
        spans?: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind?: number;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
          attributes?: PbKeyValue[];
          events?: { name: string; attributes?: PbKeyValue[] }[];
          status?: { code?: number };
          flags?: number;
        }[];
      }[];
    }[];
  };
  const hex = (base64: string | undefined): string => Buffer.from(base64 ?? '', 'base64').toString('hex');
  const out: FlatSpan[] = [];
  for (const rs of decoded.resourceSpans ?? []) {
    const resource = pbAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind ?? 0,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          statusCode: s.status?.code ?? 0,
          attributes: pbAttributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: pbAttributes(e.attributes) })),
          flags: s.flags ?? 0,
          service: String(resource['service.name']),
          resource,
          scope: ss.scope?.name ?? '',
          request,
        });
      }
    }
  }
  return out;
}

/** Spans grouped by trace id, in first-seen order. */
export function byTrace(spans: readonly FlatSpan[]): Map<string, FlatSpan[]> {
  const traces = new Map<string, FlatSpan[]>();
  for (const span of spans) {
    const list = traces.get(span.traceId);
    if (list) list.push(span);
    else traces.set(span.traceId, [span]);
  }
  return traces;
}

/**
 * Structural problems of one trace: not exactly one root, a parent that is missing, a child
 * outside its parent's time range, a span that ends before it starts.
 */
export function traceProblems(spans: readonly FlatSpan[]): string[] {
  const problems: string[] = [];
  const ids = new Map(spans.map((s) => [s.spanId, s]));
  if (ids.size !== spans.length) problems.push('duplicate span ids');
  const roots = spans.filter((s) => s.parentSpanId === '');
  if (roots.length !== 1) problems.push(`${roots.length} roots`);
  for (const span of spans) {
    if (span.endNs < span.startNs) problems.push(`${span.name} ends before it starts`);
    if (span.parentSpanId === '') continue;
    const parent = ids.get(span.parentSpanId);
    if (!parent) {
      problems.push(`${span.name}: parent ${span.parentSpanId} missing`);
      continue;
    }
    if (span.startNs < parent.startNs || span.endNs > parent.endNs) {
      problems.push(`${span.service}/${span.name} outside its parent ${parent.service}/${parent.name}`);
    }
  }
  return problems;
}

/** A span as the project's own decoder (src/otlp) reports it. */
export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  serviceName: string;
  statusCode: number;
}

interface ProjectDecoder {
  json(text: string): DecodedSpan[];
  protobuf(bytes: Uint8Array): DecodedSpan[];
}

/**
 * The project's OTLP decoder when it is present in the tree (it is written alongside the
 * generator), so generated output is also checked against what the engine will read.
 */
export async function projectDecoder(): Promise<ProjectDecoder | undefined> {
  const index = new URL('../../src/otlp/index.ts', import.meta.url);
  const { existsSync } = await import('node:fs');
  if (!existsSync(index)) return undefined;
  type Decode = (body: string | Uint8Array) => DecodeResult;
  const otlp = (await import(index.href)) as { decodeJsonRequest?: Decode; decodeProtobufRequest?: Decode };
  const { decodeJsonRequest, decodeProtobufRequest } = otlp;
  if (!decodeJsonRequest || !decodeProtobufRequest) return undefined;
  const flatten = (result: DecodeResult): DecodedSpan[] => {
    if (!result.ok) throw result.error;
    return result.value.spans.map((s) => ({
      traceId: s.traceId,
      spanId: s.spanId,
      parentSpanId: s.parentSpanId,
      name: s.name,
      serviceName: s.serviceName,
      statusCode: s.statusCode,
    }));
  };
  return { json: (text) => flatten(decodeJsonRequest(text)), protobuf: (bytes) => flatten(decodeProtobufRequest(bytes)) };
}
