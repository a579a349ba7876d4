import { describe, expect, it } from 'vitest';
import { errorMessageOf, readPartialSuccess, readRpcStatus } from '../../src/forward/otlp-http-response.js';
import { encodeRpcStatus } from '../../src/ingest/rpc-status.js';

const PB = 'application/x-protobuf';
const JSON_TYPE = 'application/json; charset=utf-8';

describe('encodeRpcStatus / readRpcStatus', () => {
  it('writes code and message as protobuf fields 1 and 2', () => {
    expect([...encodeRpcStatus({ code: 3, message: 'bad' }, 'protobuf')]).toEqual([0x08, 0x03, 0x12, 0x03, 0x62, 0x61, 0x64]);
    expect([...encodeRpcStatus({ code: 0, message: '' }, 'protobuf')]).toEqual([]);
  });

  it('round-trips through both encodings, long and non-ASCII messages included', () => {
    for (const status of [
      { code: 3, message: 'span 2: trace_id must be 16 bytes' },
      { code: 14, message: 'é'.repeat(300) },
      { code: 8, message: '' },
    ]) {
      expect(readRpcStatus(encodeRpcStatus(status, 'protobuf'), PB)).toEqual(status);
      expect(readRpcStatus(encodeRpcStatus(status, 'json'), JSON_TYPE)).toEqual(status);
    }
    expect(JSON.parse(new TextDecoder().decode(encodeRpcStatus({ code: 3, message: 'x' }, 'json')))).toEqual({ code: 3, message: 'x' });
  });

  it('skips unknown fields (e.g. details) and refuses broken protobuf', () => {
    const withDetails = Uint8Array.from([...encodeRpcStatus({ code: 5, message: 'm' }, 'protobuf'), 0x1a, 0x02, 0x0a, 0x00]);
    expect(readRpcStatus(withDetails, PB)).toEqual({ code: 5, message: 'm' });
    expect(readRpcStatus(Uint8Array.from([0x12, 0x09, 0x61]), PB)).toBeUndefined();
    expect(readRpcStatus(Uint8Array.from([0x12, 0x01, 0x61]), 'text/plain')).toBeUndefined();
  });
});

describe('errorMessageOf', () => {
  it('prefers the Status message, else the start of a text body', () => {
    expect(errorMessageOf(encodeRpcStatus({ code: 3, message: 'why' }, 'protobuf'), PB)).toBe('why');
    expect(errorMessageOf(new TextEncoder().encode('  upstream timed out \n'), 'text/plain')).toBe('upstream timed out');
    expect(errorMessageOf(new TextEncoder().encode('x'.repeat(2000)), null)).toHaveLength(515);
  });
});

describe('readPartialSuccess', () => {
  it('reads rejected spans and the message from protobuf and JSON', () => {
    const pb = Uint8Array.from([0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 0x62, 0x61, 0x64]);
    expect(readPartialSuccess(pb, PB)).toEqual({ rejectedSpans: 2, errorMessage: 'bad' });
    const json = new TextEncoder().encode('{"partialSuccess":{"rejectedSpans":"5","errorMessage":"too old"}}');
    expect(readPartialSuccess(json, JSON_TYPE)).toEqual({ rejectedSpans: 5, errorMessage: 'too old' });
  });

  it('reads a varint past 2^32 exactly', () => {
    // rejected_spans = 2^33 + 1
    const inner = [0x08, 0x81, 0x80, 0x80, 0x80, 0x20];
    expect(readPartialSuccess(Uint8Array.from([0x0a, inner.length, ...inner]), PB)?.rejectedSpans).toBe(2 ** 33 + 1);
  });

  it('finds nothing in an empty success answer', () => {
    expect(readPartialSuccess(new Uint8Array(0), PB)).toBeUndefined();
    expect(readPartialSuccess(new TextEncoder().encode('{}'), JSON_TYPE)).toBeUndefined();
  });
});
