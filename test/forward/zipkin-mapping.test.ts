import { describe, expect, it } from 'vitest';
import type { OtlpJsonAnyValue, OtlpJsonKeyValue, OtlpJsonRequest, OtlpJsonSpan } from '../../src/otlp/index.js';
import {
  anyValueToTag,
  DEFAULT_SERVICE_NAME,
  nanosToMicros,
  otlpToZipkinSpans,
  remoteEndpointOf,
  spanToZipkin,
  type ZipkinEndpoint,
} from '../../src/forward/zipkin-mapping.js';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';
const PARENT_ID = 'eee19b7ec3c1b173';
const local: ZipkinEndpoint = { serviceName: 'checkout' };

function span(overrides: Partial<OtlpJsonSpan> = {}): OtlpJsonSpan {
  return {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    name: 'GET /orders',
    kind: 2,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000250000000',
    ...overrides,
  };
}

const str = (key: string, value: string): OtlpJsonKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): OtlpJsonKeyValue => ({ key, value: { intValue: String(value) } });

describe('span kind', () => {
  it.each([
    [0, undefined],
    [1, undefined],
    [2, 'SERVER'],
    [3, 'CLIENT'],
    [4, 'PRODUCER'],
    [5, 'CONSUMER'],
  ])('OTLP kind %i maps to %s', (kind, expected) => {
    const zipkin = spanToZipkin(span({ kind }), local);
    expect(zipkin.kind).toBe(expected);
    expect('kind' in zipkin).toBe(expected !== undefined);
  });
});

describe('ids', () => {
  it.each([
    ['lowercase ids pass through', TRACE_ID, SPAN_ID, PARENT_ID, PARENT_ID],
    ['uppercase ids become lowercase', TRACE_ID.toUpperCase(), SPAN_ID.toUpperCase(), PARENT_ID.toUpperCase(), PARENT_ID],
    ['a root span has no parentId', TRACE_ID, SPAN_ID, '', undefined],
    ['an all-zero parent id is no parent', TRACE_ID, SPAN_ID, '0000000000000000', undefined],
  ])('%s', (_name, traceId, spanId, parentSpanId, parentId) => {
    const zipkin = spanToZipkin(span({ traceId, spanId, parentSpanId }), local);
    expect(zipkin.traceId).toBe(TRACE_ID);
    expect(zipkin.id).toBe(SPAN_ID);
    expect(zipkin.parentId).toBe(parentId);
    expect('parentId' in zipkin).toBe(parentId !== undefined);
  });
});

describe('times in microseconds', () => {
  it.each([
    ['250 ms', '1700000000000000000', '1700000000250000000', 1_700_000_000_000_000, 250_000],
    ['sub-microsecond start is rounded down', '1700000000000001999', '1700000000000005000', 1_700_000_000_000_001, 4],
    ['1234 ns lasts 1 µs', '1700000000000000000', '1700000000000001234', 1_700_000_000_000_000, 1],
    ['a zero duration becomes 1 µs', '1700000000000000000', '1700000000000000000', 1_700_000_000_000_000, 1],
    ['a duration under 1 µs becomes 1 µs', '1700000000000000000', '1700000000000000999', 1_700_000_000_000_000, 1],
  ])('%s', (_name, start, end, timestamp, duration) => {
    const zipkin = spanToZipkin(span({ startTimeUnixNano: start, endTimeUnixNano: end }), local);
    expect(zipkin.timestamp).toBe(timestamp);
    expect(zipkin.duration).toBe(duration);
    expect(Number.isInteger(zipkin.timestamp) && Number.isInteger(zipkin.duration)).toBe(true);
  });

  it('reads nanosecond timestamps exactly, though they exceed what a double holds', () => {
    expect(nanosToMicros('1700000000123456789')).toBe(1_700_000_000_123_456);
    expect(nanosToMicros('1700000000123456999')).toBe(1_700_000_000_123_456);
  });
});

describe('attribute values as tags', () => {
  it.each<[string, OtlpJsonAnyValue, string]>([
    ['string', { stringValue: 'GET' }, 'GET'],
    ['empty string', { stringValue: '' }, ''],
    ['true', { boolValue: true }, 'true'],
    ['false', { boolValue: false }, 'false'],
    ['int', { intValue: '42' }, '42'],
    ['negative int', { intValue: '-7' }, '-7'],
    ['int64 past 2^53', { intValue: '9223372036854775807' }, '9223372036854775807'],
    ['double', { doubleValue: 1.5 }, '1.5'],
    ['whole double', { doubleValue: 3 }, '3'],
    ['small double', { doubleValue: 0.000001 }, '0.000001'],
    ['NaN', { doubleValue: 'NaN' }, 'NaN'],
    ['bytes as base64', { bytesValue: 'AQID' }, 'AQID'],
    ['string array as JSON', { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b"c' }] } }, '["a","b\\"c"]'],
    ['mixed array as JSON', { arrayValue: { values: [{ intValue: '1' }, { boolValue: true }, { doubleValue: 2.5 }] } }, '[1,true,2.5]'],
    ['int64 array keeps its digits', { arrayValue: { values: [{ intValue: '9223372036854775807' }] } }, '[9223372036854775807]'],
    ['empty array', { arrayValue: {} }, '[]'],
    ['map as JSON', { kvlistValue: { values: [str('a', 'x'), int('n', 2)] } }, '{"a":"x","n":2}'],
    ['no value', {}, ''],
  ])('%s', (_name, value, expected) => {
    expect(anyValueToTag(value)).toBe(expected);
    const zipkin = spanToZipkin(span({ attributes: [{ key: 'attr', value }] }), local);
    expect(zipkin.tags?.attr).toBe(expected);
  });
});

describe('status', () => {
  it.each<[string, OtlpJsonSpan['status'], OtlpJsonKeyValue[], Record<string, string> | undefined]>([
    ['UNSET adds no tag', undefined, [], undefined],
    ['OK sets otel.status_code only', { code: 1, message: 'ignored' }, [], { 'otel.status_code': 'OK' }],
    ['ERROR sets the description as error', { code: 2, message: 'timeout' }, [], { 'otel.status_code': 'ERROR', error: 'timeout' }],
    ['ERROR without a description sets an empty error', { code: 2 }, [], { 'otel.status_code': 'ERROR', error: '' }],
    ['ERROR overrides an error attribute', { code: 2, message: 'boom' }, [str('error', 'false')], { 'otel.status_code': 'ERROR', error: 'boom' }],
    ['a false error attribute is removed', undefined, [{ key: 'error', value: { boolValue: false } }], undefined],
    ['a "false" error attribute is removed on OK', { code: 1 }, [str('error', 'false')], { 'otel.status_code': 'OK' }],
  ])('%s', (_name, status, attributes, tags) => {
    const zipkin = spanToZipkin(span({ ...(status === undefined ? {} : { status }), attributes }), local);
    expect(zipkin.tags).toEqual(tags);
  });
});

describe('events as annotations', () => {
  it.each<[string, OtlpJsonSpan['events'], { timestamp: number; value: string }[] | undefined]>([
    ['no events, no annotations field', [], undefined],
    ['an event without attributes is its name', [{ name: 'cache miss', timeUnixNano: '1700000000100000500' }], [{ timestamp: 1_700_000_000_100_000, value: 'cache miss' }]],
    [
      'attributes follow the name as JSON',
      [{ name: 'exception', timeUnixNano: '1700000000200000000', attributes: [str('exception.type', 'Timeout'), int('retries', 3)] }],
      [{ timestamp: 1_700_000_000_200_000, value: '"exception":{"exception.type":"Timeout","retries":3}' }],
    ],
    [
      'dropped event attributes are counted in the JSON',
      [{ name: 'log', timeUnixNano: '1700000000200000000', droppedAttributesCount: 2 }],
      [{ timestamp: 1_700_000_000_200_000, value: '"log":{"otel.dropped_attributes_count":2}' }],
    ],
  ])('%s', (_name, events, annotations) => {
    const zipkin = spanToZipkin(span({ ...(events === undefined ? {} : { events }) }), local);
    expect(zipkin.annotations).toEqual(annotations);
    expect('annotations' in zipkin).toBe(annotations !== undefined);
  });
});

describe('remote endpoint', () => {
  it.each<[string, OtlpJsonKeyValue[], ZipkinEndpoint | undefined]>([
    ['none without peer attributes', [str('http.method', 'GET')], undefined],
    ['peer.service first', [str('server.address', 'db.internal'), str('peer.service', 'orders-db')], { serviceName: 'orders-db' }],
    ['server.address before net.peer.name', [str('net.peer.name', 'old-name'), str('server.address', 'api.example.com')], { serviceName: 'api.example.com' }],
    ['net.peer.name', [str('net.peer.name', 'legacy-host')], { serviceName: 'legacy-host' }],
    ['network.peer.address with its port', [str('network.peer.address', '10.1.2.3'), int('network.peer.port', 5432)], { ipv4: '10.1.2.3', port: 5432 }],
    ['network.peer.address alone', [str('network.peer.address', '10.1.2.3')], { ipv4: '10.1.2.3' }],
    ['an IPv6 address', [str('network.peer.address', '2001:db8::1'), int('network.peer.port', 443)], { ipv6: '2001:db8::1', port: 443 }],
    ['server.socket.domain before server.socket.address', [str('server.socket.address', '10.0.0.9'), str('server.socket.domain', 'sock.local')], { serviceName: 'sock.local' }],
    ['server.socket.address with its port', [str('server.socket.address', '10.0.0.9'), int('server.socket.port', 8080)], { ipv4: '10.0.0.9', port: 8080 }],
    ['net.sock.peer.name', [str('net.sock.peer.name', 'sock-peer')], { serviceName: 'sock-peer' }],
    ['net.sock.peer.addr with its port', [str('net.sock.peer.addr', '192.168.0.5'), int('net.sock.peer.port', 6379)], { ipv4: '192.168.0.5', port: 6379 }],
    ['peer.hostname before peer.address', [str('peer.address', '10.9.9.9'), str('peer.hostname', 'cache-1')], { serviceName: 'cache-1' }],
    ['peer.address', [str('peer.address', '10.9.9.9')], { ipv4: '10.9.9.9' }],
    ['db.name last', [str('db.name', 'orders')], { serviceName: 'orders' }],
    ['an out-of-range port is left out', [str('network.peer.address', '10.1.2.3'), int('network.peer.port', 70000)], { ipv4: '10.1.2.3' }],
  ])('%s', (_name, attributes, expected) => {
    expect(remoteEndpointOf(attributes)).toEqual(expected);
    for (const kind of [3, 4]) expect(spanToZipkin(span({ kind, attributes }), local).remoteEndpoint).toEqual(expected);
  });

  it.each([1, 2, 5])('is not set on a span of OTLP kind %i', (kind) => {
    expect(spanToZipkin(span({ kind, attributes: [str('peer.service', 'orders-db')] }), local).remoteEndpoint).toBeUndefined();
  });
});

describe('whole requests', () => {
  const request: OtlpJsonRequest = {
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', 'checkout'), str('service.namespace', 'shop'), str('deployment.environment', 'prod')] },
        scopeSpans: [
          {
            scope: { name: 'io.opentelemetry.http', version: '1.2.3', attributes: [str('scope.attr', 's')] },
            spans: [
              span({
                attributes: [str('deployment.environment', 'canary'), str('http.route', '/orders')],
                droppedAttributesCount: 1,
                droppedEventsCount: 2,
                droppedLinksCount: 3,
              }),
            ],
          },
          { spans: [span({ spanId: PARENT_ID })] },
        ],
      },
      { resource: { attributes: [] }, scopeSpans: [{ spans: [span({ spanId: 'aaaaaaaaaaaaaaaa' })] }] },
    ],
  };

  it('names the local endpoint after service.name and never after service.namespace', () => {
    const spans = otlpToZipkinSpans(request);
    expect(spans.map((s) => s.localEndpoint)).toEqual([{ serviceName: 'checkout' }, { serviceName: 'checkout' }, { serviceName: DEFAULT_SERVICE_NAME }]);
  });

  it('tags resource and scope attributes, scope name and version, and dropped counts; span attributes win', () => {
    const [first, second] = otlpToZipkinSpans(request);
    expect(first?.tags).toEqual({
      'service.namespace': 'shop',
      'deployment.environment': 'canary',
      'scope.attr': 's',
      'otel.scope.name': 'io.opentelemetry.http',
      'otel.scope.version': '1.2.3',
      'otel.library.name': 'io.opentelemetry.http',
      'otel.library.version': '1.2.3',
      'http.route': '/orders',
      'otel.dropped_attributes_count': '1',
      'otel.dropped_events_count': '2',
      'otel.dropped_links_count': '3',
    });
    // The second scope has no name: no scope tags, only the resource's.
    expect(second?.tags).toEqual({ 'service.namespace': 'shop', 'deployment.environment': 'prod' });
  });

  it('omits empty optional fields', () => {
    const spans = otlpToZipkinSpans({ resourceSpans: [{ scopeSpans: [{ spans: [span({ kind: 1, name: '' })] }] }] });
    expect(spans).toEqual([
      { traceId: TRACE_ID, id: SPAN_ID, timestamp: 1_700_000_000_000_000, duration: 250_000, localEndpoint: { serviceName: DEFAULT_SERVICE_NAME } },
    ]);
  });
});
