import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { ConfigError, SinkError } from '../../src/errors.js';
import type { HttpTlsFiles } from '../../src/forward/http-delivery.js';
import { OtlpHttpSink } from '../../src/forward/otlp-http-sink.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { createSink } from '../../src/forward/sinks.js';
import { decodeProtobufRequest } from '../../src/otlp/index.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews } from '../ingest/sdk-spans.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

interface Received {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** CN of the client certificate the server saw, if any. */
  readonly clientCn: string | undefined;
}

interface LocalHttpsServer {
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

/** A local OTLP/HTTP endpoint over TLS that records requests and answers 200; with `requireClientCert`, only clients with a certificate from `pki.ca` get through. */
async function startHttpsServer(pki: TestPki, options: { requireClientCert?: boolean } = {}): Promise<LocalHttpsServer> {
  const received: Received[] = [];
  const server: Server = createServer(
    {
      cert: await readFile(pki.serverCert),
      key: await readFile(pki.serverKey),
      ...(options.requireClientCert ? { ca: await readFile(pki.ca), requestCert: true, rejectUnauthorized: true } : {}),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
        received.push({
          headers: req.headers,
          body: req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw,
          clientCn: Array.isArray(cn) ? cn.join(',') : cn,
        });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/v1/traces`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function batchOf(): { batch: KeptBatch; spans: ReturnType<typeof makeSdkSpans> } {
  const spans = makeSdkSpans({ traces: 2, spansPerTrace: 3 });
  return { batch: { request: ProtobufTraceSerializer.serializeRequest(spans)!, traceCount: 2, spanCount: spans.length }, spans };
}

let pki: TestPki;
let clock = 0;
const sinks: OtlpHttpSink[] = [];

/** A sink whose retry waits advance a fake clock instead of the real one, so giving up takes a few attempts and no time. */
function sinkFor(endpoint: string, tls?: HttpTlsFiles): OtlpHttpSink {
  const sink = new OtlpHttpSink({
    endpoint,
    encoding: 'protobuf',
    ...(tls === undefined ? {} : { tls }),
    retry: { initialMs: 100, maxMs: 100, maxElapsedMs: 250, jitter: 0 },
    retryRuntime: {
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    },
  });
  sinks.push(sink);
  return sink;
}

async function sendError(sink: OtlpHttpSink, batch: KeptBatch): Promise<SinkError> {
  const error = await sink.send(batch).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SinkError);
  return error as SinkError;
}

beforeAll(async () => {
  pki = await makeTestPki('tailsift-otlp-tls-');
});

afterAll(async () => {
  await pki.dispose();
});

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

describe('OTLP/HTTP sink over TLS', () => {
  let server: LocalHttpsServer;
  beforeAll(async () => {
    server = await startHttpsServer(pki);
  });
  afterAll(async () => {
    await server.close();
  });

  it('delivers to a server whose certificate verifies against tls.ca, gzip-compressed, spans intact', async () => {
    const { batch, spans } = batchOf();
    const before = server.received.length;
    await sinkFor(server.url, { ca: pki.ca }).send(batch);
    const got = server.received.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0].headers['content-encoding']).toBe('gzip');
    const decoded = decodeProtobufRequest(got[0].body);
    expect(decoded.ok && summarizeViews(decoded.value.spans)).toEqual(summarizeSdkSpans(spans));
  });

  it('without the CA, fails with a retriable error naming the untrusted certificate, and nothing arrives', async () => {
    const before = server.received.length;
    const error = await sendError(sinkFor(server.url), batchOf().batch);
    expect(error.retriable).toBe(true);
    expect(error.message).toContain(`the TLS certificate of ${server.url} is not trusted`);
    expect(error.message).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate');
    expect(error.message).toContain('set tls.ca');
    expect(server.received.length).toBe(before);
  });

  it('refuses a certificate signed by another CA than tls.ca', async () => {
    const error = await sendError(sinkFor(server.url, { ca: pki.otherCa }), batchOf().batch);
    expect(error.message).toContain('is not trusted');
  });

  it('delivers without verifying when rejectUnauthorized is false', async () => {
    const before = server.received.length;
    await sinkFor(server.url, { rejectUnauthorized: false }).send(batchOf().batch);
    expect(server.received.length).toBe(before + 1);
  });
});

describe('OTLP/HTTP sink with mutual TLS', () => {
  let server: LocalHttpsServer;
  beforeAll(async () => {
    server = await startHttpsServer(pki, { requireClientCert: true });
  });
  afterAll(async () => {
    await server.close();
  });

  it('delivers with the client certificate, which the server sees', async () => {
    await sinkFor(server.url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }).send(batchOf().batch);
    expect(server.received).toHaveLength(1);
    expect(server.received[0].clientCn).toBe('tailsift-test-client');
  });

  it('without a client certificate, fails retriably and nothing arrives', async () => {
    const before = server.received.length;
    const error = await sendError(sinkFor(server.url, { ca: pki.ca }), batchOf().batch);
    expect(error.retriable).toBe(true);
    expect(error.message).toContain(`${server.url} asks for a client certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED); set tls.cert and tls.key`);
    expect(server.received.length).toBe(before);
  });
});

describe('OTLP/HTTP sink TLS settings', () => {
  it('names the setting when a PEM file cannot be read', () => {
    const missing = join(pki.dir, 'missing.pem');
    let error: unknown;
    try {
      sinkFor('https://127.0.0.1:1/v1/traces', { ca: missing });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`tls.ca: cannot read ${missing}`);
  });

  it('refuses TLS settings for an http:// endpoint', () => {
    expect(() => sinkFor('http://127.0.0.1:1/v1/traces', { ca: pki.ca })).toThrow(/https:\/\/ endpoints only/);
  });

  it('resolves tls files against the config file and builds a sink that delivers with them and the ${ENV} headers', async () => {
    const server = await startHttpsServer(pki, { requireClientCert: true });
    try {
      const text = [
        'sinks:',
        '  - type: otlp-http',
        `    endpoint: "${server.url}"`,
        '    compression: none',
        '    tls: { ca: ca.crt, cert: client.crt, key: client.key }',
        '    headers: { Authorization: "Bearer ${API_KEY}" }',
        '',
      ].join('\n');
      const result = parseEngineConfigText(text, join(pki.dir, 'tailsift.yaml'), pki.dir, { env: { API_KEY: 'key-0123456789' } });
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      // The logger is built with these: the key never reaches a log line.
      expect(result.secrets).toContain('key-0123456789');
      const sinkConfig = result.config.sinks[0];
      expect(sinkConfig).toMatchObject({ type: 'otlp-http', compression: 'none', tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, rejectUnauthorized: true } });
      const sink = createSink(sinkConfig, silentLogger);
      try {
        const { batch } = batchOf();
        await sink.send(batch);
      } finally {
        await sink.close();
      }
      expect(server.received).toHaveLength(1);
      expect(server.received[0].headers['content-encoding']).toBeUndefined();
      expect(server.received[0].clientCn).toBe('tailsift-test-client');
      expect(server.received[0].headers.authorization).toBe('Bearer key-0123456789');
    } finally {
      await server.close();
    }
  });

  it('reports tls on an http:// endpoint and a certificate without its key as config problems', () => {
    const text = ['sinks:', '  - type: otlp-http', '    endpoint: "http://127.0.0.1:4318/v1/traces"', '    tls: { cert: client.crt }', ''].join('\n');
    const result = parseEngineConfigText(text, join(pki.dir, 'tailsift.yaml'));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.join('\n')).toContain('sinks[0].tls: TLS settings apply to an https:// endpoint only');
    expect(result.problems.join('\n')).toContain('add tls.key');
  });
});
