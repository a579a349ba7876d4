import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { SinkError } from '../../src/errors.js';
import { HttpStatusError, OtlpHttpSink } from '../../src/forward/otlp-http-sink.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { encodeRpcStatus } from '../../src/ingest/rpc-status.js';
import { decodeJsonRequest, decodeProtobufRequest } from '../../src/otlp/index.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews } from '../ingest/sdk-spans.js';
import { reply, startLocalOtlpServer, type Answer, type LocalOtlpServer } from './local-otlp-server.js';
import { freePort } from '../support/services.js';

const FAST_RETRY = { initialMs: 10, maxMs: 50, maxElapsedMs: 2_000 };

let server: LocalOtlpServer | undefined;
const sinks: OtlpHttpSink[] = [];

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await server?.close();
  server = undefined;
});

function batchOf(traces = 2, spansPerTrace = 3): { batch: KeptBatch; spans: ReturnType<typeof makeSdkSpans> } {
  const spans = makeSdkSpans({ traces, spansPerTrace });
  return { batch: { request: ProtobufTraceSerializer.serializeRequest(spans)!, traceCount: traces, spanCount: spans.length }, spans };
}

async function serve(answer: Answer): Promise<LocalOtlpServer> {
  server = await startLocalOtlpServer(answer);
  return server;
}

/** A sink whose retry waits are recorded and skipped, so tests see the delays without waiting them. */
function sinkWithRecordedSleeps(
  endpoint: string,
  options: Partial<ConstructorParameters<typeof OtlpHttpSink>[0]> = {},
): { sink: OtlpHttpSink; sleeps: number[] } {
  const sleeps: number[] = [];
  const sink = new OtlpHttpSink({
    endpoint,
    encoding: 'protobuf',
    compression: 'none',
    retry: FAST_RETRY,
    retryRuntime: {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
    ...options,
  });
  sinks.push(sink);
  return { sink, sleeps };
}

const ok: Answer = (res) => reply(res, 200, { 'content-type': 'application/x-protobuf' });

describe('OtlpHttpSink delivery', () => {
  it('POSTs the protobuf request as is, which decodes back to the sent spans', async () => {
    const srv = await serve(ok);
    const { batch, spans } = batchOf();
    const { sink } = sinkWithRecordedSleeps(srv.url, { headers: { authorization: 'Bearer t0ken' } });
    await sink.send(batch);
    expect(srv.received).toHaveLength(1);
    const got = srv.received[0];
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/v1/traces');
    expect(got.headers['content-type']).toBe('application/x-protobuf');
    expect(got.headers.authorization).toBe('Bearer t0ken');
    expect(got.headers['content-encoding']).toBeUndefined();
    expect(Buffer.compare(got.body, Buffer.from(batch.request))).toBe(0);
    const decoded = decodeProtobufRequest(got.body);
    expect(decoded.ok && summarizeViews(decoded.value.spans)).toEqual(summarizeSdkSpans(spans));
  });

  it('POSTs gzip-compressed OTLP/JSON that decodes back to the sent spans', async () => {
    const srv = await serve((res) => reply(res, 200, { 'content-type': 'application/json' }, '{}'));
    const { batch, spans } = batchOf(3, 2);
    const { sink } = sinkWithRecordedSleeps(srv.url, { encoding: 'json', compression: 'gzip' });
    await sink.send(batch);
    const got = srv.received[0];
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['content-encoding']).toBe('gzip');
    const json = JSON.parse(got.body.toString()) as { resourceSpans: unknown[] };
    expect(Array.isArray(json.resourceSpans)).toBe(true);
    const decoded = decodeJsonRequest(got.body);
    expect(decoded.ok && summarizeViews(decoded.value.spans)).toEqual(summarizeSdkSpans(spans));
  });

  it('accepts a partial success without retrying and warns with the rejected count', async () => {
    // ExportTraceServiceResponse { partial_success { rejected_spans: 2, error_message: "bad" } }
    const partial = Uint8Array.from([0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 0x62, 0x61, 0x64]);
    const srv = await serve((res) => reply(res, 200, { 'content-type': 'application/x-protobuf' }, partial));
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    const { sink, sleeps } = sinkWithRecordedSleeps(srv.url, { logger });
    await sink.send(batchOf().batch);
    expect(srv.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(lines.filter((l) => l.level === 40).map((l) => [l.rejectedSpans, l.reason])).toEqual([[2, 'bad']]);
  });
});

describe('OtlpHttpSink retries', () => {
  it('retries a 429 once, after the Retry-After it asked for', async () => {
    const srv = await serve((res, i) => (i === 0 ? reply(res, 429, { 'retry-after': '1' }) : ok(res, i)));
    const { sink, sleeps } = sinkWithRecordedSleeps(srv.url);
    await sink.send(batchOf().batch);
    expect(srv.received).toHaveLength(2);
    expect(sleeps).toEqual([1_000]);
    expect(Buffer.compare(srv.received[0].body, srv.received[1].body)).toBe(0);
  });

  it('honours a Retry-After given as an HTTP date', async () => {
    const srv = await serve((res, i) =>
      i === 0 ? reply(res, 503, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }) : ok(res, i),
    );
    const { sink, sleeps } = sinkWithRecordedSleeps(srv.url, { retry: { ...FAST_RETRY, maxElapsedMs: 120_000 } });
    await sink.send(batchOf().batch);
    expect(srv.received).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    // Whole seconds in the header and the time the request took: between 28 and 30 s.
    expect(sleeps[0]).toBeGreaterThan(28_000);
    expect(sleeps[0]).toBeLessThanOrEqual(30_000);
  });

  it('retries 503 twice with backoff, then succeeds', async () => {
    const srv = await serve((res, i) => (i < 2 ? reply(res, 503) : ok(res, i)));
    const { sink, sleeps } = sinkWithRecordedSleeps(srv.url);
    await sink.send(batchOf().batch);
    expect(srv.received).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    for (const ms of sleeps) {
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThanOrEqual(FAST_RETRY.maxMs);
    }
  });

  it('retries 502 and 504 as well', async () => {
    const srv = await serve((res, i) => (i === 0 ? reply(res, 502) : i === 1 ? reply(res, 504) : ok(res, i)));
    const { sink } = sinkWithRecordedSleeps(srv.url);
    await sink.send(batchOf().batch);
    expect(srv.received).toHaveLength(3);
  });

  it('does not retry a 400 and fails with the status and the server message, not retriable', async () => {
    const status = encodeRpcStatus({ code: 3, message: 'span 7 has an invalid trace id' }, 'protobuf');
    const srv = await serve((res) => reply(res, 400, { 'content-type': 'application/x-protobuf' }, status));
    const { sink, sleeps } = sinkWithRecordedSleeps(srv.url);
    const error = await sink.send(batchOf().batch).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(HttpStatusError);
    const e = error as HttpStatusError;
    expect(e.status).toBe(400);
    expect(e.retriable).toBe(false);
    expect(e.message).toContain('HTTP 400: span 7 has an invalid trace id');
    expect(srv.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('reads a JSON or plain-text error body too, and does not retry other 5xx', async () => {
    const srv = await serve((res, i) =>
      i === 0
        ? reply(res, 401, { 'content-type': 'application/json' }, '{"code":16,"message":"token expired"}')
        : reply(res, 500, { 'content-type': 'text/html' }, '<h1>Internal Server Error</h1>'),
    );
    const { sink } = sinkWithRecordedSleeps(srv.url);
    const first = (await sink.send(batchOf().batch).catch((err: unknown) => err)) as SinkError;
    const second = (await sink.send(batchOf().batch).catch((err: unknown) => err)) as SinkError;
    expect(first.message).toContain('HTTP 401: token expired');
    expect(second.message).toContain('HTTP 500: <h1>Internal Server Error</h1>');
    expect([first.retriable, second.retriable]).toEqual([false, false]);
    expect(srv.received).toHaveLength(2);
  });

  it('gives up after maxElapsedMs when the destination stays unavailable, retriable for the caller', async () => {
    const srv = await serve((res) => reply(res, 503, { 'retry-after': '0' }));
    const sink = new OtlpHttpSink({ endpoint: srv.url, encoding: 'protobuf', retry: { initialMs: 10, maxMs: 20, maxElapsedMs: 150 } });
    sinks.push(sink);
    const error = (await sink.send(batchOf().batch).catch((err: unknown) => err)) as SinkError;
    expect(error).toBeInstanceOf(SinkError);
    expect(error.retriable).toBe(true);
    expect(error.message).toMatch(/gave up after \d+ attempts in \d+ ms: .*HTTP 503/);
    expect(srv.received.length).toBeGreaterThanOrEqual(2);
  });

  it('retries network errors: a closed port', async () => {
    const port = await freePort();
    const sink = new OtlpHttpSink({
      endpoint: `http://127.0.0.1:${port}/v1/traces`,
      encoding: 'protobuf',
      retry: { initialMs: 10, maxMs: 20, maxElapsedMs: 150 },
    });
    sinks.push(sink);
    const error = (await sink.send(batchOf().batch).catch((err: unknown) => err)) as SinkError;
    expect(error).toBeInstanceOf(SinkError);
    expect(error.retriable).toBe(true);
    const attempts = Number(/gave up after (\d+) attempts/.exec(error.message)?.[1]);
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('retries an attempt that timed out', async () => {
    // The first request is left hanging; the second is answered.
    const srv = await serve((res, i) => (i === 0 ? undefined : ok(res, i)));
    const { sink, sleeps } = sinkWithRecordedSleeps(srv.url, { timeoutMs: 200 });
    await sink.send(batchOf().batch);
    // The hung first request and at least one more (a slow machine may time out again).
    expect(srv.received.length).toBeGreaterThanOrEqual(2);
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
  });
});

describe('OtlpHttpSink close', () => {
  it('waits for sends in flight, then refuses new ones; close is idempotent', async () => {
    let answerFirst!: () => void;
    const srv = await serve((res, i) => {
      if (i === 0) answerFirst = () => ok(res, i);
      else ok(res, i);
    });
    const { sink } = sinkWithRecordedSleeps(srv.url);
    let delivered = false;
    const sending = sink.send(batchOf().batch).then(() => (delivered = true));
    while (srv.received.length === 0) await new Promise((r) => setTimeout(r, 5));

    let closed = false;
    const closing = sink.close().then(() => (closed = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);

    answerFirst();
    await closing;
    expect(delivered).toBe(true);
    await sending;
    await sink.close();
    const refused = (await sink.send(batchOf().batch).catch((err: unknown) => err)) as SinkError;
    expect(refused).toBeInstanceOf(SinkError);
    expect(refused.message).toContain('closed');
    expect(srv.received).toHaveLength(1);
  });

  it('rejects an endpoint that is not an http(s) URL', () => {
    expect(() => new OtlpHttpSink({ endpoint: 'kafka://127.0.0.1:9092/t', encoding: 'protobuf' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new OtlpHttpSink({ endpoint: 'not a url', encoding: 'protobuf' })).toThrow();
  });
});

