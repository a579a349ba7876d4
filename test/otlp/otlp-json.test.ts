import { describe, expect, it } from 'vitest';
import { OtlpDecodeError } from '../../src/errors.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { decodeJsonRequest, jsonRequestToProtobuf, protobufRequestToJson } from '../../src/otlp/otlp-json.js';
import type { DecodedRequest, SpanView } from '../../src/otlp/types.js';
import { handmadeSpans, toJson, toProtobuf, tracerSpans } from './sdk-span-fixtures.js';

const ANY_VALUE_KEYS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'];

/**
 * The SDK's JSON with the differences we document taken out:
 * - the SDK writes fields at their default value (0, '', [], status code 0); protobuf's JSON
 *   mapping, and we, omit them;
 * - the SDK writes int64 attribute values as JSON numbers; OTLP/JSON wants decimal strings;
 * - the SDK also writes the resource's schema URL inside `resource`, which has no such field
 *   (both write it in ResourceSpans.schemaUrl, where it belongs).
 */
function normalizeSdkJson(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => normalizeSdkJson(v));
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const isAnyValue = Object.keys(object).some((k) => ANY_VALUE_KEYS.includes(k));
  for (const [key, v] of Object.entries(object)) {
    if (parentKey === 'resource' && key === 'schemaUrl') continue;
    if (isAnyValue) {
      out[key] = key === 'intValue' ? String(v) : normalizeSdkJson(v, key);
      continue;
    }
    if (v === undefined || v === 0 || v === '' || v === false || (Array.isArray(v) && v.length === 0)) continue;
    out[key] = normalizeSdkJson(v, key);
  }
  return out;
}

function describeSpan(view: SpanView) {
  return {
    ids: [view.traceId, view.spanId, view.parentSpanId],
    fields: [view.name, view.kind, view.startMs, view.endMs, view.statusCode, view.traceState, view.flags],
    attributes: Object.fromEntries(view.attributes()),
    resource: Object.fromEntries(view.resourceAttributes()),
    events: view.events().map((e) => [e.name, e.timeMs, Object.fromEntries(e.attributes)]),
  };
}

function decodedJson(body: string | Uint8Array): DecodedRequest {
  const result = decodeJsonRequest(body);
  if (!result.ok) throw result.error;
  return result.value;
}

function jsonError(body: unknown): string {
  const result = decodeJsonRequest(typeof body === 'string' ? body : JSON.stringify(body));
  if (result.ok) throw new Error('expected the request to be rejected');
  expect(result.error).toBeInstanceOf(OtlpDecodeError);
  return result.error.message;
}

const sdkSpans = [...tracerSpans(), ...handmadeSpans()];

describe('protobufRequestToJson', () => {
  it('equals what the SDK JSON serializer writes, modulo the documented differences', () => {
    const ours = protobufRequestToJson(toProtobuf(sdkSpans));
    const sdk = normalizeSdkJson(JSON.parse(Buffer.from(toJson(sdkSpans)).toString('utf8')));
    expect(ours).toEqual(sdk);
  });

  it('writes every field: ids in hex, 64-bit integers as strings, bytes in base64, dropped counts', () => {
    const json = protobufRequestToJson(toProtobuf(handmadeSpans()));
    const span = json.resourceSpans?.[0].scopeSpans?.[0].spans?.[0];
    expect(span).toMatchObject({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      name: 'reserve',
      kind: 2,
      startTimeUnixNano: expect.stringMatching(/^\d{19}$/),
      droppedAttributesCount: 3,
      droppedEventsCount: 1,
      droppedLinksCount: 4,
      status: { code: 2, message: 'out of stock' },
      events: [{ name: 'cache miss', droppedAttributesCount: 2, timeUnixNano: expect.stringMatching(/^\d{19}$/) }],
    });
    const attributes = new Map(span?.attributes?.map((a) => [a.key, a.value]));
    expect(attributes.get('int')).toEqual({ intValue: '42' });
    expect(attributes.get('bytes')).toEqual({ bytesValue: Buffer.from([0, 1, 2, 254, 255]).toString('base64') });
    expect(attributes.get('kvlist')?.kvlistValue?.values?.[0]).toEqual({ key: 'inner', value: { stringValue: 'v' } });
    expect(json.resourceSpans?.[0].scopeSpans?.[0].scope).toEqual({ name: 'inventory-lib', version: '9.9.9' });
  });

  it('writes links with their ids, state, flags and attributes', () => {
    const json = protobufRequestToJson(toProtobuf(tracerSpans()));
    const spans = json.resourceSpans?.flatMap((rs) => rs.scopeSpans?.flatMap((ss) => ss.spans ?? []) ?? []) ?? [];
    const producer = spans.find((s) => s.name === 'publish order');
    expect(producer?.links).toEqual([
      {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceState: 'rojo=00f067aa0ba902b7',
        attributes: [
          { key: 'link.reason', value: { stringValue: 'batch' } },
          { key: 'link.index', value: { intValue: '1' } },
        ],
        flags: 0x301,
      },
    ]);
  });

  it('writes special doubles as the strings of the JSON mapping', () => {
    const bytes = jsonRequestToProtobuf({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: '0102030405060708',
                  attributes: [
                    { key: 'nan', value: { doubleValue: 'NaN' } },
                    { key: 'inf', value: { doubleValue: 'Infinity' } },
                    { key: 'ninf', value: { doubleValue: '-Infinity' } },
                    { key: 'zero', value: { doubleValue: 0 } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const attributes = protobufRequestToJson(bytes).resourceSpans?.[0].scopeSpans?.[0].spans?.[0].attributes;
    expect(attributes?.map((a) => a.value)).toEqual([
      { doubleValue: 'NaN' },
      { doubleValue: 'Infinity' },
      { doubleValue: '-Infinity' },
      { doubleValue: 0 },
    ]);
  });

  it('rejects malformed protobuf with OtlpDecodeError', () => {
    expect(() => protobufRequestToJson(Uint8Array.of(0x0a, 0x09, 0x01))).toThrow(OtlpDecodeError);
  });
});

describe('JSON round trips', () => {
  it('JSON -> protobuf -> JSON gives the same JSON', () => {
    const json = protobufRequestToJson(toProtobuf(sdkSpans));
    expect(protobufRequestToJson(jsonRequestToProtobuf(json))).toEqual(json);
    // Through text, as the file sink writes it.
    const text = JSON.stringify(json);
    expect(protobufRequestToJson(jsonRequestToProtobuf(JSON.parse(text)))).toEqual(json);
  });

  it('protobuf -> JSON -> protobuf decodes to the same spans', () => {
    const original = decodeProtobufRequest(toProtobuf(sdkSpans));
    if (!original.ok) throw original.error;
    const again = decodedJson(JSON.stringify(protobufRequestToJson(toProtobuf(sdkSpans))));
    expect(again.spans.map(describeSpan)).toEqual(original.value.spans.map(describeSpan));
  });

  it('decodes the SDK JSON serializer output as bytes and as a string', () => {
    const bytes = toJson(sdkSpans);
    expect(decodedJson(bytes).spanCount).toBe(sdkSpans.length);
    expect(decodedJson(Buffer.from(bytes).toString('utf8')).spanCount).toBe(sdkSpans.length);
  });
});

describe('decodeJsonRequest input forms', () => {
  const base = {
    traceId: '5B8EFFF798038103D269B633813FC60C',
    spanId: 'EEE19B7EC3C1B174',
    name: 'op',
    startTimeUnixNano: '1741944413589123456',
    endTimeUnixNano: '1741944413590123456',
  };
  const wrap = (span: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans: [span] }], ...extra }],
  });

  it('accepts upper-case hex ids and writes them lower-case', () => {
    const view = decodedJson(JSON.stringify(wrap(base))).spans[0];
    expect(view.traceId).toBe('5b8efff798038103d269b633813fc60c');
    expect(view.spanId).toBe('eee19b7ec3c1b174');
    expect(view.serviceName).toBe('svc');
  });

  it('accepts enum names as well as integers', () => {
    const view = decodedJson(JSON.stringify(wrap({ ...base, kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_ERROR' } }))).spans[0];
    expect(view.kind).toBe(3);
    expect(view.statusCode).toBe(2);
    const numeric = decodedJson(JSON.stringify(wrap({ ...base, kind: 5, status: { code: '1' } }))).spans[0];
    expect([numeric.kind, numeric.statusCode]).toEqual([5, 1]);
  });

  it('accepts 64-bit integers as numbers and as strings', () => {
    const view = decodedJson(
      JSON.stringify(
        wrap({
          ...base,
          startTimeUnixNano: 1741944413589000000,
          attributes: [
            { key: 'n', value: { intValue: 7 } },
            { key: 's', value: { intValue: '-9007199254740993' } },
          ],
        }),
      ),
    ).spans[0];
    expect(Math.abs(view.startMs - 1741944413589)).toBeLessThan(0.001);
    expect(view.attribute('n')).toBe(7);
    expect(view.attribute('s')).toBe(-9007199254740992);
  });

  it('accepts snake_case field names, ignores unknown keys and nulls', () => {
    const body = {
      resource_spans: [
        {
          schema_url: 'https://schema',
          future_field: { anything: [1, 2] },
          scope_spans: [
            {
              scope: { name: 'lib', attributes: null },
              spans: [{ trace_id: base.traceId, span_id: base.spanId, parent_span_id: '', name: 'snake', kind: null, extra: 1 }],
            },
          ],
        },
      ],
    };
    const view = decodedJson(JSON.stringify(body)).spans[0];
    expect(view.name).toBe('snake');
    expect(view.parentSpanId).toBe('');
    expect(protobufRequestToJson(jsonRequestToProtobuf(body)).resourceSpans?.[0].schemaUrl).toBe('https://schema');
  });

  it('accepts base64 in both alphabets, with or without padding', () => {
    const view = decodedJson(
      JSON.stringify(
        wrap({
          ...base,
          attributes: [
            { key: 'std', value: { bytesValue: '+/8=' } },
            { key: 'url', value: { bytesValue: '-_8' } },
          ],
        }),
      ),
    ).spans[0];
    expect(view.attribute('std')).toEqual(Uint8Array.of(0xfb, 0xff));
    expect(view.attribute('url')).toEqual(Uint8Array.of(0xfb, 0xff));
  });

  it('accepts a leading byte order mark', () => {
    expect(decodedJson(`\ufeff${JSON.stringify(wrap(base))}`).spanCount).toBe(1);
  });
});

describe('decodeJsonRequest errors name the JSON path', () => {
  const id = { traceId: '0102030405060708090a0b0c0d0e0f10', spanId: '0102030405060708' };
  const at = (span: Record<string, unknown>) => ({
    resourceSpans: [{ scopeSpans: [{ spans: [] }, { spans: [id, id, id, span] }] }],
  });
  const path = 'resourceSpans[0].scopeSpans[1].spans[3]';
  const nested = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { stringValue: 'leaf' };
    for (let i = 0; i < levels; i++) value = { arrayValue: { values: [value] } };
    return value;
  };

  it.each([
    ['invalid JSON', '{"resourceSpans": [', /^invalid JSON: /],
    ['not an object', '[1, 2]', /^expected an object, got an array$/],
    ['resourceSpans not an array', { resourceSpans: {} }, /^resourceSpans: expected an array, got an object$/],
    ['bad hex', at({ ...id, traceId: 'zz02030405060708090a0b0c0d0e0f10' }), new RegExp(`^${esc(path)}\\.traceId: expected 32 hex characters, got "zz02`)],
    ['30-character trace id', at({ ...id, traceId: '02030405060708090a0b0c0d0e0f10' }), new RegExp(`^${esc(path)}\\.traceId: expected 32 hex characters`)],
    ['trace id as a number', at({ ...id, traceId: 5 }), /traceId: expected 32 hex characters, got number 5$/],
    ['missing span id', at({ traceId: id.traceId }), new RegExp(`^${esc(path)}\\.spanId: missing`)],
    ['zero trace id', at({ ...id, traceId: '0'.repeat(32) }), /traceId: all zero \(an invalid trace id\)$/],
    ['zero span id', at({ ...id, spanId: '0'.repeat(16) }), /spanId: all zero \(an invalid span id\)$/],
    ['short parent id', at({ ...id, parentSpanId: 'abcd' }), /parentSpanId: expected 16 hex characters, got "abcd"$/],
    ['name of the wrong type', at({ ...id, name: 5 }), new RegExp(`^${esc(path)}\\.name: expected a string, got number 5$`)],
    ['unknown kind name', at({ ...id, kind: 'SERVER' }), /kind: expected an integer or a SpanKind name, got "SERVER"$/],
    ['fractional time', at({ ...id, startTimeUnixNano: '12.5' }), /startTimeUnixNano: expected an unsigned 64-bit integer/],
    ['negative time', at({ ...id, endTimeUnixNano: '-1' }), /endTimeUnixNano: expected an unsigned 64-bit integer/],
    ['int64 out of range', at({ ...id, attributes: [{ key: 'k', value: { intValue: '9223372036854775808' } }] }), /attributes\[0\]\.value\.intValue: expected a 64-bit integer/],
    ['flags past 32 bits', at({ ...id, flags: 2 ** 32 }), /flags: expected an unsigned 32-bit integer/],
    ['bool as a string', at({ ...id, attributes: [{ key: 'k', value: { boolValue: 'true' } }] }), /value\.boolValue: expected true or false, got "true"$/],
    ['bad base64', at({ ...id, attributes: [{ key: 'k', value: { bytesValue: 'not base64!' } }] }), /bytesValue: expected base64/],
    ['attributes not an array', at({ ...id, attributes: { key: 'k' } }), /attributes: expected an array, got an object$/],
    ['event of the wrong type', at({ ...id, events: ['boom'] }), new RegExp(`^${esc(path)}\\.events\\[0\\]: expected an object, got "boom"$`)],
    ['link with a short id', at({ ...id, links: [{ traceId: 'ab', spanId: id.spanId }] }), /links\[0\]\.traceId: expected 32 hex characters/],
    ['nesting too deep', at({ ...id, attributes: [{ key: 'deep', value: nested(33) }] }), /attributes\[0\]\.value(\.arrayValue\.values\[0\]){32}\.arrayValue: AnyValue nested deeper than 32 levels$/],
  ])('%s', (_name, body, reason) => {
    expect(jsonError(body)).toMatch(reason);
  });

  it('accepts nesting up to the bound', () => {
    const body = at({ ...id, attributes: [{ key: 'deep', value: nested(32) }] });
    expect(decodedJson(JSON.stringify(body)).spanCount).toBe(4);
  });
});

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
