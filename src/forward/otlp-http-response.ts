/**
 * Reading what an OTLP/HTTP server answered: the google.rpc.Status of an error and the
 * partial_success of an ExportTraceServiceResponse, in protobuf or JSON. Servers in the wild
 * also answer with plain text or HTML (proxies), so anything unreadable falls back to text.
 */

export interface RpcStatusView {
  readonly code: number;
  readonly message: string;
}

export interface PartialSuccessView {
  readonly rejectedSpans: number;
  readonly errorMessage: string;
}

const MAX_TEXT_CHARS = 512;
const utf8 = new TextDecoder('utf-8', { fatal: false });

function isJson(contentType: string | null | undefined): boolean {
  return /^\s*application\/json\s*(;|$)/i.test(contentType ?? '');
}

function isProtobuf(contentType: string | null | undefined): boolean {
  return /^\s*application\/x-protobuf\s*(;|$)/i.test(contentType ?? '');
}

/** A google.rpc.Status, or undefined when the body is not one. */
export function readRpcStatus(body: Uint8Array, contentType: string | null | undefined): RpcStatusView | undefined {
  if (isProtobuf(contentType)) {
    const fields = readFields(body);
    if (fields === undefined) return undefined;
    const message = fields.bytes.get(2);
    return { code: fields.varints.get(1) ?? 0, message: message === undefined ? '' : utf8.decode(message) };
  }
  if (isJson(contentType)) {
    const parsed = parseJson(body);
    if (parsed === null || typeof parsed !== 'object') return undefined;
    const { code, message } = parsed as { code?: unknown; message?: unknown };
    return { code: typeof code === 'number' ? code : 0, message: typeof message === 'string' ? message : '' };
  }
  return undefined;
}

/**
 * The human-readable reason in an error answer: the Status message when there is one,
 * else the start of the body as text.
 */
export function errorMessageOf(body: Uint8Array, contentType: string | null | undefined): string {
  const status = readRpcStatus(body, contentType);
  if (status !== undefined && status.message !== '') return status.message;
  if (isProtobuf(contentType)) return '';
  const text = utf8.decode(body.subarray(0, MAX_TEXT_CHARS * 4)).trim();
  return text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS)}...` : text;
}

/** The partial_success of an ExportTraceServiceResponse, when the server set it. */
export function readPartialSuccess(body: Uint8Array, contentType: string | null | undefined): PartialSuccessView | undefined {
  if (body.length === 0) return undefined;
  if (isProtobuf(contentType)) {
    const partial = readFields(body)?.bytes.get(1);
    if (partial === undefined) return undefined;
    const fields = readFields(partial);
    if (fields === undefined) return undefined;
    const message = fields.bytes.get(2);
    return { rejectedSpans: fields.varints.get(1) ?? 0, errorMessage: message === undefined ? '' : utf8.decode(message) };
  }
  if (isJson(contentType)) {
    const parsed = parseJson(body) as { partialSuccess?: { rejectedSpans?: unknown; errorMessage?: unknown } } | null;
    const partial = parsed?.partialSuccess;
    if (partial === undefined || partial === null || typeof partial !== 'object') return undefined;
    // int64 travels as a string in OTLP/JSON; numbers are accepted as well.
    const rejected = Number(partial.rejectedSpans ?? 0);
    return {
      rejectedSpans: Number.isFinite(rejected) ? rejected : 0,
      errorMessage: typeof partial.errorMessage === 'string' ? partial.errorMessage : '',
    };
  }
  return undefined;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(body)) as unknown;
  } catch {
    return undefined;
  }
}

interface Fields {
  /** Last value of each varint field. */
  readonly varints: Map<number, number>;
  /** Last value of each length-delimited field. */
  readonly bytes: Map<number, Uint8Array>;
}

/** The top-level fields of a protobuf message, or undefined when it is not well formed. */
function readFields(buf: Uint8Array): Fields | undefined {
  const varints = new Map<number, number>();
  const bytes = new Map<number, Uint8Array>();
  let pos = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= buf.length) return undefined;
      const byte = buf[pos++];
      // Multiplication instead of shifts: values past 2^31 (int64 counts) stay exact up to 2^53.
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (pos < buf.length) {
    const key = varint();
    if (key === undefined) return undefined;
    const field = Math.floor(key / 8);
    switch (key % 8) {
      case 0: {
        const value = varint();
        if (value === undefined) return undefined;
        varints.set(field, value);
        break;
      }
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (length === undefined || pos + length > buf.length) return undefined;
        bytes.set(field, buf.subarray(pos, pos + length));
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return undefined;
    }
  }
  return pos === buf.length ? { varints, bytes } : undefined;
}
