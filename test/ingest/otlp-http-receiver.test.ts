import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeJsonRequest, decodeProtobufRequest } from '../../src/otlp/index.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { OtlpHttpReceiver, retryAfterSeconds, bodyEncodingOf, type IntakeResult } from '../../src/ingest/otlp-http-receiver.js';
import { readRpcStatus } from '../../src/forward/otlp-http-response.js';
import { silentLogger, type Logger } from '../../src/telemetry/logger.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews } from './sdk-spans.js';

const MAX_BODY = 1024 * 1024;

let receiver: OtlpHttpReceiver;
let base: string;
let seen: DecodedRequest[];
let intake: (decoded: DecodedRequest) => Promise<IntakeResult>;

async function startReceiver(options: { logger?: Logger } = {}): Promise<void> {
  seen = [];
  intake = async () => ({ status: 'accepted' });
  receiver = new OtlpHttpReceiver({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: MAX_BODY,
    intake: (decoded) => {
      seen.push(decoded);
      return intake(decoded);
    },
    logger: options.logger ?? silentLogger,
  });
  const { host, port } = await receiver.start();
  base = `http://${host}:${port}`;
}

function post(body: Uint8Array | string, headers: Record<string, string>, path = '/v1/traces'): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers, body });
}

async function statusOf(res: Response): Promise<{ code: number; message: string }> {
  const status = readRpcStatus(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type'));
  expect(status).toBeDefined();
  return status!;
}

function protobufBody(traces = 2, spansPerTrace = 3): { bytes: Uint8Array; spans: ReturnType<typeof makeSdkSpans> } {
  const spans = makeSdkSpans({ traces, spansPerTrace });
  return { bytes: ProtobufTraceSerializer.serializeRequest(spans)!, spans };
}

function seenSpans(): ReturnType<typeof summarizeViews> {
  return summarizeViews(seen.flatMap((d) => d.spans));
}

describe('OtlpHttpReceiver', () => {
  beforeEach(async () => {
    await startReceiver();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('accepts protobuf from the OTel SDK serializer and answers an empty ExportTraceServiceResponse', async () => {
    const { bytes, spans } = protobufBody();
    const res = await post(bytes, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0].spanCount).toBe(6);
    expect(seenSpans()).toEqual(summarizeSdkSpans(spans));
    expect(seen[0].fragments.map((f) => f.traceId).sort()).toEqual([...new Set(spans.map((s) => s.spanContext().traceId))].sort());
  });

  it('accepts OTLP/JSON with a charset parameter and answers {}', async () => {
    const spans = makeSdkSpans({ traces: 3, spansPerTrace: 2 });
    const json = JsonTraceSerializer.serializeRequest(spans)!;
    const res = await post(json, { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{}');
    expect(seenSpans()).toEqual(summarizeSdkSpans(spans));
  });

  it('accepts gzip-compressed protobuf and JSON', async () => {
    const spans = makeSdkSpans({ traces: 2, spansPerTrace: 4 });
    const proto = gzipSync(ProtobufTraceSerializer.serializeRequest(spans)!);
    const json = gzipSync(JsonTraceSerializer.serializeRequest(spans)!);
    const a = await post(proto, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    const b = await post(json, { 'content-type': 'application/json', 'content-encoding': 'GZIP' });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(summarizeViews(seen[0].spans)).toEqual(summarizeSdkSpans(spans));
    expect(summarizeViews(seen[1].spans)).toEqual(summarizeSdkSpans(spans));
  });

  it('accepts Content-Encoding identity and refuses other encodings with 415 and a reason', async () => {
    const { bytes } = protobufBody(1, 1);
    const ok = await post(bytes, { 'content-type': 'application/x-protobuf', 'content-encoding': 'identity' });
    expect(ok.status).toBe(200);
    const res = await post(bytes, { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await statusOf(res)).message).toMatch(/Content-Encoding "br" is not supported/);
    expect(seen).toHaveLength(1);
  });

  it('answers a gzip bomb with 413 without inflating it', async () => {
    // Concatenated gzip members: 512 x 1 MiB of zeros, about half a megabyte on the wire.
    const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 512 }, () => member));
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const peakBefore = process.resourceUsage().maxRSS;
    const res = await post(bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect((await statusOf(res)).message).toMatch(/decompressed request body is larger than the limit of 1048576 bytes/);
    // maxRSS is the process's peak in KiB: inflating the bomb would raise it by ~512 MiB.
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(128 * 1024);
    expect(seen).toHaveLength(0);
    expect(receiver.counters().rejected.too_large).toBe(1);
  });

  it('answers 413 to a body over the limit, declared or streamed, and keeps serving', async () => {
    const big = Buffer.alloc(MAX_BODY + 200_000, 7);
    const declared = await post(big, { 'content-type': 'application/x-protobuf' });
    expect(declared.status).toBe(413);
    expect((await statusOf(declared)).message).toMatch(/larger than the limit of 1048576 bytes/);

    const streamed = await new Promise<{ status: number; body: Buffer; contentType: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), contentType: String(res.headers['content-type']) }));
      });
      req.on('error', reject);
      // No Content-Length: chunked, so the limit can only be found while reading.
      for (let sent = 0; sent < MAX_BODY + 300_000; sent += 64 * 1024) req.write(Buffer.alloc(64 * 1024, 0x20));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(readRpcStatus(streamed.body, streamed.contentType)?.message).toMatch(/request body is larger than the limit/);

    const { bytes } = protobufBody(1, 2);
    expect((await post(bytes, { 'content-type': 'application/x-protobuf' })).status).toBe(200);
    expect(receiver.counters().rejected.too_large).toBe(2);
  });

  it('answers 413 before any byte of a far too large declared body and closes that connection', async () => {
    const answer = await new Promise<{ status: number; connection: string | undefined; body: Buffer; contentType: string }>((resolve, reject) => {
      const req = httpRequest(
        `${base}/v1/traces`,
        { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': String(10 * MAX_BODY) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({ status: res.statusCode!, connection: res.headers.connection, body: Buffer.concat(chunks), contentType: String(res.headers['content-type']) });
            req.destroy();
          });
        },
      );
      req.on('error', reject);
      // Headers only: the answer must come without the body being sent.
      req.flushHeaders();
    });
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
    expect(readRpcStatus(answer.body, answer.contentType)?.message).toMatch(/Content-Length 10485760/);
  });

  it('answers 415 to text/plain with the supported types in the reason', async () => {
    const res = await post('hello', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    const status = await statusOf(res);
    expect(status.message).toContain('"text/plain" is not supported');
    expect(status.message).toContain('application/x-protobuf');
    expect(status.code).toBe(12);
    expect(receiver.counters().rejected.unsupported_media_type).toBe(1);
  });

  it('answers 400 to a malformed protobuf body with the decoder reason, as a protobuf Status', async () => {
    const { bytes } = protobufBody(1, 3);
    const truncated = bytes.subarray(0, bytes.length - 5);
    const expected = decodeProtobufRequest(truncated);
    expect(expected.ok).toBe(false);
    const res = await post(truncated, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const status = await statusOf(res);
    expect(status.code).toBe(3);
    expect(status.message).toBe(expected.ok ? '' : expected.error.message);
    expect(status.message.length).toBeGreaterThan(0);
    expect(seen).toHaveLength(0);
  });

  it('answers 400 to malformed JSON with a JSON Status carrying the decoder reason', async () => {
    const body = '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "nothex"';
    const expected = decodeJsonRequest(body);
    expect(expected.ok).toBe(false);
    const res = await post(body, { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    const parsed = (await res.json()) as { code: number; message: string };
    expect(parsed.code).toBe(3);
    expect(parsed.message).toBe(expected.ok ? '' : expected.error.message);
  });

  it('answers 400 to a body that is not valid gzip', async () => {
    const res = await post(Buffer.from('definitely not gzip'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect((await statusOf(res)).message).toMatch(/not valid gzip/);
  });

  it('answers 503 with Retry-After in whole seconds and the reason when the intake is full', async () => {
    intake = async () => ({ status: 'full', retryAfterMs: 1_200, reason: 'buffer full: 50000 traces pending' });
    const { bytes } = protobufBody(1, 2);
    const res = await post(bytes, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    const status = await statusOf(res);
    expect(status).toEqual({ code: 14, message: 'buffer full: 50000 traces pending' });
    const counters = receiver.counters();
    expect(counters.requests.throttled).toBe(1);
    expect(counters.rejected.buffer_full).toBe(1);
    expect(counters.spansReceived).toBe(2);
    expect(counters.spansAccepted).toBe(0);
  });

  it('answers 405 with Allow: POST to other methods on /v1/traces and 404 elsewhere', async () => {
    const get = await fetch(`${base}/v1/traces`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await statusOf(get)).message).toMatch(/GET is not allowed/);
    const put = await fetch(`${base}/v1/traces`, { method: 'PUT', body: 'x', headers: { 'content-type': 'application/x-protobuf' } });
    expect(put.status).toBe(405);
    const metrics = await post(protobufBody(1, 1).bytes, { 'content-type': 'application/x-protobuf' }, '/v1/metrics');
    expect(metrics.status).toBe(404);
    expect(metrics.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await statusOf(metrics)).message).toContain('/v1/metrics');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect(seen).toHaveLength(0);
  });

  it('answers an empty request with success without bothering the intake', async () => {
    const res = await post(new Uint8Array(0), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(0);
    expect(receiver.counters().requests.accepted).toBe(1);
  });

  it('receives what the real OTLP proto exporter sends, plain and gzip', async () => {
    const spans = makeSdkSpans({ traces: 4, spansPerTrace: 3 });
    for (const compression of ['none', 'gzip'] as const) {
      const exporter = new OTLPTraceExporter({
        url: `${base}/v1/traces`,
        compression: compression as NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>['compression'],
      });
      const result = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
      await exporter.shutdown();
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(ExportResultCode.SUCCESS);
    }
    expect(seen).toHaveLength(2);
    expect(summarizeViews(seen[0].spans)).toEqual(summarizeSdkSpans(spans));
    expect(summarizeViews(seen[1].spans)).toEqual(summarizeSdkSpans(spans));
    expect(receiver.counters().spansAccepted).toBe(24);
  });

  it('counts requests by outcome and spans received', async () => {
    await post(protobufBody(2, 2).bytes, { 'content-type': 'application/x-protobuf' });
    await post('x', { 'content-type': 'text/plain' });
    await post(Buffer.from([0x0a, 0x7f]), { 'content-type': 'application/x-protobuf' });
    const counters = receiver.counters();
    expect(counters.spansReceived).toBe(4);
    expect(counters.spansAccepted).toBe(4);
    expect(counters.requests).toEqual({ accepted: 1, rejected: 2, throttled: 0, unavailable: 0, aborted: 0 });
    expect(counters.rejected.malformed).toBe(1);
    expect(counters.rejected.unsupported_media_type).toBe(1);
  });
});

describe('OtlpHttpReceiver failures and shutdown', () => {
  afterEach(async () => {
    await receiver.stop();
  });

  it('answers 503 when the intake throws, logs the error once, and keeps serving', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    await startReceiver({ logger: pino({ level: 'info' }, sink) });
    intake = async () => {
      throw new Error('store unreachable');
    };
    const { bytes } = protobufBody(1, 2);
    for (let i = 0; i < 3; i++) {
      const res = await post(bytes, { 'content-type': 'application/x-protobuf' });
      expect(res.status).toBe(503);
      expect((await statusOf(res)).code).toBe(14);
    }
    intake = async () => ({ status: 'accepted' });
    expect((await post(bytes, { 'content-type': 'application/x-protobuf' })).status).toBe(200);

    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect((errors[0].err as { message: string }).message).toBe('store unreachable');
    expect(receiver.counters().requests.unavailable).toBe(3);
    expect(receiver.counters().rejected.intake_failed).toBe(3);
  });

  it('logs refused requests as one aggregated warning per interval, the rest at stop', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    seen = [];
    receiver = new OtlpHttpReceiver({
      host: '127.0.0.1',
      port: 0,
      intake: async () => ({ status: 'accepted' }),
      logger: pino({ level: 'info' }, sink),
      rejectLogIntervalMs: 600_000,
    });
    const { host, port } = await receiver.start();
    base = `http://${host}:${port}`;
    await post('a', { 'content-type': 'text/plain' });
    await post('b', { 'content-type': 'text/plain' });
    await post(Buffer.from([0x0a, 0x7f]), { 'content-type': 'application/x-protobuf' });
    const warnings = (): Record<string, unknown>[] => lines.filter((l) => l.level === 40);
    expect(warnings().map((l) => l.refused)).toEqual([{ unsupported_media_type: 1 }]);
    await receiver.stop();
    expect(warnings().map((l) => l.refused)).toEqual([{ unsupported_media_type: 1 }, { unsupported_media_type: 1, malformed: 1 }]);
    expect(warnings()[1].lastMessage).toEqual(expect.any(String));
  });

  it('stop() waits for the intake in flight, answers it, then refuses connections; stop is idempotent', async () => {
    await startReceiver();
    let release!: () => void;
    let entered!: () => void;
    const intakeEntered = new Promise<void>((resolve) => (entered = resolve));
    intake = () => {
      entered();
      return new Promise<IntakeResult>((resolve) => (release = () => resolve({ status: 'accepted' })));
    };
    const pending = post(protobufBody(1, 2).bytes, { 'content-type': 'application/x-protobuf' });
    await intakeEntered;

    let stopped = false;
    const stopping = receiver.stop().then(() => (stopped = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);

    release();
    const res = await pending;
    expect(res.status).toBe(200);
    await stopping;
    expect(stopped).toBe(true);
    await receiver.stop();
    await expect(fetch(`${base}/v1/traces`)).rejects.toThrow();
  });
});

describe('receiver helpers', () => {
  it('reads the encoding from Content-Type, ignoring parameters and case', () => {
    expect(bodyEncodingOf('application/x-protobuf')).toBe('protobuf');
    expect(bodyEncodingOf('Application/JSON ; charset=utf-8')).toBe('json');
    expect(bodyEncodingOf('application/protobuf')).toBeUndefined();
    expect(bodyEncodingOf('text/plain')).toBeUndefined();
    expect(bodyEncodingOf(undefined)).toBeUndefined();
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(Number.NaN)).toBe(1);
  });
});
