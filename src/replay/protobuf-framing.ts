/**
 * How the ExportTraceServiceRequest messages of an OTLP protobuf file are laid out.
 *
 * - `single`: the whole file is one request (what an OTLP/HTTP body or a Kafka record holds).
 * - `uint32-be`: each request is preceded by its length as 4 bytes, big-endian: what the
 *   Collector's file exporter writes with `format: proto`.
 * - `varint`: each request is preceded by its length as a varint: protobuf's "delimited"
 *   stream format (writeDelimitedTo), which the OpenTelemetry file exporter spec names.
 *
 * A framing is recognised only when its length prefixes cover the file exactly and every
 * message it delimits is itself a well-formed run of protobuf fields that starts like a
 * request (field 1, resource_spans). A single request starts with that field too, so a file
 * that reads both ways is taken as a single request; a framed file almost never does (the
 * first byte of a 4-byte length is 0 below 16 MiB, which is no valid field tag). When nothing
 * fits, the file is read as a single request, so the decoder reports what is wrong with it.
 */
export type Framing = 'single' | 'uint32-be' | 'varint';

export interface FramedFile {
  readonly framing: Framing;
  /** [start, end) of each request's bytes, in file order. */
  readonly messages: readonly (readonly [number, number])[];
}

/** ExportTraceServiceRequest.resource_spans: field 1, length-delimited. */
const RESOURCE_SPANS_TAG = 0x0a;

export function detectFraming(buf: Uint8Array): FramedFile {
  if (buf.length === 0) return { framing: 'single', messages: [] };
  if (buf[0] === RESOURCE_SPANS_TAG && fieldsTile(buf, 0, buf.length)) return single(buf);
  const fixed = frames(buf, readUint32BigEndian);
  if (fixed !== undefined) return { framing: 'uint32-be', messages: fixed };
  const varint = frames(buf, readVarintLength);
  if (varint !== undefined) return { framing: 'varint', messages: varint };
  return single(buf);
}

function single(buf: Uint8Array): FramedFile {
  return { framing: 'single', messages: [[0, buf.length]] };
}

/** [value, bytes used] of a length prefix at `at`, or undefined when it does not fit. */
type LengthReader = (buf: Uint8Array, at: number) => readonly [number, number] | undefined;

function readUint32BigEndian(buf: Uint8Array, at: number): readonly [number, number] | undefined {
  if (at + 4 > buf.length) return undefined;
  return [((buf[at] << 24) >>> 0) + (buf[at + 1] << 16) + (buf[at + 2] << 8) + buf[at + 3], 4];
}

function readVarintLength(buf: Uint8Array, at: number): readonly [number, number] | undefined {
  const v = readVarint(buf, at, buf.length);
  return v === undefined ? undefined : [v[0], v[1] - at];
}

function frames(buf: Uint8Array, readLength: LengthReader): [number, number][] | undefined {
  const out: [number, number][] = [];
  let at = 0;
  while (at < buf.length) {
    const prefix = readLength(buf, at);
    if (prefix === undefined) return undefined;
    const start = at + prefix[1];
    const end = start + prefix[0];
    if (end > buf.length) return undefined;
    if (end > start && (buf[start] !== RESOURCE_SPANS_TAG || !fieldsTile(buf, start, end))) return undefined;
    out.push([start, end]);
    at = end;
  }
  return out;
}

/**
 * True when `buf[start, end)` is a sequence of well-formed protobuf fields ending exactly at
 * `end` (tags, varints, fixed and length-delimited values; no groups). Only the top level is
 * walked: the decoder checks the inside.
 */
function fieldsTile(buf: Uint8Array, start: number, end: number): boolean {
  let at = start;
  while (at < end) {
    const tag = readVarint(buf, at, end);
    if (tag === undefined || tag[0] < 8) return false;
    at = tag[1];
    switch (tag[0] & 7) {
      case 0: {
        const v = readVarint(buf, at, end);
        if (v === undefined) return false;
        at = v[1];
        break;
      }
      case 1:
        at += 8;
        break;
      case 2: {
        const len = readVarint(buf, at, end);
        if (len === undefined) return false;
        at = len[1] + len[0];
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        return false;
    }
  }
  return at === end;
}

/** [value, next offset] of a varint of at most 10 bytes, exact up to 2^53. */
function readVarint(buf: Uint8Array, at: number, end: number): readonly [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && at + i < end; i++) {
    const b = buf[at + i];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at + i + 1];
    scale *= 128;
  }
  return undefined;
}
