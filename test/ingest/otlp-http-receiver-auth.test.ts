import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { OtlpHttpReceiver } from '../../src/ingest/otlp-http-receiver.js';
import { BearerTokenCheck } from '../../src/ingest/bearer-token.js';
import { RpcCode } from '../../src/ingest/rpc-status.js';
import { readRpcStatus } from '../../src/forward/otlp-http-response.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews } from './sdk-spans.js';

const TOKEN = 'tok-0123456789abcdef-secret';

let receiver: OtlpHttpReceiver;
let base: string;
let seen: DecodedRequest[];
let logText: string;

beforeEach(async () => {
  seen = [];
  logText = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  });
  receiver = new OtlpHttpReceiver({
    host: '127.0.0.1',
    port: 0,
    bearerToken: TOKEN,
    intake: async (decoded) => {
      seen.push(decoded);
      return { status: 'accepted' };
    },
    logger: pino({ level: 'debug' }, stream),
    rejectLogIntervalMs: 0,
  });
  const { host, port } = await receiver.start();
  base = `http://${host}:${port}`;
});

afterEach(async () => {
  await receiver.stop();
});

function post(headers: Record<string, string>, path = '/v1/traces'): Promise<Response> {
  const body = ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces: 1, spansPerTrace: 2 }))!;
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...headers }, body });
}

describe('OtlpHttpReceiver with a bearer token', () => {
  it('answers 401 with an OTLP Status and WWW-Authenticate when the token is missing or wrong, and takes nothing', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-of-some-length' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` },
      { authorization: TOKEN },
      { authorization: 'Bearer' },
    ];
    for (const headers of attempts) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tailsift"');
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
      const status = readRpcStatus(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type'));
      expect(status?.code).toBe(RpcCode.UNAUTHENTICATED);
      expect(status?.message).toContain('bearer token');
    }
    expect(seen).toHaveLength(0);
    expect(receiver.counters().rejected.unauthenticated).toBe(attempts.length);
    expect(receiver.counters().requests.rejected).toBe(attempts.length);
  });

  it('refuses before routing, so an unauthenticated client cannot probe paths', async () => {
    const res = await post({}, '/no/such/path');
    expect(res.status).toBe(401);
    const ok = await post({ authorization: `Bearer ${TOKEN}` }, '/no/such/path');
    expect(ok.status).toBe(404);
  });

  it('accepts the right token, whatever the case of the scheme', async () => {
    expect((await post({ authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await post({ authorization: `bearer ${TOKEN}` })).status).toBe(200);
    expect(seen).toHaveLength(2);
  });

  it('takes spans from the OTel SDK exporter configured with the Authorization header, and refuses it without', async () => {
    const spans = makeSdkSpans({ traces: 2, spansPerTrace: 3 });
    const withToken = new OTLPTraceExporter({ url: `${base}/v1/traces`, headers: { Authorization: `Bearer ${TOKEN}` } });
    const accepted = await new Promise<ExportResult>((resolve) => withToken.export(spans, resolve));
    await withToken.shutdown();
    expect(accepted.error).toBeUndefined();
    expect(accepted.code).toBe(ExportResultCode.SUCCESS);
    expect(summarizeViews(seen.flatMap((d) => d.spans))).toEqual(summarizeSdkSpans(spans));

    const without = new OTLPTraceExporter({ url: `${base}/v1/traces` });
    const refused = await new Promise<ExportResult>((resolve) => without.export(spans, resolve));
    await without.shutdown();
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect(seen).toHaveLength(1);
  });

  it('never writes the token to its log', async () => {
    await post({ authorization: `Bearer ${TOKEN}` });
    await post({ authorization: 'Bearer nope-nope-nope-nope' });
    await receiver.stop();
    expect(logText).toContain('refused requests');
    expect(logText).not.toContain(TOKEN);
  });
});

describe('BearerTokenCheck', () => {
  it('accepts only the exact token', () => {
    const check = new BearerTokenCheck('abc-def-ghi-jkl-mno');
    expect(check.accepts('Bearer abc-def-ghi-jkl-mno')).toBe(true);
    expect(check.accepts('  BEARER   abc-def-ghi-jkl-mno ')).toBe(true);
    expect(check.accepts('Bearer abc-def-ghi-jkl-mnO')).toBe(false);
    expect(check.accepts('Bearer abc-def-ghi-jkl-mno extra')).toBe(false);
    expect(check.accepts(undefined)).toBe(false);
    expect(check.accepts('')).toBe(false);
  });

  it('refuses an empty configured token', () => {
    expect(() => new BearerTokenCheck('')).toThrow(RangeError);
  });
});
