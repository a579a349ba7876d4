import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS } from '../../src/ingest/kafka-dead-letter.js';
import { eventually } from '../support/engine-process.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { PipelineFixture } from '../support/pipeline-fixture.js';
import { counterTotal } from './metrics-sampler.js';
import { recordCase, settlePipeline } from './reliability-figures.js';

interface DeadRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

/**
 * Records that are not OTLP requests land on the engine's topic between good ones. The engine
 * moves each to the dead-letter topic with where-and-why headers and keeps consuming: every
 * good span is still kept or dropped by the policy, none is held up behind the poison.
 */
describe('fault: poison messages on the Kafka topic', () => {
  let fixture: PipelineFixture | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
    await cleanup?.();
    cleanup = undefined;
  });

  it('dead-letters them with the reason in headers and keeps every good span', async () => {
    const { kafkaBrokers, redisUrl } = await localServices();
    fixture = await PipelineFixture.create(kafkaBrokers, redisUrl);
    const dlq = uniquePrefix('dead-letter');
    const readerGroup = uniquePrefix('dlq-reader');
    const kafka = new Kafka({ clientId: 'reliability-poison', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    cleanup = async () => {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [dlq, fixture?.topic ?? dlq], timeout: 10_000 }).catch(() => undefined);
      await admin.deleteGroups([readerGroup]).catch(() => undefined);
      await admin.disconnect();
    };
    await admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const engine = await fixture.startEngine(0, undefined, { source: `deadLetterTopic: ${dlq}` });

    const generating = fixture.generate({ seconds: 5, rate: 20, seed: 15 });
    await new Promise((r) => setTimeout(r, 1_500));
    // Keyed, so both land on one partition behind good records and ahead of later ones.
    await producer.send({
      topic: fixture.topic,
      acks: -1,
      messages: [
        { key: 'poison-garbage', value: Buffer.from('this is not an OTLP request') },
        { key: 'poison-tombstone', value: null },
      ],
    });
    const summary = await generating;
    expect(summary.failedSpans).toBe(0);
    const traces = await fixture.manifest();
    const r = await settlePipeline(fixture, traces, 1, 60_000);

    const dead: DeadRecord[] = [];
    const consumer = kafka.consumer({ groupId: readerGroup, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [dlq], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          dead.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
        },
      });
      await eventually(() => (dead.length >= 2 ? true : undefined), 30_000, 'two dead-letter records');
    } finally {
      await consumer.disconnect();
    }
    const poisonCounted = await counterTotal(engine.adminUrl, 'tailsift_kafka_poison_records_total');
    await recordCase({
      id: 'poison-message',
      fault: '2 poison records (garbage, tombstone) amid a 5 s stream; dead-letter topic set',
      spans: r.spans,
      details: {
        traces: traces.length,
        'poison records sent': 2,
        'records dead-lettered': dead.length,
        'poison records counted by the engine': poisonCounted,
      },
    }, engine.logs);

    expect(r.incomplete).toEqual([]);
    expect(r.unexpected).toEqual([]);
    expect(r.spans.lost).toBe(0);
    expect(dead).toHaveLength(2);
    const byKey = new Map(dead.map((d) => [d.key, d]));
    expect(byKey.get('poison-garbage')).toMatchObject({
      value: 'this is not an OTLP request',
      headers: { [DEAD_LETTER_HEADERS.reason]: 'malformed', [DEAD_LETTER_HEADERS.sourceTopic]: fixture.topic },
    });
    expect(byKey.get('poison-tombstone')).toMatchObject({ value: null, headers: { [DEAD_LETTER_HEADERS.reason]: 'no_value' } });
    for (const d of dead) expect(Number(d.headers[DEAD_LETTER_HEADERS.sourceOffset])).toBeGreaterThanOrEqual(0);
    expect(poisonCounted).toBe(2);
    expect(await engine.stop()).toBe(0);
  }, 150_000);
});
