import { describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { detectFraming } from '../../src/replay/protobuf-framing.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { lengthPrefixed } from './replay-fixtures.js';

function request(traces: number, spansPerTrace: number): Uint8Array {
  return ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces, spansPerTrace }))!;
}

const small = request(1, 1);
const large = request(20, 10);

function ranges(buf: Uint8Array): Uint8Array[] {
  return detectFraming(buf).messages.map(([start, end]) => buf.subarray(start, end));
}

describe('detectFraming', () => {
  it('reads a file holding one request as that request', () => {
    expect(detectFraming(large)).toEqual({ framing: 'single', messages: [[0, large.length]] });
  });

  it.each([
    ['uint32-be', [small, large, small]],
    ['varint', [large, small, large]],
    ['varint', [small, small]],
  ] as const)('finds %s length prefixes and the requests between them', (framing, requests) => {
    const file = lengthPrefixed(requests, framing);
    expect(detectFraming(file).framing).toBe(framing);
    expect(ranges(file).map((r) => Buffer.from(r))).toEqual(requests.map((r) => Buffer.from(r)));
  });

  it('keeps an empty request in a 4-byte framing', () => {
    const file = lengthPrefixed([small, new Uint8Array(0), small], 'uint32-be');
    expect(detectFraming(file).messages.map(([s, e]) => e - s)).toEqual([small.length, 0, small.length]);
  });

  it('reads an empty file as no request', () => {
    expect(detectFraming(new Uint8Array(0))).toEqual({ framing: 'single', messages: [] });
  });

  it('falls back to a single request when no framing covers the file, so the decoder says what is wrong', () => {
    const truncated = lengthPrefixed([large], 'uint32-be').subarray(0, 100);
    expect(detectFraming(truncated)).toEqual({ framing: 'single', messages: [[0, 100]] });
    const garbage = Buffer.from('not protobuf at all');
    expect(detectFraming(garbage).framing).toBe('single');
  });

  it('does not take a prefix whose message is not a request as a framing', () => {
    // A 4-byte length of 5 followed by 5 bytes that are not a resource_spans field.
    const file = Buffer.from([0, 0, 0, 5, 0x10, 1, 0x10, 2, 0x10]);
    expect(detectFraming(file).framing).toBe('single');
  });
});
