import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { eventually } from '../support/engine-process.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { KafkaLagSampler } from '../../src/telemetry/kafka-consumer-lag.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startInProcess, type InProcessEngine } from '../telemetry/in-process-engine.js';
import { sampleValue, scrape } from '../telemetry/prometheus-text.js';

/** Kafka as the source, as operated: consumer lag, intake counters, and backpressure made visible. */
let engine: InProcessEngine | undefined;
const topics: { brokers: string[]; topic: string }[] = [];

afterEach(async () => {
  await engine?.dispose();
  engine = undefined;
  for (const { brokers, topic } of topics.splice(0)) {
    const admin = new Kafka({ clientId: 'tailsift-test', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
});

/** A new topic holding `perPartition[p]` OTLP records (one trace of two spans each) in partition p. */
async function topicWith(perPartition: readonly number[]): Promise<{ brokers: string[]; topic: string }> {
  const { kafkaBrokers } = await localServices();
  const brokers = kafkaBrokers.split(',');
  const topic = uniquePrefix('ops-lag');
  const kafka = new Kafka({ clientId: 'tailsift-test', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: perPartition.length, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  topics.push({ brokers, topic });
  await produce(brokers, topic, perPartition);
  return { brokers, topic };
}

/** `perPartition[p]` records of one trace each (two spans) to partition p. */
async function produce(brokers: string[], topic: string, perPartition: readonly number[]): Promise<void> {
  const producer = new Kafka({ clientId: 'tailsift-test', brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    const messages = perPartition.flatMap((count, partition) =>
      Array.from({ length: count }, () => ({
        partition,
        value: Buffer.from(ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces: 1, spansPerTrace: 2 })) as Uint8Array),
      })),
    );
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

function kafkaSource(brokers: readonly string[], topic: string, groupId: string): string {
  return `source: { type: kafka, brokers: ${JSON.stringify(brokers)}, topic: ${topic}, groupId: ${groupId}, sessionTimeout: 6s }`;
}

describe('Kafka consumer lag', () => {
  it('is what the group has not committed, per partition', async () => {
    const { brokers, topic } = await topicWith([3, 1]);
    const sampler = new KafkaLagSampler({ brokers, topic, groupId: uniquePrefix('nobody'), logger: silentLogger });
    try {
      const sample = await sampler.sample();
      expect(Object.fromEntries(sample.partitions)).toEqual({ 0: 3, 1: 1 });
      expect(sample.total).toBe(4);
      expect(sampler.latest()).toBe(sample);
    } finally {
      await sampler.stop();
    }
    const onlyOne = new KafkaLagSampler({ brokers, topic, groupId: uniquePrefix('nobody'), logger: silentLogger, partitions: () => [1] });
    try {
      expect(Object.fromEntries((await onlyOne.sample()).partitions)).toEqual({ 1: 1 });
    } finally {
      await onlyOne.stop();
    }
  });

  it('goes to 0 on /metrics and /status as the engine consumes, with the intake counters', async () => {
    const { brokers, topic } = await topicWith([2, 2]);
    const groupId = uniquePrefix('ops-group');
    engine = await startInProcess({
      policy: 'decision_wait: 200ms\npolicies:\n  - { name: all, type: always_sample }\n',
      config: [kafkaSource(brokers, topic, groupId)],
      engine: { kafkaLagIntervalMs: 200 },
    });
    const adminUrl = engine.adminUrl;
    const m = await eventually(async () => {
      const s = await scrape(adminUrl);
      const lag0 = sampleValue(s, 'tailsift_kafka_consumer_lag', { topic, partition: '0' });
      const lag1 = sampleValue(s, 'tailsift_kafka_consumer_lag', { topic, partition: '1' });
      return sampleValue(s, 'tailsift_kafka_records_committed_total') === 4 && lag0 === 0 && lag1 === 0 ? s : undefined;
    }, 60_000, 'every record committed and the lag at 0');
    expect(sampleValue(m, 'tailsift_spans_received_total', { source: 'kafka' })).toBe(8);
    expect(sampleValue(m, 'tailsift_kafka_records_total')).toBe(4);
    expect(sampleValue(m, 'tailsift_kafka_consumption_paused')).toBe(0);
    expect(sampleValue(m, 'tailsift_kafka_group_joins_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(m, 'tailsift_http_requests_total', { outcome: 'accepted' })).toBeUndefined();
    const status = (await (await fetch(`${adminUrl}/status`)).json()) as { kafka: { paused: boolean; partitions: number[]; lag: { total: number } } };
    expect(status.kafka).toMatchObject({ paused: false, lag: { total: 0 } });
    expect([...status.kafka.partitions].sort()).toEqual([0, 1]);
  }, 90_000);

  it('shows backpressure: consumption paused at num_traces, the lag kept, nothing evicted', async () => {
    const { brokers, topic } = await topicWith([4]);
    engine = await startInProcess({
      policy: 'decision_wait: 1h\nnum_traces: 1\npolicies:\n  - { name: all, type: always_sample }\n',
      config: [kafkaSource(brokers, topic, uniquePrefix('ops-full'))],
      engine: { kafkaLagIntervalMs: 200, statusIntervalMs: 100 },
    });
    const adminUrl = engine.adminUrl;
    // An empty buffer takes a first batch whole, however many traces it holds (else it could
    // never be taken); what arrives while those are undecided is refused.
    const first = await eventually(async () => {
      const pending = sampleValue(await scrape(adminUrl), 'tailsift_traces_pending') ?? 0;
      return pending >= 1 ? pending : undefined;
    }, 60_000, 'the first batch buffered');
    await produce(brokers, topic, [4]);
    const m = await eventually(async () => {
      const s = await scrape(adminUrl);
      return sampleValue(s, 'tailsift_kafka_consumption_paused') === 1 && (sampleValue(s, 'tailsift_kafka_consumer_lag', { topic, partition: '0' }) ?? 0) >= 3 ? s : undefined;
    }, 60_000, 'consumption paused with the lag visible');
    expect(sampleValue(m, 'tailsift_kafka_intake_refusals_total', { kind: 'full' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(m, 'tailsift_spans_rejected_total', { reason: 'buffer_full' })).toBeGreaterThanOrEqual(2);
    // Nothing was evicted, and nothing more was taken while the buffer was over num_traces.
    expect(sampleValue(m, 'tailsift_traces_pending')).toBeGreaterThanOrEqual(first);
    expect(sampleValue(m, 'tailsift_traces_pending')).toBeLessThanOrEqual(4);
    const logs = engine.logs;
    await eventually(() => logs.find((l) => /kafka lag \d+ \(paused\)/.test(String(l.msg))), 10_000, 'a status line showing the pause');
  }, 90_000);
});
