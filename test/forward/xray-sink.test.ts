import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors.js';
import { SigV4Signer, type AwsCredentials } from '../../src/forward/aws-sigv4.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { DEFAULT_TRACE_ID_WINDOW, XRAY_REQUEST_LIMITS, xrayEndpoint, xrayTraceIdProblem, XraySink, type XraySinkOptions } from '../../src/forward/xray-sink.js';
import { decodeProtobufRequest, jsonRequestToProtobuf } from '../../src/otlp/index.js';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { EngineMetrics } from '../../src/telemetry/metrics.js';

// 2026-01-15T10:00:00Z: the clock every sink here runs on.
const NOW_MS = Date.UTC(2026, 0, 15, 10, 0, 0);
const NOW_S = NOW_MS / 1000;
const DAY_S = 86_400;
const FAST_RETRY = { initialMs: 10, maxMs: 50, maxElapsedMs: 2_000 };

const KEYS: AwsCredentials = { accessKeyId: 'AKIATAILSIFTTEST01', secretAccessKey: 'tailsift/Secret+Key0123456789abcdefghijKLMN' };
const TEMPORARY: AwsCredentials = { ...KEYS, accessKeyId: 'ASIATAILSIFTTEST02', sessionToken: 'FwoGZXIvYXdzEXAMPLEsessionTOKEN//0123456789' };

// -- a local endpoint that records requests as they arrived (the body still gzip-compressed) --

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: Buffer;
}

interface RecordingServer {
  readonly url: string;
  readonly received: Recorded[];
  close(): Promise<void>;
}

async function recordingServer(statuses: readonly number[] = [200]): Promise<RecordingServer> {
  const received: Recorded[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks) });
      const status = statuses[Math.min(received.length, statuses.length) - 1] ?? 200;
      const body = status === 200 ? '' : JSON.stringify({ message: `status ${status} from the test endpoint` });
      res.writeHead(status, { 'content-type': status === 200 ? 'application/x-protobuf' : 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// -- batches whose traces have chosen ids --

function traceIdAt(epochSeconds: number, tail: number): string {
  return Math.floor(epochSeconds).toString(16).padStart(8, '0') + tail.toString(16).padStart(24, '0');
}

/** A trace is its id, or its id with the second its spans start at (default: now). */
type TraceSpec = string | { readonly id: string; readonly startS: number; readonly spans?: number };

function batchOf(traces: readonly TraceSpec[], spansPerTrace = 2): KeptBatch {
  const spans = traces.flatMap((trace, t) => {
    const { id: traceId, startS = NOW_S, spans: count = spansPerTrace } = typeof trace === 'string' ? { id: trace } : trace;
    return Array.from({ length: count }, (_, s) => ({
      traceId,
      spanId: ((t + 1) * 256 + s + 1).toString(16).padStart(16, '0'),
      ...(s === 0 ? {} : { parentSpanId: ((t + 1) * 256 + 1).toString(16).padStart(16, '0') }),
      name: `op-${s}`,
      kind: 2,
      startTimeUnixNano: `${startS}000000000`,
      endTimeUnixNano: `${startS}500000000`,
    }));
  });
  const request = jsonRequestToProtobuf({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] }, scopeSpans: [{ scope: { name: 't' }, spans }] }],
  });
  return { request, traceCount: traces.length, spanCount: spans.length };
}

function traceIdsIn(body: Buffer): string[] {
  const decoded = decodeProtobufRequest(body);
  if (!decoded.ok) throw decoded.error;
  return decoded.value.fragments.map((f) => f.traceId);
}

// -- SigV4 recomputed from the specification with node:crypto, independently of the signer --

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: string[];
  readonly signature: string;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function parseAuthorization(header: string | string[] | undefined): ParsedAuthorization {
  const m = AUTHORIZATION.exec(String(header));
  if (m === null) throw new Error(`not a SigV4 authorization header: ${String(header)}`);
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** The signature of a received request, computed as the SigV4 specification describes it. */
function expectedSignature(req: Recorded, secretAccessKey: string): string {
  const auth = parseAuthorization(req.headers.authorization);
  const amzDate = String(req.headers['x-amz-date']);
  const url = new URL(req.path, 'http://placeholder');
  const canonicalHeaders = auth.signedHeaders.map((name) => `${name}:${String(req.headers[name]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, url.pathname, url.search.slice(1), canonicalHeaders, auth.signedHeaders.join(';'), sha256Hex(req.raw)].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${secretAccessKey}`, auth.date);
  const kSigning = hmac(hmac(hmac(kDate, auth.region), auth.service), 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

// -- sinks with captured logs --

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

let server: RecordingServer | undefined;
const sinks: XraySink[] = [];

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await server?.close();
  server = undefined;
});

function sinkFor(endpoint: string, options: Partial<XraySinkOptions> = {}): { sink: XraySink; logs: LogLine[]; logText: () => string } {
  const lines: string[] = [];
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        lines.push(line);
        logs.push(JSON.parse(line) as LogLine);
      },
    },
  );
  const sink = new XraySink({
    region: 'eu-west-1',
    endpoint,
    credentials: async () => KEYS,
    now: () => NOW_MS,
    retry: FAST_RETRY,
    retryRuntime: { sleep: async () => undefined },
    logger,
    ...options,
  });
  sinks.push(sink);
  return { sink, logs, logText: () => lines.join('') };
}

describe('SigV4Signer', () => {
  // AWS's Signature Version 4 test suite: example.amazonaws.com, AKIDEXAMPLE, 2015-08-30T12:36:00Z.
  const suite = new SigV4Signer({
    region: 'us-east-1',
    service: 'service',
    credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }),
    now: () => new Date(Date.UTC(2015, 7, 30, 12, 36, 0)),
  });
  const scope = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date';

  it.each([
    ['get-vanilla', 'GET', 'https://example.amazonaws.com/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['post-vanilla', 'POST', 'https://example.amazonaws.com/', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
    ['get-vanilla-query-order-key-case', 'GET', 'https://example.amazonaws.com/?Param2=value2&Param1=value1', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'],
  ])('gives the published signature of the %s case', async (_name, method, url, signature) => {
    const added = await suite.sign({ method, url: new URL(url), headers: {} });
    expect(added).toEqual({ 'x-amz-date': '20150830T123600Z', authorization: `${scope}, Signature=${signature}` });
  });

  it('adds and signs the session token of temporary credentials', async () => {
    const signer = new SigV4Signer({ region: 'eu-west-1', service: 'xray', credentials: async () => TEMPORARY, now: () => new Date(NOW_MS) });
    const added = await signer.sign({ method: 'POST', url: new URL('https://xray.eu-west-1.amazonaws.com/v1/traces'), headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([1, 2, 3]) });
    expect(added['x-amz-security-token']).toBe(TEMPORARY.sessionToken);
    expect(parseAuthorization(added.authorization).signedHeaders).toEqual(['content-type', 'host', 'x-amz-date', 'x-amz-security-token']);
  });
});

describe('XraySink requests', () => {
  it('POSTs gzip protobuf to /v1/traces, SigV4-signed for xray in its region, with a signature that verifies', async () => {
    server = await recordingServer();
    const ids = [traceIdAt(NOW_S - 60, 1), traceIdAt(NOW_S - 3_600, 2)];
    const { sink } = sinkFor(server.url);
    await sink.send(batchOf(ids));

    expect(server.received).toHaveLength(1);
    const req = server.received[0] as Recorded;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/traces');
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(traceIdsIn(gunzipSync(req.raw))).toEqual(ids);

    const auth = parseAuthorization(req.headers.authorization);
    expect(auth).toMatchObject({ accessKeyId: KEYS.accessKeyId, date: '20260115', region: 'eu-west-1', service: 'xray' });
    expect(auth.signedHeaders).toEqual(['content-encoding', 'content-type', 'host', 'x-amz-date']);
    expect(req.headers['x-amz-date']).toBe('20260115T100000Z');
    // The signer is not asked for the payload-hash header (only S3 and Glacier need it).
    expect(req.headers['x-amz-content-sha256']).toBeUndefined();
    expect(req.headers['x-amz-security-token']).toBeUndefined();
    expect(auth.signature).toBe(expectedSignature(req, KEYS.secretAccessKey));
  });

  it('sends the session token of temporary credentials, signed', async () => {
    server = await recordingServer();
    const { sink } = sinkFor(server.url, { credentials: async () => TEMPORARY });
    await sink.send(batchOf([traceIdAt(NOW_S, 7)]));
    const req = server.received[0] as Recorded;
    expect(req.headers['x-amz-security-token']).toBe(TEMPORARY.sessionToken);
    const auth = parseAuthorization(req.headers.authorization);
    expect(auth.accessKeyId).toBe(TEMPORARY.accessKeyId);
    expect(auth.signedHeaders).toContain('x-amz-security-token');
    expect(auth.signature).toBe(expectedSignature(req, TEMPORARY.secretAccessKey));
  });

  it('a tampered request does not verify (the independent check can fail)', async () => {
    server = await recordingServer();
    const { sink } = sinkFor(server.url);
    await sink.send(batchOf([traceIdAt(NOW_S, 3)]));
    const req = server.received[0] as Recorded;
    const tampered = { ...req, raw: Buffer.concat([req.raw, Buffer.from([0])]) };
    expect(parseAuthorization(req.headers.authorization).signature).not.toBe(expectedSignature(tampered, KEYS.secretAccessKey));
  });

  it('retries 429 and 5xx, each attempt signed afresh, and does not retry 400', async () => {
    server = await recordingServer([429, 503, 500, 200]);
    let clock = NOW_MS;
    const { sink } = sinkFor(server.url, { now: () => (clock += 1_000) });
    await sink.send(batchOf([traceIdAt(NOW_S, 4)]));
    expect(server.received).toHaveLength(4);
    const dates = server.received.map((r) => String(r.headers['x-amz-date']));
    expect(new Set(dates).size).toBe(4);
    for (const req of server.received) expect(parseAuthorization(req.headers.authorization).signature).toBe(expectedSignature(req, KEYS.secretAccessKey));

    await server.close();
    server = await recordingServer([400]);
    const second = sinkFor(server.url);
    const failure = await second.sink.send(batchOf([traceIdAt(NOW_S, 5)])).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SinkError);
    expect((failure as SinkError).retriable).toBe(false);
    expect((failure as SinkError).message).toContain('HTTP 400');
    expect(server.received).toHaveLength(1);
  });

  it('defaults to the regional X-Ray endpoint', () => {
    expect(xrayEndpoint('ap-southeast-2')).toBe('https://xray.ap-southeast-2.amazonaws.com/v1/traces');
    const sink = new XraySink({ region: 'ap-southeast-2', credentials: async () => KEYS });
    sinks.push(sink);
    expect(sink.name).toBe('xray https://xray.ap-southeast-2.amazonaws.com/v1/traces');
  });
});

describe('XraySink credentials from the AWS default chain', () => {
  const VARS = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_CREDENTIAL_EXPIRATION',
    'AWS_PROFILE',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_CONFIG_FILE',
    'AWS_EC2_METADATA_DISABLED',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  ];
  let saved: Record<string, string | undefined> = {};
  let dir = '';

  beforeEach(async () => {
    saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
    for (const v of VARS) delete process.env[v];
    dir = await mkdtemp(join(tmpdir(), 'tailsift-xray-'));
    // Nothing from the machine's own ~/.aws, and never the instance metadata service.
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });

  afterEach(async () => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIAFROMENVIRONMENT1';
    process.env.AWS_SECRET_ACCESS_KEY = 'env/secret/key/0123456789ABCDEFGHIJKLMNOP';
    process.env.AWS_SESSION_TOKEN = 'env-session-token-value';
    server = await recordingServer();
    const { sink } = sinkFor(server.url, { credentials: undefined });
    await sink.send(batchOf([traceIdAt(NOW_S, 8)]));
    const req = server.received[0] as Recorded;
    expect(parseAuthorization(req.headers.authorization).accessKeyId).toBe('AKIAFROMENVIRONMENT1');
    expect(req.headers['x-amz-security-token']).toBe('env-session-token-value');
    expect(parseAuthorization(req.headers.authorization).signature).toBe(expectedSignature(req, 'env/secret/key/0123456789ABCDEFGHIJKLMNOP'));
  });

  it('signs with the AWS_PROFILE profile of the shared credentials file', async () => {
    await writeFile(
      join(dir, 'credentials'),
      [
        '[default]',
        'aws_access_key_id = AKIADEFAULTPROFILE00',
        'aws_secret_access_key = default/profile/secret',
        '',
        '[tailsift-test]',
        'aws_access_key_id = AKIAFROMSHAREDFILE01',
        'aws_secret_access_key = file/secret/key/ABCDEFGHIJKLMNOP0123456789',
        'aws_session_token = file-session-token-value',
        '',
      ].join('\n'),
    );
    process.env.AWS_PROFILE = 'tailsift-test';
    server = await recordingServer();
    const { sink } = sinkFor(server.url, { credentials: undefined });
    await sink.send(batchOf([traceIdAt(NOW_S, 9)]));
    const req = server.received[0] as Recorded;
    expect(parseAuthorization(req.headers.authorization).accessKeyId).toBe('AKIAFROMSHAREDFILE01');
    expect(req.headers['x-amz-security-token']).toBe('file-session-token-value');
    expect(parseAuthorization(req.headers.authorization).signature).toBe(expectedSignature(req, 'file/secret/key/ABCDEFGHIJKLMNOP0123456789'));
  });

  it('never writes the secret key to the log, on success or failure', async () => {
    const secret = 'never/logged/secret/KEY0123456789abcdefgh';
    process.env.AWS_ACCESS_KEY_ID = 'AKIANEVERLOGGED00001';
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    server = await recordingServer([200, 403]);
    const { sink, logs, logText } = sinkFor(server.url, { credentials: undefined });
    await sink.send(batchOf([traceIdAt(NOW_S, 10), traceIdAt(NOW_S - 40 * DAY_S, 11)]));
    const failure = await sink.send(batchOf([traceIdAt(NOW_S, 12)])).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SinkError);
    // Something was logged (the held-back trace), and neither it nor the error holds the secret.
    expect(logs.length).toBeGreaterThan(0);
    expect(logText()).not.toContain(secret);
    expect(JSON.stringify({ message: (failure as Error).message, cause: String((failure as Error).cause) })).not.toContain(secret);
  });
});

describe('XraySink trace-id window', () => {
  it('applies X-Ray\'s window: 28 days back, 5 minutes ahead by default', () => {
    const w = DEFAULT_TRACE_ID_WINDOW;
    expect(xrayTraceIdProblem(traceIdAt(NOW_S, 1), NOW_MS, w)).toBeUndefined();
    expect(xrayTraceIdProblem(traceIdAt(NOW_S - 28 * DAY_S, 1), NOW_MS, w)).toBeUndefined();
    expect(xrayTraceIdProblem(traceIdAt(NOW_S - 28 * DAY_S - 1, 1), NOW_MS, w)).toBe('trace_id_too_old');
    expect(xrayTraceIdProblem(traceIdAt(NOW_S + 300, 1), NOW_MS, w)).toBeUndefined();
    expect(xrayTraceIdProblem(traceIdAt(NOW_S + 301, 1), NOW_MS, w)).toBe('trace_id_in_future');
    // A W3C random id is almost never in the window.
    expect(xrayTraceIdProblem('4bf92f3577b34da6a3ce929d0e0e4736', NOW_MS, w)).toBe('trace_id_too_old');
    expect(xrayTraceIdProblem('4bf92f3577b34da6a3ce929d0e0e4736', NOW_MS, { ...w, check: false })).toBeUndefined();
  });

  it('sends the traces in the window, logs and counts each other one with its reason', async () => {
    server = await recordingServer();
    const good = [traceIdAt(NOW_S - 120, 1), traceIdAt(NOW_S - 2 * DAY_S, 3)];
    const old = traceIdAt(NOW_S - 40 * DAY_S, 2);
    const future = traceIdAt(NOW_S + 3_600, 4);
    const { sink, logs } = sinkFor(server.url);
    await sink.send(batchOf([good[0] as string, old, good[1] as string, future], 3));

    expect(server.received).toHaveLength(1);
    const sent = gunzipSync((server.received[0] as Recorded).raw);
    expect(traceIdsIn(sent)).toEqual(good);
    const decoded = decodeProtobufRequest(sent);
    expect(decoded.ok && decoded.value.spanCount).toBe(6);

    const warned = logs.filter((l) => l.level === 40).map((l) => ({ traceId: l.traceId, reason: l.reason, sink: l.sink }));
    expect(warned).toEqual([
      { traceId: old, reason: 'trace_id_too_old', sink: sink.name },
      { traceId: future, reason: 'trace_id_in_future', sink: sink.name },
    ]);
    expect(Object.fromEntries(sink.rejectedTraces())).toEqual({ trace_id_too_old: 1, trace_id_in_future: 1 });

    const metrics = new EngineMetrics({ processMetrics: false });
    metrics.attach({
      stats: new EngineStats(),
      source: () => {
        throw new Error('not read for this metric');
      },
      pending: async () => ({ traces: 0, spans: 0 }),
      sinkQueue: () => ({ sending: new Map(), lateSpans: 0 }),
      sinkNames: [],
      sinkTracesRejected: () => new Map([[sink.name, sink.rejectedTraces()]]),
    });
    const text = await metrics.registry.getSingleMetricAsString('tailsift_sink_traces_rejected_total');
    expect(text).toContain(`tailsift_sink_traces_rejected_total{sink="${sink.name}",reason="trace_id_too_old"} 1`);
    expect(text).toContain(`tailsift_sink_traces_rejected_total{sink="${sink.name}",reason="trace_id_in_future"} 1`);
  });

  it('resolves without a request when no trace of the batch is in the window', async () => {
    server = await recordingServer();
    const ids = [traceIdAt(NOW_S - 31 * DAY_S, 1), '4bf92f3577b34da6a3ce929d0e0e4736'];
    const { sink, logs } = sinkFor(server.url);
    await expect(sink.send(batchOf(ids))).resolves.toBeUndefined();
    expect(server.received).toHaveLength(0);
    expect(logs.filter((l) => l.level === 40).map((l) => l.traceId)).toEqual(ids);
    expect(Object.fromEntries(sink.rejectedTraces())).toEqual({ trace_id_too_old: 2 });
  });

  it('sends every trace when the check is off', async () => {
    server = await recordingServer();
    const ids = [traceIdAt(NOW_S - 31 * DAY_S, 1), '4bf92f3577b34da6a3ce929d0e0e4736'];
    const { sink } = sinkFor(server.url, { traceIdWindow: { ...DEFAULT_TRACE_ID_WINDOW, check: false } });
    await sink.send(batchOf(ids));
    expect(traceIdsIn(gunzipSync((server.received[0] as Recorded).raw))).toEqual(ids);
    expect(sink.rejectedTraces().size).toBe(0);
  });
});

describe('XraySink request limits', () => {
  it('holds back a trace with a span outside the endpoint\'s time limits (14 days back, 2 hours ahead)', async () => {
    server = await recordingServer();
    const good = traceIdAt(NOW_S, 1);
    const oldSpans = { id: traceIdAt(NOW_S, 2), startS: NOW_S - 15 * DAY_S };
    const futureSpans = { id: traceIdAt(NOW_S, 3), startS: NOW_S + 3 * 3_600 };
    const { sink, logs } = sinkFor(server.url, { traceIdWindow: { ...DEFAULT_TRACE_ID_WINDOW, check: false } });
    await sink.send(batchOf([oldSpans, good, futureSpans]));
    expect(traceIdsIn(gunzipSync((server.received[0] as Recorded).raw))).toEqual([good]);
    expect(logs.filter((l) => l.level === 40).map((l) => [l.traceId, l.reason])).toEqual([
      [oldSpans.id, 'span_time_too_old'],
      [futureSpans.id, 'span_time_in_future'],
    ]);
  });

  it('splits a batch over the spans limit into requests of whole traces, each signed', async () => {
    server = await recordingServer();
    const ids = [1, 2, 3, 4, 5].map((n) => traceIdAt(NOW_S, n));
    const { sink } = sinkFor(server.url, { requestLimits: { ...XRAY_REQUEST_LIMITS, maxSpans: 5 } });
    await sink.send(batchOf(ids, 2));
    expect(server.received.map((r) => traceIdsIn(gunzipSync(r.raw)))).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
    for (const req of server.received) expect(parseAuthorization(req.headers.authorization).signature).toBe(expectedSignature(req, KEYS.secretAccessKey));
  });

  it('splits by bytes too, and holds back a trace that alone exceeds a request', async () => {
    server = await recordingServer();
    const small = [1, 2, 3].map((n) => traceIdAt(NOW_S, n));
    const big = { id: traceIdAt(NOW_S, 9), startS: NOW_S, spans: 6 };
    const oneTrace = batchOf([small[0] as string]).request.length;
    const { sink, logs } = sinkFor(server.url, {
      traceIdWindow: { ...DEFAULT_TRACE_ID_WINDOW, check: false },
      requestLimits: { ...XRAY_REQUEST_LIMITS, maxBytes: 2 * oneTrace + 1 },
    });
    await sink.send(batchOf([small[0] as string, big, small[1] as string, small[2] as string]));
    expect(server.received.map((r) => traceIdsIn(gunzipSync(r.raw)))).toEqual([small.slice(0, 2), small.slice(2)]);
    expect(logs.filter((l) => l.level === 40).map((l) => [l.traceId, l.reason])).toEqual([[big.id, 'trace_too_large']]);
    expect(Object.fromEntries(sink.rejectedTraces())).toEqual({ trace_too_large: 1 });
  });
});
