import { setTimeout as sleep } from 'node:timers/promises';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { DEAD_LETTER_HEADERS } from '../../src/ingest/kafka-dead-letter.js';
import type { IntakeResult } from '../../src/ingest/otlp-http-receiver.js';
import { createSource, type SpanSource } from '../../src/ingest/span-source.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { makeSdkSpans } from './sdk-spans.js';

const WAIT_MS = 30_000;

async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await sleep(50);
  }
}

interface ReadRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

describe('dead-letter topic for poison records (real broker)', () => {
  let brokers: string[];
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  const topics: string[] = [];
  const groups: string[] = [];
  const running: SpanSource[] = [];

  beforeAll(async () => {
    brokers = (await localServices()).kafkaBrokers.split(',');
    kafka = new Kafka({ clientId: 'dead-letter-test', brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    producer = kafka.producer();
    await admin.connect();
    await producer.connect();
  }, 300_000);

  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  afterAll(async () => {
    await producer?.disconnect();
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    await admin?.disconnect();
  });

  function name(tag: string): string {
    const n = uniquePrefix(`dlq-${tag}`);
    topics.push(n);
    return n;
  }

  async function createTopic(topic: string): Promise<void> {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  }

  /** A Kafka source built from config text, as the engine builds it. */
  function startSource(topic: string, deadLetterTopic: string, accepted: DecodedRequest[]): { source: SpanSource; groupId: string } {
    const groupId = uniquePrefix('dlq-group');
    groups.push(groupId);
    const parsed = parseEngineConfigText(
      `source: { type: kafka, brokers: [${JSON.stringify(brokers[0])}], topic: ${topic}, groupId: ${groupId}, deadLetterTopic: ${deadLetterTopic} }\nadmin: { port: 0 }\n`,
      'tailsift.yaml',
      '/tmp',
    );
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const source = createSource(
      parsed.config.source,
      async (decoded): Promise<IntakeResult> => {
        accepted.push(decoded);
        return { status: 'accepted' };
      },
      silentLogger,
    );
    running.push(source);
    return { source, groupId };
  }

  async function committed(topic: string, groupId: string): Promise<string> {
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return group.partitions.find((p) => p.partition === 0)?.offset ?? '-1';
  }

  async function readAll(topic: string, count: number): Promise<ReadRecord[]> {
    const groupId = uniquePrefix('dlq-reader');
    groups.push(groupId);
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    const out: ReadRecord[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
        },
      });
      await eventually(`${count} records on ${topic}`, () => out.length >= count);
    } finally {
      await consumer.disconnect();
    }
    return out;
  }

  function goodRecord(): Buffer {
    return Buffer.from(ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces: 1, spansPerTrace: 2 }))!);
  }

  it('produces each poison record with its key, value and where-and-why headers, takes the good ones and commits past all', async () => {
    const topic = name('in');
    const dlq = name('dead');
    await createTopic(topic);
    await createTopic(dlq);
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: null, value: goodRecord() },
        { key: 'bad-key', value: Buffer.from('this is not an OTLP request') },
        { key: 'tombstone', value: null },
        { key: null, value: goodRecord() },
      ],
    });
    const accepted: DecodedRequest[] = [];
    const { source, groupId } = startSource(topic, dlq, accepted);
    await source.start();
    await eventually('offset committed past every record', async () => (await committed(topic, groupId)) === '4');

    expect(accepted.reduce((n, d) => n + d.spanCount, 0)).toBe(4);
    const telemetry = source.telemetry();
    expect(telemetry.type === 'kafka' && telemetry.kafka.poison).toEqual({ malformed: 1, no_value: 1 });

    const dead = await readAll(dlq, 2);
    expect(dead).toHaveLength(2);
    const byKey = new Map(dead.map((r) => [r.key, r]));
    const malformed = byKey.get('bad-key');
    expect(malformed?.value).toBe('this is not an OTLP request');
    expect(malformed?.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.reason]: 'malformed',
      [DEAD_LETTER_HEADERS.sourceTopic]: topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: '0',
      [DEAD_LETTER_HEADERS.sourceOffset]: '1',
    });
    expect(malformed?.headers[DEAD_LETTER_HEADERS.detail].length).toBeGreaterThan(0);
    const tombstone = byKey.get('tombstone');
    expect(tombstone?.value).toBeNull();
    expect(tombstone?.headers).toMatchObject({ [DEAD_LETTER_HEADERS.reason]: 'no_value', [DEAD_LETTER_HEADERS.sourceOffset]: '2' });
  });

  it('does not commit past a poison record until the dead-letter topic took it', async () => {
    const topic = name('in');
    const dlq = name('late');
    await createTopic(topic);
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: Buffer.from('garbage') }, { key: null, value: goodRecord() }] });
    const accepted: DecodedRequest[] = [];
    const { source, groupId } = startSource(topic, dlq, accepted);
    await source.start();

    // The dead-letter topic does not exist yet: the write fails and the source waits.
    await eventually('a failed dead-letter write', () => {
      const t = source.telemetry();
      return t.type === 'kafka' && t.kafka.poisonHandlerErrors >= 1;
    });
    expect(await committed(topic, groupId)).toBe('-1');
    expect(accepted).toHaveLength(0);
    const waiting = source.telemetry();
    expect(waiting.type === 'kafka' && waiting.paused).toBe(true);

    await createTopic(dlq);
    await eventually('offset committed once the dead-letter write went through', async () => (await committed(topic, groupId)) === '2');
    expect(accepted.reduce((n, d) => n + d.spanCount, 0)).toBe(2);
    const dead = await readAll(dlq, 1);
    expect(dead).toEqual([
      expect.objectContaining({ key: 'k', value: 'garbage', headers: expect.objectContaining({ [DEAD_LETTER_HEADERS.sourceOffset]: '0' }) }),
    ]);
  });
});
