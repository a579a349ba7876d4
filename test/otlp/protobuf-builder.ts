/**
 * A tiny protobuf writer for tests: builds well-formed and deliberately malformed messages
 * byte by byte, independent of the code under test.
 */
export type Bytes = Uint8Array;

export function varint(value: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

export function cat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function tag(field: number, wire: number): Bytes {
  return varint(field * 8 + wire);
}

/** A length-delimited field. */
export function ld(field: number, ...payload: Bytes[]): Bytes {
  const body = cat(...payload);
  return cat(tag(field, 2), varint(body.length), body);
}

export function vi(field: number, value: number | bigint): Bytes {
  return cat(tag(field, 0), varint(value));
}

export function fixed64(field: number, value: bigint): Bytes {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return cat(tag(field, 1), out);
}

export function fixed32(field: number, value: number): Bytes {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return cat(tag(field, 5), out);
}

export function double(field: number, value: number): Bytes {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value, true);
  return cat(tag(field, 1), out);
}

export function str(field: number, text: string): Bytes {
  return ld(field, new TextEncoder().encode(text));
}

export function hex(text: string): Bytes {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** A Span with the given trace/span ids (hex) and any extra fields. */
export function span(traceId: string, spanId: string, ...fields: Bytes[]): Bytes {
  return cat(ld(1, hex(traceId)), ld(2, hex(spanId)), ...fields);
}

/** An ExportTraceServiceRequest holding the spans under one resource and one scope. */
export function request(...spans: Bytes[]): Bytes {
  return ld(1, ld(2, ...spans.map((s) => ld(2, s))));
}

/** A KeyValue with a string value. */
export function kvString(key: string, value: string): Bytes {
  return cat(str(1, key), ld(2, str(1, value)));
}

export const TRACE_1 = '0102030405060708090a0b0c0d0e0f10';
export const SPAN_1 = 'a1a2a3a4a5a6a7a8';
export const SPAN_2 = 'b1b2b3b4b5b6b7b8';
