import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace, type HrTime } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SinkError } from '../../src/errors.js';
import { HttpStatusError } from '../../src/forward/otlp-http-sink.js';
import { createSink } from '../../src/forward/sinks.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import type { ZipkinSpan } from '../../src/forward/zipkin-mapping.js';
import { ZipkinSink } from '../../src/forward/zipkin-sink.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { reply, startLocalOtlpServer, type LocalOtlpServer } from './local-otlp-server.js';
import { freePort } from '../support/services.js';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------
// A real Zipkin server: the io.zipkin:zipkin-server exec jar from Maven Central, fetched once
// into the user's cache, run on a free loopback port with in-memory storage.

const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tailsift', 'zipkin');
const METADATA_URL = 'https://repo1.maven.org/maven2/io/zipkin/zipkin-server/maven-metadata.xml';
const JAR_NAME = /^zipkin-server-(\d+)\.(\d+)\.(\d+)-exec\.jar$/;
// The server stops by itself after this long, whatever happens to the test process.
const SERVER_LIFETIME_MS = 240_000;
const STARTUP_LIMIT_MS = 120_000;

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

async function cachedJar(): Promise<string | undefined> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const jars = names
    .map((name) => ({ name, version: JAR_NAME.exec(name)?.slice(1).map(Number) }))
    .filter((j): j is { name: string; version: number[] } => j.version !== undefined)
    .sort((a, b) => compareVersions(b.version, a.version));
  return jars[0] === undefined ? undefined : join(cacheDir, jars[0].name);
}

/** The newest released server whose `exec` jar resolves, fetched with mvn on first use. */
async function zipkinJar(): Promise<string> {
  const cached = await cachedJar();
  if (cached !== undefined) return cached;
  await mkdir(cacheDir, { recursive: true });
  const metadata = await (await fetch(METADATA_URL, { signal: AbortSignal.timeout(30_000) })).text();
  const versions = [...metadata.matchAll(/<version>(\d+)\.(\d+)\.(\d+)<\/version>/g)]
    .map((m) => [Number(m[1]), Number(m[2]), Number(m[3])])
    .sort((a, b) => compareVersions(b, a));
  const failures: string[] = [];
  // A release may lack its exec jar; a few tries find the newest that has one.
  for (const version of versions.slice(0, 3)) {
    const artifact = `io.zipkin:zipkin-server:${version.join('.')}:jar:exec`;
    try {
      await execFileAsync('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${cacheDir}`], {
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      const jar = await cachedJar();
      if (jar !== undefined) return jar;
      failures.push(`${artifact}: mvn succeeded but no jar appeared in ${cacheDir}`);
    } catch (err) {
      const e = err as { stdout?: string; message: string };
      failures.push(`${artifact}: ${(e.stdout ?? '').split('\n').slice(-5).join(' ') || e.message}`);
    }
  }
  throw new Error(`cannot fetch the Zipkin server jar into ${cacheDir}: ${failures.join('; ') || 'no release listed in ' + METADATA_URL}`);
}

interface ZipkinServer {
  readonly url: string;
  stop(): Promise<void>;
}

async function startZipkin(): Promise<ZipkinServer> {
  const jar = await zipkinJar();
  const port = await freePort();
  const log: string[] = [];
  const child: ChildProcess = spawn(
    'java',
    [
      '-Xmx256m',
      '-jar',
      jar,
      `--server.port=${port}`,
      // Listen on loopback only (the server's default is every interface).
      `--armeria.ports[0].ip=127.0.0.1`,
      `--armeria.ports[0].port=${port}`,
      '--armeria.ports[0].protocols=http',
    ],
    { env: { ...process.env, STORAGE_TYPE: 'mem' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: SERVER_LIFETIME_MS },
  );
  const keep = (chunk: Buffer): void => {
    log.push(...chunk.toString().split('\n').filter((l) => l.trim() !== ''));
    if (log.length > 40) log.splice(0, log.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (err) => {
      exit = `could not start java: ${err.message}`;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exit === undefined) child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!stopped) child.kill('SIGKILL');
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (Date.now() < deadline && exit === undefined) {
    const healthy = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (healthy) return { url, stop };
    await sleep(250);
  }
  await stop();
  throw new Error(`Zipkin (${jar}) did not become healthy on ${url}: ${exit ?? `no healthy /health within ${STARTUP_LIMIT_MS} ms`}; last log lines:\n${log.slice(-15).join('\n')}`);
}

/** The spans Zipkin stored for a trace, once it holds `count` of them (it stores asynchronously). */
async function readTrace(baseUrl: string, traceId: string, count: number): Promise<ZipkinSpan[]> {
  let spans: ZipkinSpan[] = [];
  for (let i = 0; i < 100; i++) {
    const response = await fetch(`${baseUrl}/api/v2/trace/${traceId}`, { signal: AbortSignal.timeout(5_000) });
    if (response.status === 200) spans = (await response.json()) as ZipkinSpan[];
    else await response.arrayBuffer();
    if (spans.length >= count) return spans;
    await sleep(100);
  }
  throw new Error(`Zipkin holds ${spans.length} of ${count} spans of trace ${traceId}`);
}

// ---------------------------------------------------------------------------------------
// Spans made by the OpenTelemetry JS SDK, covering each kind, status, attribute type and events.

function hrToMicros(t: HrTime): number {
  return t[0] * 1_000_000 + Math.floor(t[1] / 1000);
}

function makeRichTrace(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.namespace': 'shop' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('tailsift-zipkin-test', '2.0.1');
  const root = tracer.startSpan('GET /orders/:id', {
    kind: SpanKind.SERVER,
    attributes: { 'http.route': '/orders/:id', 'http.response.status_code': 200, 'cache.hit': false, ratio: 0.25, 'tags.list': ['a', 'b'] },
  });
  root.addEvent('order loaded', { 'order.items': 3 });
  root.addEvent('cache miss');
  root.setStatus({ code: SpanStatusCode.OK });
  const parent = trace.setSpan(context.active(), root);
  const db = tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'peer.service': 'orders-db', 'db.system': 'postgresql' } }, parent);
  db.setStatus({ code: SpanStatusCode.ERROR, message: 'deadline exceeded' });
  db.end();
  const publish = tracer.startSpan(
    'publish order',
    { kind: SpanKind.PRODUCER, attributes: { 'network.peer.address': '10.1.2.3', 'network.peer.port': 9092 } },
    parent,
  );
  publish.end();
  const consume = tracer.startSpan('consume order', { kind: SpanKind.CONSUMER }, parent);
  consume.end();
  const render = tracer.startSpan('render', { kind: SpanKind.INTERNAL }, parent);
  render.end();
  root.end();
  return exporter.getFinishedSpans();
}

function batchOf(spans: ReadableSpan[]): KeptBatch {
  const request = ProtobufTraceSerializer.serializeRequest(spans);
  if (request === undefined) throw new Error('the SDK serializer returned nothing');
  return { request, traceCount: new Set(spans.map((s) => s.spanContext().traceId)).size, spanCount: spans.length };
}

describe('ZipkinSink against a real Zipkin server', () => {
  let zipkin: ZipkinServer | undefined;

  beforeAll(async () => {
    zipkin = await startZipkin();
  }, 600_000);

  afterAll(async () => {
    await zipkin?.stop();
  }, 30_000);

  function server(): ZipkinServer {
    if (zipkin === undefined) throw new Error('the Zipkin server did not start');
    return zipkin;
  }

  it('stores every span of a kept batch with the mapped fields', async () => {
    const spans = makeRichTrace();
    const traceId = spans[0]!.spanContext().traceId;
    const sink = createSink({ type: 'zipkin', endpoint: `${server().url}/api/v2/spans`, timeout: 10_000 }, silentLogger);
    expect(sink).toBeInstanceOf(ZipkinSink);
    await sink.send(batchOf(spans));
    await sink.close();

    const stored = await readTrace(server().url, traceId, spans.length);
    expect(stored).toHaveLength(spans.length);
    const byId = new Map(stored.map((s) => [s.id, s]));
    const kinds: Record<number, string | undefined> = {
      [SpanKind.SERVER]: 'SERVER',
      [SpanKind.CLIENT]: 'CLIENT',
      [SpanKind.PRODUCER]: 'PRODUCER',
      [SpanKind.CONSUMER]: 'CONSUMER',
      [SpanKind.INTERNAL]: undefined,
    };
    for (const sdk of spans) {
      const got = byId.get(sdk.spanContext().spanId);
      expect(got, sdk.name).toBeDefined();
      expect(got?.traceId).toBe(traceId);
      expect(got?.parentId).toBe(sdk.parentSpanContext?.spanId);
      // Zipkin stores span names in lowercase.
      expect(got?.name).toBe(sdk.name.toLowerCase());
      expect(got?.kind).toBe(kinds[sdk.kind]);
      expect(got?.timestamp).toBe(hrToMicros(sdk.startTime));
      expect(got?.duration).toBe(Math.max(1, hrToMicros(sdk.endTime) - hrToMicros(sdk.startTime)));
      expect(got?.localEndpoint).toEqual({ serviceName: 'checkout' });
      expect(got?.tags?.['otel.scope.name']).toBe('tailsift-zipkin-test');
      expect(got?.tags?.['otel.scope.version']).toBe('2.0.1');
      expect(got?.tags?.['service.namespace']).toBe('shop');
    }

    const root = stored.find((s) => s.kind === 'SERVER');
    expect(root?.parentId).toBeUndefined();
    expect(root?.tags).toMatchObject({
      'http.route': '/orders/:id',
      'http.response.status_code': '200',
      'cache.hit': 'false',
      ratio: '0.25',
      'tags.list': '["a","b"]',
      'otel.status_code': 'OK',
    });
    expect(root?.tags?.error).toBeUndefined();
    const rootSdk = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(root?.annotations).toEqual(
      rootSdk.events.map((e) => ({
        timestamp: hrToMicros(e.time),
        value: e.name === 'cache miss' ? 'cache miss' : '"order loaded":{"order.items":3}',
      })),
    );

    const client = stored.find((s) => s.kind === 'CLIENT');
    expect(client?.remoteEndpoint).toEqual({ serviceName: 'orders-db' });
    expect(client?.tags).toMatchObject({ 'otel.status_code': 'ERROR', error: 'deadline exceeded', 'db.system': 'postgresql' });

    const producer = stored.find((s) => s.kind === 'PRODUCER');
    expect(producer?.remoteEndpoint).toEqual({ ipv4: '10.1.2.3', port: 9092 });
    expect(stored.find((s) => s.kind === 'CONSUMER')?.remoteEndpoint).toBeUndefined();
  });

  it('stores several traces of one batch, each under its own trace id', async () => {
    const spans = makeSdkSpans({ traces: 3, spansPerTrace: 3, serviceName: 'payments' });
    const sink = new ZipkinSink({ endpoint: `${server().url}/api/v2/spans`, compression: 'none' });
    await sink.send(batchOf(spans));
    await sink.close();
    const traceIds = [...new Set(spans.map((s) => s.spanContext().traceId))];
    expect(traceIds).toHaveLength(3);
    for (const traceId of traceIds) {
      const stored = await readTrace(server().url, traceId, 3);
      expect(stored.map((s) => s.id).sort()).toEqual(
        spans.filter((s) => s.spanContext().traceId === traceId).map((s) => s.spanContext().spanId).sort(),
      );
      expect(stored.every((s) => s.localEndpoint.serviceName === 'payments')).toBe(true);
      expect(stored.filter((s) => s.tags?.error === 'timeout')).toHaveLength(1);
    }
  });

  it('fails at once, not retriable, when the server refuses the request', async () => {
    const sink = new ZipkinSink({ endpoint: `${server().url}/api/v2/no-such-api`, retry: { initialMs: 1, maxMs: 1, maxElapsedMs: 60_000 } });
    const error = await sink.send(batchOf(makeSdkSpans({ traces: 1, spansPerTrace: 1 }))).catch((e: unknown) => e);
    await sink.close();
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(404);
    expect((error as HttpStatusError).retriable).toBe(false);
  });
});

describe('ZipkinSink retries', () => {
  let local: LocalOtlpServer | undefined;
  const noWait = { sleep: async () => undefined };

  afterEach(async () => {
    await local?.close();
    local = undefined;
  });

  it('retries 429 and 5xx answers, honouring Retry-After, until Zipkin accepts', async () => {
    local = await startLocalOtlpServer((res, index) => {
      if (index === 0) reply(res, 429, { 'retry-after': '2' }, 'slow down');
      else if (index === 1) reply(res, 503, {}, 'storage unavailable');
      else reply(res, 202);
    });
    const waits: number[] = [];
    const sink = new ZipkinSink({
      endpoint: local.url,
      retryRuntime: { sleep: async (ms) => void waits.push(ms), random: () => 0 },
    });
    await sink.send(batchOf(makeSdkSpans({ traces: 1, spansPerTrace: 2 })));
    await sink.close();
    expect(local.received).toHaveLength(3);
    expect(waits[0]).toBe(2_000);
    const body = JSON.parse(local.received[2]!.body.toString()) as ZipkinSpan[];
    expect(local.received[2]!.headers['content-type']).toBe('application/json');
    expect(local.received[2]!.headers['content-encoding']).toBe('gzip');
    expect(body).toHaveLength(2);
  });

  it('does not retry other 4xx answers and reports the server message', async () => {
    local = await startLocalOtlpServer((res) => reply(res, 400, { 'content-type': 'text/plain' }, 'Expected a JSON_V2 encoded list\n'));
    const sink = new ZipkinSink({ endpoint: local.url, retryRuntime: noWait });
    const error = await sink.send(batchOf(makeSdkSpans({ traces: 1, spansPerTrace: 1 }))).catch((e: unknown) => e);
    expect(local.received).toHaveLength(1);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).message).toContain('HTTP 400: Expected a JSON_V2 encoded list');
    expect((error as HttpStatusError).retriable).toBe(false);
  });

  it('gives up with a retriable error when the server keeps failing, and refuses sends once closed', async () => {
    local = await startLocalOtlpServer((res) => reply(res, 500));
    let now = 0;
    const sink = new ZipkinSink({
      endpoint: local.url,
      retry: { initialMs: 1_000, maxMs: 1_000, maxElapsedMs: 3_500 },
      retryRuntime: { now: () => now, sleep: async (ms) => void (now += ms), random: () => 0 },
    });
    const error = await sink.send(batchOf(makeSdkSpans({ traces: 1, spansPerTrace: 1 }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkError);
    expect((error as SinkError).retriable).toBe(true);
    expect((error as SinkError).message).toContain('gave up after 4 attempts');
    expect(local.received).toHaveLength(4);
    await sink.close();
    const closed = await sink.send(batchOf(makeSdkSpans({ traces: 1, spansPerTrace: 1 }))).catch((e: unknown) => e);
    expect((closed as SinkError).retriable).toBe(true);
    expect(local.received).toHaveLength(4);
  });
});
