import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors.js';
import { KafkaSink } from '../../src/forward/kafka-sink.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { concatRequests, decodeJsonRequest, decodeProtobufRequest } from '../../src/otlp/index.js';
import type { DecodeResult } from '../../src/otlp/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { localServices, uniquePrefix } from '../support/services.js';

interface Consumed {
  key: string | null;
  value: Buffer;
  partition: number;
}

/**
 * A kept batch as the decision loop builds it: several traces, each trace's spans arriving in
 * more than one request, the requests concatenated.
 */
function keptBatch(traces: number, spansPerTrace: number): { batch: KeptBatch; spans: ReadableSpan[] } {
  const spans = makeSdkSpans({ traces, spansPerTrace });
  const firstHalf = spans.filter((_, i) => i % 2 === 0);
  const secondHalf = spans.filter((_, i) => i % 2 === 1);
  const request = concatRequests([ProtobufTraceSerializer.serializeRequest(firstHalf)!, ProtobufTraceSerializer.serializeRequest(secondHalf)!]);
  return { batch: { request, traceCount: traces, spanCount: spans.length }, spans };
}

/** Span ids by trace id, as the SDK made them. */
function spanIdsByTrace(spans: readonly ReadableSpan[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of spans) {
    const { traceId, spanId } = s.spanContext();
    out.set(traceId, [...(out.get(traceId) ?? []), spanId].sort());
  }
  return out;
}

describe('KafkaSink against a real broker', () => {
  let brokers: string[];
  let kafka: Kafka;
  let admin: Admin;
  const topics: string[] = [];
  const groups: string[] = [];

  beforeAll(async () => {
    brokers = (await localServices()).kafkaBrokers.split(',');
    kafka = new Kafka({ clientId: 'kafka-sink-test', brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  }, 300_000);

  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    await admin?.disconnect();
  });

  async function freshTopic(tag: string, configEntries: Array<{ name: string; value: string }> = []): Promise<string> {
    const topic = uniquePrefix(`kafka-sink-${tag}`);
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries }], waitForLeaders: true });
    topics.push(topic);
    return topic;
  }

  async function recordCount(topic: string): Promise<number> {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  }

  /** Reads the topic from the start until `count` records arrived (or 20 s passed). */
  async function consume(topic: string, count: number): Promise<Consumed[]> {
    const groupId = uniquePrefix('kafka-sink-test');
    groups.push(groupId);
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
    const records: Consumed[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${records.length} of ${count} records within 20 s`)), 20_000);
        consumer
          .run({
            eachMessage: async ({ message, partition }) => {
              records.push({ key: message.key?.toString('utf8') ?? null, value: message.value ?? Buffer.alloc(0), partition });
              if (records.length >= count) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return records;
  }

  function expectOneRecordPerTrace(records: readonly Consumed[], spans: readonly ReadableSpan[], decode: (value: Buffer) => DecodeResult): void {
    const expected = spanIdsByTrace(spans);
    expect(records.map((r) => r.key).sort()).toEqual([...expected.keys()].sort());
    for (const record of records) {
      const decoded = decode(record.value);
      if (!decoded.ok) throw decoded.error;
      expect(decoded.value.spans.every((s) => s.traceId === record.key)).toBe(true);
      expect(decoded.value.spans.map((s) => s.spanId).sort()).toEqual(expected.get(record.key!));
      // Each record is a whole request on its own, with the spans' resource kept.
      expect(decoded.value.spans.every((s) => s.serviceName === 'checkout')).toBe(true);
    }
  }

  it('produces one otlp_proto record per kept trace, keyed by the trace id, acknowledged when send resolves', async () => {
    const topic = await freshTopic('proto');
    const { batch, spans } = keptBatch(5, 4);
    const sink = new KafkaSink({ brokers, topic, encoding: 'otlp_proto', logger: silentLogger });
    await sink.send(batch);
    // Acknowledged means on the broker already, without waiting.
    expect(await recordCount(topic)).toBe(5);
    await sink.close();
    await sink.close(); // idempotent

    const records = await consume(topic, 5);
    expect(records).toHaveLength(5);
    expectOneRecordPerTrace(records, spans, (v) => decodeProtobufRequest(v));
  });

  it('writes OTLP/JSON values when asked', async () => {
    const topic = await freshTopic('json');
    const { batch, spans } = keptBatch(3, 3);
    const sink = new KafkaSink({ brokers, topic, encoding: 'otlp_json', logger: silentLogger });
    await sink.send(batch);
    await sink.close();

    const records = await consume(topic, 3);
    expect(records).toHaveLength(3);
    for (const r of records) expect(r.value.toString('utf8').startsWith('{"resourceSpans":[')).toBe(true);
    expectOneRecordPerTrace(records, spans, (v) => decodeJsonRequest(v));
  });

  it('sends the same trace to the same partition every time', async () => {
    const topic = await freshTopic('partition');
    const { batch } = keptBatch(4, 2);
    const sink = new KafkaSink({ brokers, topic, encoding: 'otlp_proto', logger: silentLogger });
    await sink.send(batch);
    await sink.send(batch);
    await sink.close();

    const records = await consume(topic, 8);
    const partitionsOf = new Map<string, Set<number>>();
    for (const r of records) partitionsOf.set(r.key!, (partitionsOf.get(r.key!) ?? new Set()).add(r.partition));
    expect(partitionsOf.size).toBe(4);
    expect([...partitionsOf.values()].every((p) => p.size === 1)).toBe(true);
  });

  it('a record the broker refuses for good fails at once with a non-retriable SinkError', async () => {
    const topic = await freshTopic('too-large', [{ name: 'max.message.bytes', value: '1024' }]);
    const { batch } = keptBatch(1, 40);
    const sink = new KafkaSink({ brokers, topic, encoding: 'otlp_proto', logger: silentLogger });
    const failure = await sink.send(batch).then(
      () => undefined,
      (err: unknown) => err,
    );
    await sink.close();
    expect(failure).toBeInstanceOf(SinkError);
    expect(failure).toMatchObject({ retriable: false, code: 'SINK_FAILED' });
    expect((failure as Error).message).toMatch(/larger than the max message size/);
  });

  it('a topic that does not exist fails with a retriable SinkError once the retries are spent', async () => {
    const sink = new KafkaSink({
      brokers,
      topic: uniquePrefix('kafka-sink-missing'),
      encoding: 'otlp_proto',
      logger: silentLogger,
      retry: { initialMs: 50, maxMs: 50, maxElapsedMs: 100 },
    });
    const failure = await sink.send(keptBatch(1, 1).batch).then(
      () => undefined,
      (err: unknown) => err,
    );
    await sink.close();
    expect(failure).toBeInstanceOf(SinkError);
    expect(failure).toMatchObject({ retriable: true });
    // The message says what to do: the sink never creates topics.
    expect((failure as Error).message).toMatch(/gave up after \d+ attempts .*does topic "kafka-sink-missing-[0-9a-f]+" exist\? tailsift never creates topics/);
  }, 60_000);

  it('refuses sends after close with a retriable SinkError, so the traces stay buffered', async () => {
    const topic = await freshTopic('closed');
    const sink = new KafkaSink({ brokers, topic, encoding: 'otlp_proto', logger: silentLogger });
    await sink.close();
    await expect(sink.send(keptBatch(1, 1).batch)).rejects.toMatchObject({ retriable: true, message: expect.stringMatching(/closed/) });
    expect(await recordCount(topic)).toBe(0);
  });
});
