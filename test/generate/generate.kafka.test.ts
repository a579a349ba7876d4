import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGenerate, type GenerateSummary } from '../../src/generate/index.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { byTrace, readManifest, spansFromJson, spansFromProtobuf, type FlatSpan } from './otlp-reader.js';
import { scratchDir, START_MS } from './run-to-file.js';


interface Consumed {
  key: string | null;
  value: Buffer;
  partition: number;
}

/** Runs against KAFKA_BROKERS, or the broker `scripts/services.sh up` starts. */
describe('generate to a real Kafka broker', () => {
  let brokers = '';
  let kafka: Kafka;
  let admin: Admin;
  const topics: string[] = [];
  const { dir, cleanup } = scratchDir();

  beforeAll(async () => {
    brokers = (await localServices()).kafkaBrokers;
    kafka = new Kafka({ clientId: 'tailsift-generate-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
    cleanup();
  });

  async function freshTopic(tag: string): Promise<string> {
    const topic = uniquePrefix(`generate-${tag}`);
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    topics.push(topic);
    return topic;
  }

  /** Reads the topic from the start until `count` records arrived (or 30 s passed). */
  async function consume(topic: string, count: number): Promise<Consumed[]> {
    const consumer = kafka.consumer({ groupId: uniquePrefix('generate-test') });
    const records: Consumed[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${records.length} of ${count} records within 30 s`)), 30_000);
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

  async function generate(target: string, name: string): Promise<{ summary: GenerateSummary; manifestPath: string }> {
    const manifestPath = `${dir}/${name}.manifest.jsonl`;
    const summary = await runGenerate({
      target,
      scenario: 'shop',
      rate: 20,
      durationSeconds: 1,
      seed: 31,
      startMs: START_MS,
      manifestPath,
    });
    expect(summary.failedRequests).toBe(0);
    return { summary, manifestPath };
  }

  it('key=trace_id: one otlp_proto record per trace and export, keyed by the trace id, a trace on one partition', async () => {
    const topic = await freshTopic('keyed');
    const { summary, manifestPath } = await generate(`kafka://${brokers}/${topic}?key=trace_id`, 'keyed');
    const records = await consume(topic, summary.requests);
    expect(records).toHaveLength(summary.requests);

    const spans: FlatSpan[] = [];
    const partitionOf = new Map<string, number>();
    for (const [i, record] of records.entries()) {
      const inRecord = spansFromProtobuf(record.value, i);
      expect(record.key).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(inRecord.map((s) => s.traceId))).toEqual(new Set([record.key]));
      expect(partitionOf.get(record.key as string) ?? record.partition).toBe(record.partition);
      partitionOf.set(record.key as string, record.partition);
      spans.push(...inRecord);
    }
    expect(spans).toHaveLength(summary.spans);
    const manifest = readManifest(manifestPath);
    const traces = byTrace(spans);
    expect([...traces.keys()].sort()).toEqual(manifest.map((m) => m.traceId).sort());
    for (const entry of manifest) expect(traces.get(entry.traceId)).toHaveLength(entry.spans);
  });

  it('without a key: one unkeyed record per export, otlp_json when asked', async () => {
    const topic = await freshTopic('json');
    const { summary } = await generate(`kafka://${brokers}/${topic}?encoding=otlp_json`, 'json');
    const records = await consume(topic, summary.requests);
    expect(records).toHaveLength(summary.requests);
    expect(records.every((r) => r.key === null)).toBe(true);
    const spans = records.flatMap((r, i) => spansFromJson(r.value.toString('utf8'), i));
    expect(spans).toHaveLength(summary.spans);
  });
});
