import { createReadStream, type ReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import { OtlpDecodeError } from '../errors.js';
import { decodeProtobufRequest, jsonRequestToProtobuf } from '../otlp/index.js';
import type { DecodeResult, DecodedRequest } from '../otlp/types.js';
import { describeIoError, detectFormat, isGzipFile, type InputFile, type InputFormat } from './input-files.js';
import { detectFraming } from './protobuf-framing.js';
import { ReplayInputError } from './replay-errors.js';

const gunzipAsync = promisify(gunzip);

/** One request read from an input file. */
export interface InputRequest {
  readonly decoded: DecodedRequest;
  /** Where it is, for messages: `FILE:LINE` or `FILE: message N`. */
  readonly where: string;
  /** Bytes of the file (as stored, so compressed for gzip) read so far, for progress. */
  readonly fileBytesRead: number;
}

export interface ReadOptions {
  /** Called when the format of the file is known. */
  readonly onFormat?: (format: InputFormat, gzip: boolean) => void;
}

/**
 * The requests of one input file, in file order: OTLP/JSON lines (one ExportTraceServiceRequest
 * per line, blank lines skipped) or OTLP protobuf (see protobuf-framing.ts), either possibly
 * gzip-compressed (recognised by its magic bytes, whatever the name).
 * @throws ReplayInputError at the first line or message that is not a valid request.
 */
export async function* readInputRequests(file: InputFile, options: ReadOptions = {}): AsyncGenerator<InputRequest> {
  let gzip: boolean;
  try {
    gzip = await isGzipFile(file.path);
  } catch (err) {
    throw new ReplayInputError(`${file.path}: ${describeIoError(err)}`);
  }
  const head = await readHead(file.path, gzip);
  const format = detectFormat(file.path, head);
  options.onFormat?.(format, gzip);
  if (format === 'otlp-json-lines') yield* readJsonLines(file, gzip);
  else yield* readProtobuf(file, gzip);
}

async function readHead(path: string, gzip: boolean): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    const raw = createReadStream(path, { start: 0, highWaterMark: 64 * 1024 });
    const stream = decompressed(raw, gzip);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= 8) break;
    }
    raw.destroy();
  } catch (err) {
    throw new ReplayInputError(`${path}: ${gzip ? 'cannot decompress (gzip): ' : ''}${describeIoError(err)}`);
  }
  return Buffer.concat(chunks).subarray(0, 8);
}

/** The file's bytes, gunzipped when needed; a read error of the file ends the stream with it. */
function decompressed(raw: ReadStream, gzip: boolean): Readable {
  if (!gzip) return raw;
  return pipeline(raw, createGunzip(), () => {
    // Errors reach the reader through the gunzip stream, which pipeline destroys with them.
  });
}

async function* readJsonLines(file: InputFile, gzip: boolean): AsyncGenerator<InputRequest> {
  const raw = createReadStream(file.path, { highWaterMark: 1024 * 1024 });
  const stream = decompressed(raw, gzip);
  // A line longer than a chunk is collected in parts and joined once.
  let parts: Buffer[] = [];
  let line = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) break;
        line++;
        let decoded: DecodedRequest | undefined;
        if (parts.length === 0) {
          decoded = decodeLine(file.path, line, chunk, start, nl);
        } else {
          const whole = Buffer.concat([...parts, chunk.subarray(start, nl)]);
          parts = [];
          decoded = decodeLine(file.path, line, whole, 0, whole.length);
        }
        if (decoded !== undefined) yield { decoded, where: `${file.path}:${line}`, fileBytesRead: raw.bytesRead };
        start = nl + 1;
      }
      if (start < chunk.length) parts.push(chunk.subarray(start));
    }
  } catch (err) {
    raw.destroy();
    if (err instanceof ReplayInputError) throw err;
    throw new ReplayInputError(`${file.path}:${line + 1}: ${gzip ? 'cannot decompress (gzip): ' : ''}${describeIoError(err)}`);
  }
  if (parts.length > 0) {
    const whole = Buffer.concat(parts);
    const decoded = decodeLine(file.path, line + 1, whole, 0, whole.length);
    if (decoded !== undefined) yield { decoded, where: `${file.path}:${line + 1}`, fileBytesRead: raw.bytesRead };
  }
}

/** The request on one line, or undefined for a blank line. */
function decodeLine(path: string, line: number, data: Buffer, start: number, end: number): DecodedRequest | undefined {
  let at = start;
  while (at < end && (data[at] === 0x20 || data[at] === 0x09 || data[at] === 0x0d)) at++;
  if (at === end) return undefined;
  const result = decodeJsonLine(data.toString('utf8', start, end));
  if (!result.ok) throw new ReplayInputError(`${path}:${line}: ${result.error.message}`);
  return result.value;
}

/**
 * One OTLP/JSON line. Unknown keys are ignored by OTLP/JSON, so a JSON object of some other
 * kind (a manifest line, a log line) would read as an empty request and pass unnoticed; an
 * object with keys but no `resourceSpans` is refused instead.
 */
export function decodeJsonLine(text: string): DecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return { ok: false, error: new OtlpDecodeError(`invalid JSON: ${(err as Error).message}`) };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, error: new OtlpDecodeError('expected a JSON object (an OTLP/JSON ExportTraceServiceRequest)') };
  }
  const keys = Object.keys(json);
  if (keys.length > 0 && !keys.includes('resourceSpans') && !keys.includes('resource_spans')) {
    const shown = keys.slice(0, 5).map((k) => JSON.stringify(k.length > 30 ? `${k.slice(0, 30)}...` : k));
    return {
      ok: false,
      error: new OtlpDecodeError(`not an OTLP/JSON ExportTraceServiceRequest: no "resourceSpans" key (found ${shown.join(', ')}${keys.length > 5 ? ', ...' : ''})`),
    };
  }
  let bytes: Uint8Array;
  try {
    bytes = jsonRequestToProtobuf(json);
  } catch (err) {
    if (err instanceof OtlpDecodeError) return { ok: false, error: err };
    throw err;
  }
  return decodeProtobufRequest(bytes);
}

async function* readProtobuf(file: InputFile, gzip: boolean): AsyncGenerator<InputRequest> {
  let buf: Uint8Array;
  try {
    const stored = await readFile(file.path);
    buf = gzip ? await gunzipAsync(stored) : stored;
  } catch (err) {
    throw new ReplayInputError(`${file.path}: ${gzip ? 'cannot decompress (gzip): ' : ''}${describeIoError(err)}`);
  }
  const { framing, messages } = detectFraming(buf);
  for (let i = 0; i < messages.length; i++) {
    const [start, end] = messages[i];
    const result = decodeProtobufRequest(buf.subarray(start, end));
    if (!result.ok) {
      const where =
        framing === 'single'
          ? 'not an OTLP protobuf ExportTraceServiceRequest (nor a length-prefixed sequence of them)'
          : `message ${i + 1} of ${messages.length} (${framing} length-prefixed, bytes ${start}-${end})`;
      throw new ReplayInputError(`${file.path}: ${where}: ${result.error.message}`);
    }
    // Progress in stored bytes: decompressed offsets scaled to the file's size on disk.
    yield { decoded: result.value, where: `${file.path}: message ${i + 1}`, fileBytesRead: Math.round((end / buf.length) * file.size) };
  }
}
