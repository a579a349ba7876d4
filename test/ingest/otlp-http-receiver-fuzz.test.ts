import { connect, type Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import { OtlpHttpReceiver, type IntakeResult } from '../../src/ingest/otlp-http-receiver.js';
import { decodeJsonRequest, decodeProtobufRequest, protobufRequestToJson } from '../../src/otlp/index.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { generatedRequest } from '../otlp/request-arbitrary.js';
import { handmadeSpans, toProtobuf, tracerSpans } from '../otlp/sdk-span-fixtures.js';

/*
 * The OTLP/HTTP receiver under generated traffic: a real server on 127.0.0.1 fed over raw
 * keep-alive sockets, so that requests can be what no HTTP library would send (wrong
 * lengths, broken chunking, huge headers, gzip bombs, uploads cut off).
 *
 * Oracle, per request: the answer is 2xx or 4xx; a 503 only when the trace buffer itself
 * refused the spans during that request (the intake below counts its refusals) and it
 * carries Retry-After; for a well-framed request the exact status follows from the request
 * (route, method, media type, encoding, size, and what the decoders say of the body). Per
 * run: the process is still up, a valid request is still accepted, memory stays bounded.
 */

const MAX_BODY = 256 * 1024;
const SECRET_TOKEN = 'fuzz-secret-7f3a9c2e5d1b44a0';
/** Node's default limit on the header section; a request over it gets 431. */
const NODE_MAX_HEADER_BYTES = 16 * 1024;

// ---------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: one keep-alive connection at a time, exactly the bytes given.

interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

class RawConnection {
  private readonly socket: Socket;
  private data = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.wake?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    // Writing to a connection the server has cut is an expected outcome, not a failure.
    this.socket.on('error', () => undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next final (non-1xx) response, or undefined when the connection closed first. */
  async read(head: boolean): Promise<RawResponse | undefined> {
    for (;;) {
      const parsed = parseResponse(this.data, head, this.closed);
      if (parsed !== undefined) {
        this.data = this.data.subarray(parsed.length);
        if (parsed.response.status >= 200) return parsed.response;
        continue;
      }
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

function parseResponse(data: Buffer, head: boolean, closed: boolean): { response: RawResponse; length: number } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1]);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers['transfer-encoding'] !== undefined) throw new Error('the receiver answered with a chunked body');
  const bodyStart = end + 4;
  let bodyLength: number;
  if (head || status < 200 || status === 204 || status === 304) bodyLength = 0;
  else if (headers['content-length'] !== undefined) bodyLength = Number(headers['content-length']);
  else if (closed) bodyLength = data.length - bodyStart;
  else return undefined;
  if (data.length < bodyStart + bodyLength) return undefined;
  return { response: { status, headers, body: data.subarray(bodyStart, bodyStart + bodyLength) }, length: bodyStart + bodyLength };
}

// ---------------------------------------------------------------------------------------
// Generated requests.

type Encoding = 'protobuf' | 'json';

interface HeaderChoice<T> {
  readonly header: string | undefined;
  /** What the receiver must make of it. */
  readonly means: T;
}

const CONTENT_TYPES: HeaderChoice<Encoding | undefined>[] = [
  { header: 'application/x-protobuf', means: 'protobuf' },
  { header: 'application/json', means: 'json' },
  { header: 'application/json; charset=utf-8', means: 'json' },
  { header: 'APPLICATION/X-PROTOBUF', means: 'protobuf' },
  { header: '  application/json  ;;;==;x', means: 'json' },
  { header: 'application/x-protobuf; proto=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest', means: 'protobuf' },
  { header: 'application/protobuf', means: undefined },
  { header: 'application/x-protobuf+gzip', means: undefined },
  { header: 'text/plain', means: undefined },
  { header: 'multipart/form-data; boundary=xyz', means: undefined },
  { header: '', means: undefined },
  { header: undefined, means: undefined },
];

const CONTENT_ENCODINGS: HeaderChoice<'identity' | 'gzip' | undefined>[] = [
  { header: undefined, means: 'identity' },
  { header: 'identity', means: 'identity' },
  { header: 'gzip', means: 'gzip' },
  { header: 'GZIP', means: 'gzip' },
  { header: ' gzip ', means: 'gzip' },
  { header: '', means: 'identity' },
  { header: 'br', means: undefined },
  { header: 'deflate', means: undefined },
  { header: 'x-gzip', means: undefined },
  { header: 'gzip, identity', means: undefined },
];

const PATHS: HeaderChoice<boolean>[] = [
  { header: '/v1/traces', means: true },
  { header: '/v1/traces?tenant=a&x=%00', means: true },
  { header: '/v1/traces?', means: true },
  { header: '/v1/traces/', means: false },
  { header: '/V1/TRACES', means: false },
  { header: '//v1/traces', means: false },
  { header: '/v1/metrics', means: false },
  { header: '/', means: false },
  { header: '/%2e%2e/v1/traces', means: false },
  { header: 'http://127.0.0.1/v1/traces', means: false },
  { header: `/v1/traces/${'x'.repeat(4000)}`, means: false },
];

const OTHER_METHODS = ['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD'];

type Compression = 'none' | 'gzip' | 'gzip-truncated' | 'gzip-corrupted' | 'bomb-small' | 'bomb-large';

/**
 * How the body travels: `exact` and `chunked` are well framed; `slow` is exact in pieces
 * with pauses; `short-declared` declares fewer bytes than it sends (the rest is garbage
 * for the parser); `bad-length` sends an unparseable or conflicting length; `aborted`
 * sends part of the body and disconnects.
 */
type Framing = 'exact' | 'chunked' | 'slow' | 'short-declared' | 'bad-length' | 'aborted';

interface HttpCase {
  readonly method: string;
  readonly path: HeaderChoice<boolean>;
  readonly contentType: HeaderChoice<Encoding | undefined>;
  readonly contentEncoding: HeaderChoice<'identity' | 'gzip' | undefined>;
  readonly body: Uint8Array;
  readonly compression: Compression;
  readonly framing: Framing;
  readonly fillerHeaderBytes: number;
  /** Sends `Authorization: Bearer <SECRET_TOKEN>`, which must never reach the log. */
  readonly authorization: boolean;
  /** Fractions of the body where pieces (chunks, slow writes, a cut) end. */
  readonly cuts: readonly number[];
  readonly flip: { readonly at: number; readonly xor: number };
}

const validProtobuf: Uint8Array[] = [
  toProtobuf(tracerSpans()),
  toProtobuf(handmadeSpans()),
  ...fc.sample(generatedRequest, { numRuns: 30, seed: 4318 }).map((g) => g.bytes),
];
const validJson: Uint8Array[] = validProtobuf.map((b) => new TextEncoder().encode(JSON.stringify(protobufRequestToJson(b))));

const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

function damaged(bytes: Uint8Array, edits: readonly [number, number, number][]): Uint8Array {
  let out = Buffer.from(bytes);
  for (const [kind, at, value] of edits) {
    const i = Math.floor(at * out.length);
    if (kind === 0) out = out.subarray(0, i);
    else if (kind === 1 && out.length > 0) out[i] ^= value || 1;
    else out = Buffer.concat([out.subarray(0, i), Buffer.of(value), out.subarray(i)]);
  }
  return new Uint8Array(out);
}

const body: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...validProtobuf) },
  { weight: 4, arbitrary: fc.constantFrom(...validJson) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.constantFrom(...validProtobuf, ...validJson), fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fraction, fc.nat(255)), { minLength: 1, maxLength: 3 }))
      .map(([b, edits]) => damaged(b, edits)),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 3000 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  // Around the size limit: at it (read, then refused as malformed) and just past it.
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 3000 }).map((extra) => new Uint8Array(MAX_BODY + extra).fill(0x0a)) },
);

const anyCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.oneof({ weight: 10, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
  path: fc.oneof({ weight: 8, arbitrary: fc.constant(PATHS[0]) }, { weight: 2, arbitrary: fc.constantFrom(...PATHS) }),
  contentType: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(CONTENT_TYPES[0], CONTENT_TYPES[1]) }, { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
  contentEncoding: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(CONTENT_ENCODINGS[0], CONTENT_ENCODINGS[2]) }, { weight: 2, arbitrary: fc.constantFrom(...CONTENT_ENCODINGS) }),
  body,
  compression: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom<Compression>('none', 'gzip') },
    { weight: 4, arbitrary: fc.constantFrom<Compression>('gzip-truncated', 'gzip-corrupted', 'bomb-small') },
    { weight: 1, arbitrary: fc.constant<Compression>('bomb-large') },
  ),
  framing: fc.oneof(
    { weight: 20, arbitrary: fc.constantFrom<Framing>('exact', 'chunked') },
    { weight: 3, arbitrary: fc.constantFrom<Framing>('short-declared', 'bad-length') },
    { weight: 1, arbitrary: fc.constantFrom<Framing>('slow', 'aborted') },
  ),
  fillerHeaderBytes: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constantFrom(200, 4000, 10_000) }, { weight: 1, arbitrary: fc.constant(20_000) }),
  authorization: fc.boolean(),
  cuts: fc.array(fraction, { maxLength: 6 }),
  flip: fc.record({ at: fraction, xor: fc.integer({ min: 1, max: 255 }) }),
});

/** What an exporter sends, with the framing and extra headers still drawn at random. */
const exporterCase: fc.Arbitrary<HttpCase> = fc
  .record({ base: anyCase, json: fc.boolean(), gzip: fc.boolean(), which: fc.nat(validProtobuf.length - 1) })
  .map(({ base, json, gzip, which }) => ({
    ...base,
    method: 'POST',
    path: PATHS[0],
    contentType: json ? CONTENT_TYPES[1] : CONTENT_TYPES[0],
    contentEncoding: gzip ? CONTENT_ENCODINGS[2] : CONTENT_ENCODINGS[0],
    compression: gzip ? ('gzip' as const) : ('none' as const),
    body: json ? validJson[which] : validProtobuf[which],
  }));

const httpCase = fc.oneof({ weight: 3, arbitrary: anyCase }, { weight: 1, arbitrary: exporterCase });

/** gzip members that inflate to 192 MiB of zeros from about 190 KiB: under MAX_BODY as sent. */
let largeBomb: Buffer;
/** A gzip body that inflates to just past MAX_BODY. */
const smallBomb = gzipSync(Buffer.alloc(MAX_BODY + 1));

function payloadOf(c: HttpCase): Buffer {
  const raw = Buffer.from(c.body);
  switch (c.compression) {
    case 'none':
      return raw;
    case 'gzip':
      return gzipSync(raw);
    case 'gzip-truncated': {
      const zipped = gzipSync(raw);
      return zipped.subarray(0, Math.floor(c.flip.at * zipped.length));
    }
    case 'gzip-corrupted': {
      const zipped = gzipSync(raw);
      zipped[Math.floor(c.flip.at * zipped.length)] ^= c.flip.xor;
      return zipped;
    }
    case 'bomb-small':
      return smallBomb;
    case 'bomb-large':
      return largeBomb;
  }
}

/** Where the body is cut into pieces, as sorted offsets strictly inside it. */
function cutPoints(length: number, cuts: readonly number[]): number[] {
  return [...new Set(cuts.map((f) => Math.floor(f * length)).filter((n) => n > 0 && n < length))].sort((a, b) => a - b);
}

function pieces(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [0, ...cutPoints(bytes.length, cuts), bytes.length];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) out.push(bytes.subarray(points[i], points[i + 1]));
  return out.length === 0 ? [bytes] : out;
}

function headerBlock(c: HttpCase, lengthHeaders: string[]): Buffer {
  const lines = [`${c.method} ${c.path.header} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (c.contentType.header !== undefined) lines.push(`Content-Type: ${c.contentType.header}`);
  if (c.contentEncoding.header !== undefined) lines.push(`Content-Encoding: ${c.contentEncoding.header}`);
  if (c.authorization) lines.push(`Authorization: Bearer ${SECRET_TOKEN}`);
  if (c.fillerHeaderBytes > 0) lines.push(`X-Filler: ${'f'.repeat(c.fillerHeaderBytes)}`);
  lines.push(...lengthHeaders);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/**
 * Node answers 431 and closes at once, while the body may still be arriving: the reset
 * that follows can discard the answer before the client reads it.
 */
function headersTooLarge(c: HttpCase): boolean {
  return c.fillerHeaderBytes >= NODE_MAX_HEADER_BYTES;
}

/**
 * What the receiver must answer to a well-framed request carrying `payload`; 'spans' means 200,
 * or 503 when the buffer refused them; '400 or 413' a broken gzip stream of a body over the
 * limit, where the limit or the break may be met first while inflating.
 */
function expectedStatus(c: HttpCase, payload: Buffer): number | 'spans' | '400 or 413' {
  if (headersTooLarge(c)) return 431;
  if (!c.path.means) return 404;
  if (c.method !== 'POST') return 405;
  if (c.contentType.means === undefined) return 415;
  if (c.contentEncoding.means === undefined) return 415;
  if (payload.length > MAX_BODY) return 413;
  let body: Buffer = payload;
  if (c.contentEncoding.means === 'gzip') {
    try {
      body = gunzipSync(payload, { maxOutputLength: MAX_BODY });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return 413;
      return c.body.length > MAX_BODY ? '400 or 413' : 400;
    }
  }
  const decoded = c.contentType.means === 'protobuf' ? decodeProtobufRequest(body) : decodeJsonRequest(body);
  if (!decoded.ok) return 400;
  return decoded.value.spanCount === 0 ? 200 : 'spans';
}

// ---------------------------------------------------------------------------------------
// The receiver, with a real memory trace buffer behind it.

let receiver: OtlpHttpReceiver;
let port: number;
let logText = '';
let buffer: MemoryTraceBuffer;
/** Appends the buffer refused as full, ever. */
let refusedAsFull = 0;

async function intake(decoded: DecodedRequest): Promise<IntakeResult> {
  const outcome = await buffer.append(decoded.fragments, Date.now());
  if (outcome.status === 'full') {
    refusedAsFull++;
    return outcome;
  }
  return { status: 'accepted' };
}

/** Decides every buffered trace, as the decision loop would, so the buffer empties. */
async function drainBuffer(): Promise<void> {
  for (;;) {
    const due = await buffer.claimDue(Number.MAX_SAFE_INTEGER, 1000);
    if (due.length === 0) return;
    for (const trace of due) await buffer.complete(trace, { keep: false, policy: undefined }, Date.now());
  }
}

let connection: RawConnection | undefined;

function conn(): RawConnection {
  if (connection === undefined || connection.isClosed) connection = new RawConnection(port);
  return connection;
}

function dropConnection(): void {
  connection?.destroy();
  connection = undefined;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Sent {
  readonly response: RawResponse | undefined;
  /** The exact status the request must get, when its framing lets us say. */
  readonly expected: ReturnType<typeof expectedStatus> | undefined;
  /** No answer is acceptable (the client cut the upload, or the server cut a malformed one). */
  readonly answerOptional: boolean;
  readonly bytes: number;
}

async function send(c: HttpCase): Promise<Sent> {
  const sent = await sendOnce(c);
  // The server said it closes this connection: the next request needs a new one.
  if (sent.response?.headers.connection === 'close') dropConnection();
  return sent;
}

async function sendOnce(c: HttpCase): Promise<Sent> {
  const payload = payloadOf(c);
  const head = c.method === 'HEAD';
  const current = conn();
  switch (c.framing) {
    case 'exact':
    case 'slow': {
      current.write(headerBlock(c, [`Content-Length: ${payload.length}`]));
      for (const piece of pieces(payload, c.framing === 'slow' ? c.cuts.slice(0, 3) : [])) {
        current.write(piece);
        if (c.framing === 'slow') await pause(5);
      }
      const response = await current.read(head);
      return { response, expected: expectedStatus(c, payload), answerOptional: headersTooLarge(c), bytes: payload.length };
    }
    case 'chunked': {
      current.write(headerBlock(c, ['Transfer-Encoding: chunked']));
      // A zero-size chunk ends the body, so an empty payload has no data chunk at all.
      const chunks = pieces(payload, c.cuts).filter((p) => p.length > 0).map((p, i) =>
        Buffer.concat([Buffer.from(`${p.length.toString(16)}${i % 2 === 1 ? ';ext=1' : ''}\r\n`), p, Buffer.from('\r\n')]),
      );
      current.write(Buffer.concat([...chunks, Buffer.from(payload.length > 0 ? '0\r\nX-Trailer: t\r\n\r\n' : '0\r\n\r\n')]));
      const response = await current.read(head);
      return { response, expected: expectedStatus(c, payload), answerOptional: headersTooLarge(c), bytes: payload.length };
    }
    case 'short-declared': {
      // The server sees a shorter body; the rest reaches its parser as the next request.
      const declared = cutPoints(payload.length, c.cuts)[0] ?? 0;
      current.write(Buffer.concat([headerBlock(c, [`Content-Length: ${declared}`]), payload]));
      const response = await current.read(head);
      dropConnection();
      // Node's parser meets the garbage in the same packet and may answer its own 400 (and
      // close) before the receiver answers the first request: the stream is broken either way.
      const parserRefused = response?.status === 400 && response.headers.connection === 'close' && response.body.length === 0;
      const expected = parserRefused ? undefined : expectedStatus(c, payload.subarray(0, declared));
      return { response, expected, answerOptional: headersTooLarge(c), bytes: payload.length };
    }
    case 'bad-length': {
      const variants = [['Content-Length: abc'], ['Content-Length: -1'], ['Content-Length: 1', 'Content-Length: 2'], ['Content-Length: 5', 'Transfer-Encoding: chunked'], ['Transfer-Encoding: gzip, chunked, identity']];
      const lengthHeaders = variants[Math.floor(c.flip.at * variants.length)];
      current.write(Buffer.concat([headerBlock(c, lengthHeaders), payload]));
      const response = await current.read(head);
      dropConnection();
      return { response, expected: undefined, answerOptional: true, bytes: payload.length };
    }
    case 'aborted': {
      current.write(headerBlock(c, [`Content-Length: ${payload.length + 10}`]));
      current.write(payload.subarray(0, cutPoints(payload.length, c.cuts)[0] ?? 0));
      await pause(2);
      dropConnection();
      return { response: undefined, expected: undefined, answerOptional: true, bytes: payload.length };
    }
  }
}

/** A request any OTLP exporter would send must still be taken. */
async function expectStillServing(): Promise<void> {
  await drainBuffer();
  const fresh = new RawConnection(port);
  const c: HttpCase = {
    method: 'POST',
    path: PATHS[0],
    contentType: CONTENT_TYPES[0],
    contentEncoding: CONTENT_ENCODINGS[0],
    body: validProtobuf[0],
    compression: 'none',
    framing: 'exact',
    fillerHeaderBytes: 0,
    authorization: false,
    cuts: [],
    flip: { at: 0, xor: 1 },
  };
  fresh.write(Buffer.concat([headerBlock(c, [`Content-Length: ${c.body.length}`]), Buffer.from(c.body)]));
  const response = await fresh.read(false);
  fresh.destroy();
  expect(response?.status).toBe(200);
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('OTLP/HTTP receiver under generated requests', () => {
  let gc: () => void;

  beforeAll(async () => {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    largeBomb = Buffer.concat([member, member, member]);
    buffer = new MemoryTraceBuffer({
      decisionWaitMs: 1000,
      decisionWaitAfterRootMs: undefined,
      maxSpansPerTrace: 1000,
      // Small, so that a run meets a full buffer many times; the request pool reuses trace
      // ids, so decisions are forgotten soon and those traces count as new again.
      maxTraces: 12,
      sampledCacheSize: 4,
      nonSampledCacheSize: 4,
    });
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logText += chunk.toString();
        done();
      },
    });
    receiver = new OtlpHttpReceiver({ host: '127.0.0.1', port: 0, maxBodyBytes: MAX_BODY, intake, logger: pino({ level: 'info' }, logStream) });
    port = (await receiver.start()).port;
  });

  afterAll(async () => {
    dropConnection();
    await receiver?.stop();
    await buffer?.close();
  });

  it('answers every request with 2xx or 4xx (503 only when the buffer is full), keeps serving, and stays bounded', async () => {
    expect(largeBomb.length).toBeLessThan(MAX_BODY);
    await expectStillServing();
    const heapBefore = heapAfterGc(gc);
    const peakRssBefore = process.resourceUsage().maxRSS;
    const statuses = new Map<number | 'none', number>();
    let bytesSent = 0;
    let cases = 0;

    await fc.assert(
      fc.asyncProperty(httpCase, async (c) => {
        const refusedBefore = refusedAsFull;
        const sent = await send(c);
        cases++;
        bytesSent += sent.bytes;
        const { response } = sent;
        statuses.set(response?.status ?? 'none', (statuses.get(response?.status ?? 'none') ?? 0) + 1);
        if (response === undefined) {
          expect(sent.answerOptional).toBe(true);
        } else if (response.status === 503) {
          // The only 5xx allowed: the buffer refused this very request, and says when to retry.
          expect(refusedAsFull).toBe(refusedBefore + 1);
          expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
          await drainBuffer();
        } else {
          expect(response.status).toBeGreaterThanOrEqual(200);
          expect(response.status).toBeLessThan(500);
        }
        if (response !== undefined && sent.expected !== undefined) {
          if (sent.expected === 'spans') expect([200, 503]).toContain(response.status);
          else if (sent.expected === '400 or 413') expect([400, 413]).toContain(response.status);
          else expect(response.status).toBe(sent.expected);
          if (response.status !== 431) {
            // The receiver's own answers come in the request's encoding (JSON when it named none we know).
            const encoding = c.contentType.means ?? 'json';
            expect(response.headers['content-type']).toBe(encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json');
          }
          if (response.status === 200 && c.method !== 'HEAD') {
            expect(response.body.toString('latin1')).toBe(c.contentType.means === 'json' ? '{}' : '');
          }
        }
        if (cases % 250 === 0) await expectStillServing();
      }),
      { numRuns: 2000 },
    );

    await expectStillServing();
    dropConnection();
    await drainBuffer();
    // What the receiver and buffer may keep after the run: counters and a few remembered
    // decisions. More than 24 MiB of bodies went through: keeping half of them, or one
    // inflated bomb, would break these bounds.
    expect(bytesSent).toBeGreaterThan(24 * 1024 * 1024);
    expect(heapAfterGc(gc) - heapBefore).toBeLessThan(12 * 1024 * 1024);
    // maxRSS is the process's peak in KiB; inflating one large bomb would add 192 MiB.
    expect(process.resourceUsage().maxRSS - peakRssBefore).toBeLessThan(128 * 1024);

    // Every kind of answer the oracle speaks about occurred.
    for (const status of [200, 400, 404, 405, 413, 415, 431, 503]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
    const counters = receiver.counters();
    expect(counters.requests.accepted).toBeGreaterThan(0);
    expect(counters.rejected.buffer_full).toBe(refusedAsFull);
    expect(counters.rejected.intake_failed).toBe(0);
    // Refusals are summed up in a line per interval, never logged one by one, and what
    // clients send in Authorization never shows.
    await receiver.stop();
    const lines = logText.split('\n').filter(Boolean);
    expect(lines.length).toBeLessThan(20);
    expect(logText).toContain('refused requests');
    expect(logText).not.toContain(SECRET_TOKEN);
  });
});
