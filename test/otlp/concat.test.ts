import { describe, expect, it } from 'vitest';
import { concatRequests } from '../../src/otlp/concat.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { SPAN_1, SPAN_2, TRACE_1, request, span, str } from './protobuf-builder.js';

describe('concatRequests', () => {
  it('joins requests into one holding all their spans, in order', () => {
    const a = request(span(TRACE_1, SPAN_1, str(5, 'a')));
    const b = request(span(TRACE_1, SPAN_2, str(5, 'b')));
    const joined = concatRequests([a, b]);
    expect(joined).toEqual(Uint8Array.from([...a, ...b]));
    const result = decodeProtobufRequest(joined);
    expect(result.ok && result.value.spans.map((s) => s.name)).toEqual(['a', 'b']);
    expect(result.ok && result.value.fragments.map((f) => f.spanCount)).toEqual([2]);
  });

  it('gives an empty request for no parts', () => {
    expect(concatRequests([])).toEqual(new Uint8Array(0));
  });
});
