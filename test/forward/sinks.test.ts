import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { FileSink } from '../../src/forward/file-sink.js';
import { KafkaSink } from '../../src/forward/kafka-sink.js';
import { OtlpHttpSink } from '../../src/forward/otlp-http-sink.js';
import { createSink, type SinkConfig } from '../../src/forward/sinks.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { reply, startLocalOtlpServer, type LocalOtlpServer } from './local-otlp-server.js';

let server: LocalOtlpServer | undefined;
let dir: string | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const spans = makeSdkSpans({ traces: 1, spansPerTrace: 2 });
const batch = { request: ProtobufTraceSerializer.serializeRequest(spans)!, traceCount: 1, spanCount: 2 };

describe('createSink', () => {
  it('builds a file sink that writes where the config says', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-sinks-'));
    const path = join(dir, 'kept.jsonl');
    const sink = createSink({ type: 'file', path }, silentLogger);
    expect(sink).toBeInstanceOf(FileSink);
    await sink.send(batch);
    await sink.close();
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(2);
  });

  it('builds an OTLP/HTTP sink with the configured encoding and headers', async () => {
    server = await startLocalOtlpServer((res) => reply(res, 200, { 'content-type': 'application/json' }, '{}'));
    const config: SinkConfig = { type: 'otlp-http', endpoint: server.url, encoding: 'json', headers: { 'x-scope-orgid': 'team-a' }, timeout: 2_000 };
    const sink = createSink(config, silentLogger);
    expect(sink).toBeInstanceOf(OtlpHttpSink);
    await sink.send(batch);
    await sink.close();
    expect(server.received).toHaveLength(1);
    expect(server.received[0].headers['content-type']).toBe('application/json');
    expect(server.received[0].headers['x-scope-orgid']).toBe('team-a');
  });

  it('builds a Kafka sink for the topic without dialing the brokers before the first send', async () => {
    // Nothing listens on port 1: building and closing must not need a broker.
    const sink = createSink({ type: 'kafka', brokers: ['127.0.0.1:1'], topic: 'sampled_spans' }, silentLogger);
    expect(sink).toBeInstanceOf(KafkaSink);
    expect(sink.name).toBe('kafka 127.0.0.1:1/sampled_spans');
    await sink.close();
  });
});
