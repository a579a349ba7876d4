import { isIP } from 'node:net';
import type {
  OtlpJsonAnyValue,
  OtlpJsonKeyValue,
  OtlpJsonRequest,
  OtlpJsonSpan,
} from '../otlp/index.js';

/*
 * OTLP → Zipkin v2, as the OpenTelemetry specification's "OpenTelemetry to Zipkin
 * Transformation" defines it, with the generic "Transformation to non-OTLP Formats" rules
 * (instrumentation scope, dropped counts) where the Zipkin document is silent. Links and
 * trace state have no Zipkin field and are not carried.
 */

/** A Zipkin v2 endpoint (zipkin2-api.yaml). */
export interface ZipkinEndpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}

export interface ZipkinAnnotation {
  /** Unix microseconds. */
  timestamp: number;
  value: string;
}

export type ZipkinKind = 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';

/** A Zipkin v2 span as the JSON span API takes it; absent fields are omitted, as the spec asks. */
export interface ZipkinSpan {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  id: string;
  parentId?: string;
  name?: string;
  kind?: ZipkinKind;
  /** Start, Unix microseconds. */
  timestamp: number;
  /** Microseconds, at least 1: Zipkin reads 0 as "unknown". */
  duration: number;
  localEndpoint: ZipkinEndpoint;
  remoteEndpoint?: ZipkinEndpoint;
  annotations?: ZipkinAnnotation[];
  tags?: Record<string, string>;
}

// The resource SDKs fall back to when a service sets no `service.name`.
export const DEFAULT_SERVICE_NAME = 'unknown_service';

const KINDS: Readonly<Record<number, ZipkinKind>> = { 2: 'SERVER', 3: 'CLIENT', 4: 'PRODUCER', 5: 'CONSUMER' };

/**
 * Attributes naming the remote side, best first, from the spec's ranking. A second key is
 * the port that goes with an address.
 */
const REMOTE_ENDPOINT_RANKING: readonly (readonly [string, string?])[] = [
  ['peer.service'],
  ['server.address'],
  ['net.peer.name'],
  ['network.peer.address', 'network.peer.port'],
  ['server.socket.domain'],
  ['server.socket.address', 'server.socket.port'],
  ['net.sock.peer.name'],
  ['net.sock.peer.addr', 'net.sock.peer.port'],
  ['peer.hostname'],
  ['peer.address'],
  ['db.name'],
];

/** Converts a whole OTLP/JSON request to Zipkin v2 spans, in request order. */
export function otlpToZipkinSpans(request: OtlpJsonRequest): ZipkinSpan[] {
  const out: ZipkinSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resourceAttrs = resourceSpans.resource?.attributes ?? [];
    const serviceValue = findAttribute(resourceAttrs, 'service.name');
    const serviceName = serviceValue === undefined ? '' : anyValueToTag(serviceValue);
    const localEndpoint: ZipkinEndpoint = { serviceName: serviceName === '' ? DEFAULT_SERVICE_NAME : serviceName };
    const resourceTags: Record<string, string> = {};
    // The service name already is the local endpoint; every other resource attribute (e.g.
    // `service.namespace`, which the spec says must not go into the service name) is a tag.
    for (const kv of resourceAttrs) {
      if (kv.key !== undefined && kv.key !== 'service.name') resourceTags[kv.key] = anyValueToTag(kv.value);
    }
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      const scope = scopeSpans.scope;
      const scopeTags: Record<string, string> = { ...resourceTags, ...attributesToTags(scope?.attributes) };
      if (scope?.name) {
        scopeTags['otel.scope.name'] = scope.name;
        scopeTags['otel.library.name'] = scope.name;
      }
      if (scope?.version) {
        scopeTags['otel.scope.version'] = scope.version;
        scopeTags['otel.library.version'] = scope.version;
      }
      for (const span of scopeSpans.spans ?? []) out.push(spanToZipkin(span, localEndpoint, scopeTags));
    }
  }
  return out;
}

/** One span; `baseTags` (resource and scope) yield to the span's own attributes. */
export function spanToZipkin(span: OtlpJsonSpan, localEndpoint: ZipkinEndpoint, baseTags: Readonly<Record<string, string>> = {}): ZipkinSpan {
  const startUs = nanosToMicros(span.startTimeUnixNano);
  const endUs = nanosToMicros(span.endTimeUnixNano);
  const zipkin: ZipkinSpan = {
    traceId: (span.traceId ?? '').toLowerCase(),
    id: (span.spanId ?? '').toLowerCase(),
    timestamp: startUs,
    // Zipkin rounds durations under 1 µs up; 0 would read as "unknown".
    duration: Math.max(1, endUs - startUs),
    localEndpoint: { ...localEndpoint },
  };
  const parentId = (span.parentSpanId ?? '').toLowerCase();
  if (parentId !== '' && !/^0+$/.test(parentId)) zipkin.parentId = parentId;
  if (span.name) zipkin.name = span.name;
  const kind = KINDS[span.kind ?? 0];
  if (kind !== undefined) zipkin.kind = kind;

  const attributes = span.attributes ?? [];
  if (kind === 'CLIENT' || kind === 'PRODUCER') {
    const remote = remoteEndpointOf(attributes);
    if (remote !== undefined) zipkin.remoteEndpoint = remote;
  }

  const tags: Record<string, string> = { ...baseTags, ...attributesToTags(attributes) };
  if (span.droppedAttributesCount) tags['otel.dropped_attributes_count'] = String(span.droppedAttributesCount);
  if (span.droppedEventsCount) tags['otel.dropped_events_count'] = String(span.droppedEventsCount);
  if (span.droppedLinksCount) tags['otel.dropped_links_count'] = String(span.droppedLinksCount);
  applyStatus(tags, span.status);
  if (Object.keys(tags).length > 0) zipkin.tags = tags;

  const annotations = (span.events ?? []).map((event) => {
    const eventAttrs: Record<string, unknown> = {};
    for (const kv of event.attributes ?? []) {
      if (kv.key !== undefined) eventAttrs[kv.key] = new RawJson(anyValueToJson(kv.value));
    }
    if (event.droppedAttributesCount) eventAttrs['otel.dropped_attributes_count'] = event.droppedAttributesCount;
    const name = event.name ?? '';
    const value = Object.keys(eventAttrs).length === 0 ? name : `${JSON.stringify(name)}:${objectToJson(eventAttrs)}`;
    return { timestamp: nanosToMicros(event.timeUnixNano), value };
  });
  if (annotations.length > 0) zipkin.annotations = annotations;
  return zipkin;
}

/**
 * Status as tags: `otel.status_code` OK/ERROR, and for ERROR an `error` tag holding the
 * description ('' when there is none). UNSET adds nothing. Zipkin marks every span that has
 * an `error` tag as failed, so an attribute `error: false` is removed rather than forwarded.
 */
function applyStatus(tags: Record<string, string>, status: OtlpJsonSpan['status']): void {
  const code = status?.code ?? 0;
  if (code === 2) {
    tags['otel.status_code'] = 'ERROR';
    tags.error = status?.message ?? '';
    return;
  }
  if (tags.error === 'false') delete tags.error;
  if (code === 1) tags['otel.status_code'] = 'OK';
}

/** The remote side of a CLIENT or PRODUCER span, from the best-ranked attribute it has. */
export function remoteEndpointOf(attributes: readonly OtlpJsonKeyValue[]): ZipkinEndpoint | undefined {
  for (const [key, portKey] of REMOTE_ENDPOINT_RANKING) {
    const value = findAttribute(attributes, key);
    if (value === undefined) continue;
    const text = anyValueToTag(value);
    if (text === '') continue;
    const endpoint: ZipkinEndpoint = {};
    // peer.service names a service; the others name a host, which may be an IP literal.
    const family = key === 'peer.service' ? 0 : isIP(text);
    if (family === 4) endpoint.ipv4 = text;
    else if (family === 6) endpoint.ipv6 = text;
    else endpoint.serviceName = text;
    if (portKey !== undefined) {
      const portValue = findAttribute(attributes, portKey);
      const port = portValue === undefined ? NaN : Number(anyValueToTag(portValue));
      if (Number.isInteger(port) && port > 0 && port <= 65_535) endpoint.port = port;
    }
    return endpoint;
  }
  return undefined;
}

function attributesToTags(attributes: readonly OtlpJsonKeyValue[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const kv of attributes ?? []) {
    if (kv.key !== undefined) tags[kv.key] = anyValueToTag(kv.value);
  }
  return tags;
}

function findAttribute(attributes: readonly OtlpJsonKeyValue[], key: string): OtlpJsonAnyValue | undefined {
  for (const kv of attributes) if (kv.key === key) return kv.value ?? {};
  return undefined;
}

/**
 * A Zipkin tag value: strings as they are, booleans `true`/`false`, numbers in their plain
 * decimal form, byte arrays in base64, arrays and maps as JSON. An empty value is ''.
 */
export function anyValueToTag(value: OtlpJsonAnyValue | undefined): string {
  if (value === undefined) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue ? 'true' : 'false';
  // int64 arrives as decimal digits; passing them on keeps values beyond 2^53 exact.
  if (value.intValue !== undefined) return String(value.intValue);
  if (value.doubleValue !== undefined) return String(value.doubleValue);
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue !== undefined || value.kvlistValue !== undefined) return anyValueToJson(value);
  return '';
}

/** An AnyValue as JSON text; int64 digits are written as they are, never through a double. */
function anyValueToJson(value: OtlpJsonAnyValue | undefined): string {
  if (value === undefined) return 'null';
  if (value.stringValue !== undefined) return JSON.stringify(value.stringValue);
  if (value.boolValue !== undefined) return value.boolValue ? 'true' : 'false';
  if (value.intValue !== undefined) return /^-?\d+$/.test(String(value.intValue)) ? String(value.intValue) : JSON.stringify(String(value.intValue));
  if (value.doubleValue !== undefined) {
    // JSON has no NaN or infinities; those go as strings.
    return typeof value.doubleValue === 'number' && Number.isFinite(value.doubleValue)
      ? JSON.stringify(value.doubleValue)
      : JSON.stringify(String(value.doubleValue));
  }
  if (value.bytesValue !== undefined) return JSON.stringify(value.bytesValue);
  if (value.arrayValue !== undefined) return `[${(value.arrayValue.values ?? []).map(anyValueToJson).join(',')}]`;
  if (value.kvlistValue !== undefined) {
    const entries: Record<string, unknown> = {};
    for (const kv of value.kvlistValue.values ?? []) {
      if (kv.key !== undefined) entries[kv.key] = new RawJson(anyValueToJson(kv.value));
    }
    return objectToJson(entries);
  }
  return 'null';
}

/** JSON text already written, to be embedded as is. */
class RawJson {
  constructor(readonly text: string) {}
}

function objectToJson(entries: Record<string, unknown>): string {
  const parts = Object.entries(entries).map(
    ([key, v]) => `${JSON.stringify(key)}:${v instanceof RawJson ? v.text : JSON.stringify(v)}`,
  );
  return `{${parts.join(',')}}`;
}

/** Unix nanoseconds (decimal string) to whole microseconds, rounded down as the spec says. */
export function nanosToMicros(nanos: string | undefined): number {
  if (nanos === undefined || nanos === '') return 0;
  return Number(BigInt(nanos) / 1000n);
}
