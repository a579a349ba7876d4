import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateCommand } from '../../src/cli/generate.js';
import { runGenerate } from '../../src/generate/index.js';
import { byTrace, projectDecoder, readManifest, spansFromProtobuf } from './otlp-reader.js';
import { generateToFile, scratchDir, START_MS } from './run-to-file.js';

const { dir, cleanup } = scratchDir();
afterAll(cleanup);

interface Recorded {
  method: string;
  url: string;
  contentType: string;
  body: Buffer;
  status: number;
}

/** A local OTLP/HTTP endpoint that records every request and answers with `respond`'s status. */
async function recordingServer(respond: (index: number) => { status: number; headers?: Record<string, string> }) {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, headers = {} } = respond(requests.length);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: Buffer.concat(chunks),
        status,
      });
      res.writeHead(status, { 'content-type': 'application/x-protobuf', ...headers });
      res.end(status === 200 ? undefined : 'busy');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { requests, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('OTLP/HTTP target', () => {
  it('posts protobuf exports, honours 503 + Retry-After, and loses nothing', async () => {
    const { requests, url } = await recordingServer((i) =>
      i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const options = { scenario: 'shop', rate: 20, durationSeconds: 1.5, seed: 3, startMs: START_MS };
    const manifestPath = `${dir}/http.manifest.jsonl`;
    const summary = await runGenerate({ ...options, target: url, manifestPath });

    expect(summary.failedRequests).toBe(0);
    expect(summary.retries).toBe(1);
    for (const r of requests) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/v1/traces');
      expect(r.contentType).toBe('application/x-protobuf');
    }
    // The refused export came again, byte for byte.
    expect(requests[0].status).toBe(503);
    expect(requests[1].body.equals(requests[0].body)).toBe(true);
    const accepted = requests.filter((r) => r.status === 200);
    expect(accepted).toHaveLength(summary.requests);
    expect(accepted.reduce((n, r) => n + r.body.length, 0)).toBe(summary.bytes);

    // Everything generated arrived: the same spans as a file run with the same seed and start.
    const received = accepted.flatMap((r, i) => spansFromProtobuf(r.body, i));
    const reference = await generateToFile(dir, 'http-reference', options);
    const key = (s: { traceId: string; spanId: string; startNs: bigint; endNs: bigint; name: string }) =>
      `${s.traceId}/${s.spanId}/${s.name}/${s.startNs}/${s.endNs}`;
    expect(received.map(key).sort()).toEqual(reference.spans.map(key).sort());
    const manifest = readManifest(manifestPath);
    expect(manifest.map((m) => m.traceId).sort()).toEqual([...byTrace(received).keys()].sort());
    expect(received).toHaveLength(summary.spans);

    // Like real SDK exports: one resource per request, and a trace spread over several requests.
    for (const r of accepted) {
      const services = new Set(spansFromProtobuf(r.body, 0).map((s) => s.service));
      expect(services.size).toBe(1);
    }
    const spread = [...byTrace(received).values()].filter((spans) => new Set(spans.map((s) => s.request)).size > 1);
    expect(spread.length / manifest.length).toBeGreaterThan(0.9);

    const decoder = await projectDecoder();
    if (decoder) {
      const decoded = accepted.flatMap((r) => decoder.protobuf(r.body));
      expect(decoded.map((s) => `${s.traceId}/${s.spanId}`).sort()).toEqual(received.map((s) => `${s.traceId}/${s.spanId}`).sort());
    }
  });

  it('counts requests as failed when the endpoint keeps refusing', async () => {
    const { requests, url } = await recordingServer(() => ({ status: 503 }));
    const summary = await runGenerate({
      target: url,
      scenario: 'bench',
      rate: 10,
      durationSeconds: 0.3,
      seed: 4,
      retry: { maxRetries: 2, initialBackoffMs: 10 },
    });
    expect(summary.spans).toBeGreaterThan(0);
    expect(summary.requests).toBe(0);
    expect(summary.failedSpans).toBe(summary.spans);
    expect(summary.retries).toBe(2 * summary.failedRequests);
    expect(requests).toHaveLength(3 * summary.failedRequests);
    expect(summary.lastError).toContain('HTTP 503');
  });

  it('does not retry a request the endpoint rejects for good, and the command exits 1', async () => {
    const { requests, url } = await recordingServer(() => ({ status: 400 }));
    let stdout = '';
    let stderr = '';
    const code = await generateCommand(['--target', url, '--scenario', 'bench', '--rate', '10', '--duration', '0.3', '--seed', '8'], {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
    });
    expect(code).toBe(1);
    expect(requests.length).toBeGreaterThan(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stdout).toContain(`${requests.length} failed requests`);
    expect(stdout).toContain('0 retries');
    expect(stderr).toContain('HTTP 400');
  });
});
