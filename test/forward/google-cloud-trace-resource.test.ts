import { describe, expect, it } from 'vitest';
import { OtlpDecodeError } from '../../src/errors.js';
import { withResourceAttribute } from '../../src/forward/google-resource-attribute.js';
import { jsonRequestToProtobuf, protobufRequestToJson, type OtlpJsonResourceSpans } from '../../src/otlp/index.js';

const span = (id: string): Record<string, unknown> => ({
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId: id,
  name: `op ${id}`,
  kind: 2,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000100000000',
  attributes: [{ key: 'http.route', value: { stringValue: '/orders/:id' } }],
});

const str = (key: string, value: string): Record<string, unknown> => ({ key, value: { stringValue: value } });

function request(resourceSpans: Record<string, unknown>[]): Uint8Array {
  return jsonRequestToProtobuf({ resourceSpans });
}

/** The request's ResourceSpans, read back through the OTLP/JSON conversion. */
function readBack(bytes: Uint8Array): OtlpJsonResourceSpans[] {
  return protobufRequestToJson(bytes).resourceSpans ?? [];
}

function resourceAttributes(resourceSpans: OtlpJsonResourceSpans[]): unknown[] {
  return resourceSpans.map((rs) => rs.resource?.attributes ?? []);
}

describe('withResourceAttribute', () => {
  it('appends the attribute to each resource that lacks it and leaves spans and other attributes as they were', () => {
    const input = request([
      { resource: { attributes: [str('service.name', 'checkout')] }, scopeSpans: [{ scope: { name: 'lib' }, spans: [span('eee19b7ec3c1b174')] }] },
      { resource: { attributes: [str('service.name', 'payments')], droppedAttributesCount: 1 }, scopeSpans: [{ spans: [span('eee19b7ec3c1b175')] }] },
    ]);
    const before = readBack(input);
    const after = readBack(withResourceAttribute(input, 'gcp.project_id', 'my-project'));
    expect(resourceAttributes(after)).toEqual([
      [str('service.name', 'checkout'), str('gcp.project_id', 'my-project')],
      [str('service.name', 'payments'), str('gcp.project_id', 'my-project')],
    ]);
    expect(after[1].resource?.droppedAttributesCount).toBe(1);
    expect(after.map((rs) => rs.scopeSpans)).toEqual(before.map((rs) => rs.scopeSpans));
  });

  it('keeps a value the sender set, and returns a request whose resources all have the key unchanged', () => {
    const input = request([{ resource: { attributes: [str('gcp.project_id', 'theirs'), str('service.name', 'a')] }, scopeSpans: [{ spans: [span('eee19b7ec3c1b174')] }] }]);
    expect(withResourceAttribute(input, 'gcp.project_id', 'mine')).toBe(input);
  });

  it('adds only where missing in a request that mixes both', () => {
    const input = request([
      { resource: { attributes: [str('gcp.project_id', 'theirs')] }, scopeSpans: [{ spans: [span('eee19b7ec3c1b174')] }] },
      { resource: { attributes: [] }, scopeSpans: [{ spans: [span('eee19b7ec3c1b175')] }] },
    ]);
    const after = readBack(withResourceAttribute(input, 'gcp.project_id', 'mine'));
    expect(resourceAttributes(after)).toEqual([[str('gcp.project_id', 'theirs')], [str('gcp.project_id', 'mine')]]);
  });

  it('gives a resource to ResourceSpans that have none', () => {
    const input = request([{ scopeSpans: [{ spans: [span('eee19b7ec3c1b174')] }] }]);
    const after = readBack(withResourceAttribute(input, 'gcp.project_id', 'my-project'));
    expect(resourceAttributes(after)).toEqual([[str('gcp.project_id', 'my-project')]]);
    expect(after[0].scopeSpans?.[0].spans?.map((s) => s.spanId)).toEqual(['eee19b7ec3c1b174']);
  });

  it('writes lengths that need more than one varint byte correctly', () => {
    const long = 'x'.repeat(300);
    const input = request([{ resource: { attributes: [str('note', long)] }, scopeSpans: [{ spans: [span('eee19b7ec3c1b174')] }] }]);
    const after = readBack(withResourceAttribute(input, 'gcp.project_id', 'p'.repeat(200)));
    expect(resourceAttributes(after)).toEqual([[str('note', long), str('gcp.project_id', 'p'.repeat(200))]]);
  });

  it('throws an OtlpDecodeError on malformed input', () => {
    expect(() => withResourceAttribute(Uint8Array.from([0x0a, 0x05, 0x0a]), 'gcp.project_id', 'p')).toThrow(OtlpDecodeError);
  });
});
