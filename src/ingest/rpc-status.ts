/**
 * The error body of an OTLP/HTTP answer: a google.rpc.Status (`code` = field 1, int32;
 * `message` = field 2, string) in the encoding of the request. Two fields do not need a
 * protobuf library; `details` is never written.
 */

export type BodyEncoding = 'protobuf' | 'json';

/** google.rpc.Code values used in our answers. OTLP clients decide on the HTTP status; these are for people. */
export const RpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export interface RpcStatus {
  readonly code: number;
  readonly message: string;
}

const utf8 = new TextEncoder();

export function encodeRpcStatus(status: RpcStatus, encoding: BodyEncoding): Uint8Array {
  if (encoding === 'json') return utf8.encode(JSON.stringify({ code: status.code, message: status.message }));

  const message = utf8.encode(status.message);
  const out: number[] = [];
  // proto3 leaves default values off the wire: code 0 and an empty message are not written.
  if (status.code !== 0) {
    out.push(0x08);
    // int32 is written as a 64-bit varint, so a negative code takes ten bytes.
    pushVarint(out, BigInt.asUintN(64, BigInt(status.code)));
  }
  if (message.length > 0) {
    out.push(0x12);
    pushVarint(out, BigInt(message.length));
  }
  const head = Uint8Array.from(out);
  const bytes = new Uint8Array(head.length + message.length);
  bytes.set(head, 0);
  bytes.set(message, head.length);
  return bytes;
}

function pushVarint(out: number[], value: bigint): void {
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}
