import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSource, type KafkaSourceOptions, type PoisonMessage } from '../../src/ingest/kafka-source.js';
import type { PoisonReason } from '../../src/ingest/kafka-message-decoding.js';
import type { IntakeResult } from '../../src/ingest/otlp-http-receiver.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews, type SpanSummary } from './sdk-spans.js';

const WAIT_MS = 20_000;

/** Polls `check` until it holds; fails with `what` after WAIT_MS. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await sleep(25);
  }
}

/** An intake that records what it took and answers as the test says. */
class RecordingIntake {
  /** Spans of every accepted call, duplicates included. */
  readonly accepted: SpanSummary[] = [];
  /** Span ids of every refused call, one list per call. */
  readonly refused: string[][] = [];
  calls = 0;

  constructor(private readonly answer: (call: number, decoded: DecodedRequest) => IntakeResult | Promise<IntakeResult> = () => ({ status: 'accepted' })) {}

  readonly intake = async (decoded: DecodedRequest): Promise<IntakeResult> => {
    const call = ++this.calls;
    const result = await this.answer(call, decoded);
    if (result.status === 'accepted') this.accepted.push(...summarizeViews(decoded.spans));
    else this.refused.push(decoded.spans.map((s) => s.spanId).sort());
    return result;
  };

  uniqueSpanIds(): string[] {
    return [...new Set(this.accepted.map((s) => s.spanId))].sort();
  }
}

interface Outgoing {
  readonly value: Buffer | null;
  readonly partition: number;
}

/**
 * SDK spans cut into requests of `spansPerRequest`, request i on partition i % partitions,
 * without a key: a trace's spans end up on several partitions.
 */
function scatteredRequests(
  spans: readonly ReadableSpan[],
  encoding: 'otlp_proto' | 'otlp_json',
  options: { spansPerRequest: number; partitions: number },
): Outgoing[] {
  const serializer = encoding === 'otlp_proto' ? ProtobufTraceSerializer : JsonTraceSerializer;
  const out: Outgoing[] = [];
  for (let i = 0; i * options.spansPerRequest < spans.length; i++) {
    const chunk = spans.slice(i * options.spansPerRequest, (i + 1) * options.spansPerRequest) as ReadableSpan[];
    const bytes = serializer.serializeRequest(chunk);
    if (bytes === undefined) throw new Error('the SDK serializer produced nothing');
    out.push({ value: Buffer.from(bytes), partition: i % options.partitions });
  }
  return out;
}

function spanIds(spans: readonly ReadableSpan[]): string[] {
  return spans.map((s) => s.spanContext().spanId).sort();
}

describe('KafkaSource against a real broker', () => {
  let brokers: string[];
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  const topics: string[] = [];
  const groups: string[] = [];
  const running: KafkaSource[] = [];

  beforeAll(async () => {
    brokers = (await localServices()).kafkaBrokers.split(',');
    kafka = new Kafka({ clientId: 'kafka-source-test', brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
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

  function freshGroup(): string {
    const groupId = uniquePrefix('kafka-source-group');
    groups.push(groupId);
    return groupId;
  }

  async function freshTopic(tag: string, partitions = 3): Promise<string> {
    const topic = uniquePrefix(`kafka-source-${tag}`);
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    topics.push(topic);
    return topic;
  }

  /** All records in one produce request: one record batch per partition on the broker. */
  async function produceTogether(topic: string, records: readonly Outgoing[]): Promise<void> {
    await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: null, value: r.value, partition: r.partition })) });
  }

  /** One produce request per record: many small record batches, so fetches can stop between them. */
  async function produceOneByOne(topic: string, records: readonly Outgoing[]): Promise<void> {
    for (const r of records) await producer.send({ topic, acks: -1, messages: [{ key: null, value: r.value, partition: r.partition }] });
  }

  function source(topic: string, groupId: string, intake: RecordingIntake, extra: Partial<KafkaSourceOptions> = {}): KafkaSource {
    const s = new KafkaSource({
      brokers,
      topic,
      groupId,
      encoding: 'otlp_proto',
      intake: intake.intake,
      logger: silentLogger,
      clientId: 'kafka-source-test',
      retry: { initialMs: 20, maxMs: 200 },
      ...extra,
    });
    running.push(s);
    return s;
  }

  /** Committed offsets of the group and the topic's end offsets, by partition. */
  async function offsets(topic: string, groupId: string): Promise<{ committed: Record<number, string>; end: Record<number, string> }> {
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return {
      committed: Object.fromEntries(group.partitions.map((p) => [p.partition, p.offset])),
      end: Object.fromEntries(ends.map((p) => [p.partition, p.high])),
    };
  }

  it.each(['otlp_proto', 'otlp_json'] as const)('delivers every span of unkeyed %s requests scattered over 3 partitions, exactly as produced', async (encoding) => {
    const topic = await freshTopic(encoding);
    const spans = makeSdkSpans({ traces: 6, spansPerTrace: 4 });
    const records = scatteredRequests(spans, encoding, { spansPerRequest: 3, partitions: 3 });
    // The point of the test: a trace's spans really are on different partitions.
    const partitionsOfTrace = new Map<string, Set<number>>();
    records.forEach((r, i) => {
      for (const span of spans.slice(i * 3, i * 3 + 3)) {
        const id = span.spanContext().traceId;
        partitionsOfTrace.set(id, (partitionsOfTrace.get(id) ?? new Set()).add(r.partition));
      }
    });
    expect([...partitionsOfTrace.values()].some((p) => p.size > 1)).toBe(true);
    await produceTogether(topic, records);

    const intake = new RecordingIntake();
    const groupId = freshGroup();
    const src = source(topic, groupId, intake, { encoding });
    expect(src.connected()).toBe(false);
    await src.start();
    expect(src.connected()).toBe(true);
    await eventually('every span at the intake', () => intake.accepted.length >= spans.length);
    await src.stop();
    await src.stop(); // idempotent

    expect(intake.accepted.sort((a, b) => a.spanId.localeCompare(b.spanId))).toEqual(summarizeSdkSpans(spans));
    expect(src.connected()).toBe(false);
    const c = src.counters();
    expect(c.records).toBe(records.length);
    expect(c.recordsCommitted).toBe(records.length);
    expect(c.spansAccepted).toBe(spans.length);
    expect(c.poison).toEqual({ malformed: 0, no_value: 0 });
    const { committed, end } = await offsets(topic, groupId);
    expect(committed).toEqual(end);
  });

  it('commits nothing while the intake is full, offers the same batch again, and commits to the end once it accepts', async () => {
    const topic = await freshTopic('full');
    const spans = makeSdkSpans({ traces: 4, spansPerTrace: 3 });
    const records = scatteredRequests(spans, 'otlp_proto', { spansPerRequest: 2, partitions: 3 });
    await produceTogether(topic, records);

    let accepting = false;
    const intake = new RecordingIntake(() =>
      accepting ? { status: 'accepted' } : { status: 'full', retryAfterMs: 50, reason: 'trace buffer full (test)' },
    );
    const groupId = freshGroup();
    const src = source(topic, groupId, intake);
    await src.start();
    await eventually('several refusals', () => intake.refused.length >= 4);

    // While refused: the same batch each time, nothing accepted, nothing committed.
    expect(new Set(intake.refused.map((ids) => ids.join(','))).size).toBe(1);
    expect(intake.accepted).toHaveLength(0);
    const during = await offsets(topic, groupId);
    expect(Object.values(during.committed).every((o) => o === '-1')).toBe(true);
    expect(src.counters().recordsCommitted).toBe(0);
    expect(src.connected()).toBe(true);

    accepting = true;
    await eventually('every span at the intake', () => intake.accepted.length >= spans.length);
    await eventually('offsets committed to the end', async () => {
      const { committed, end } = await offsets(topic, groupId);
      return JSON.stringify(committed) === JSON.stringify(end);
    });
    await src.stop();

    expect(intake.uniqueSpanIds()).toEqual(spanIds(spans));
    expect(intake.accepted).toHaveLength(spans.length);
    expect(src.counters().intakeFull).toBe(intake.refused.length);
  });

  it('treats an intake that throws like a full one: the batch is offered again and nothing is lost', async () => {
    const topic = await freshTopic('throws');
    const spans = makeSdkSpans({ traces: 3, spansPerTrace: 3 });
    const records = scatteredRequests(spans, 'otlp_proto', { spansPerRequest: 2, partitions: 3 });
    await produceTogether(topic, records);

    let failedWith: string[] | undefined;
    const intake = new RecordingIntake((call, decoded) => {
      if (call === 1) {
        failedWith = decoded.spans.map((s) => s.spanId).sort();
        throw new Error('buffer unreachable (test)');
      }
      return { status: 'accepted' };
    });
    const groupId = freshGroup();
    const src = source(topic, groupId, intake);
    await src.start();
    await eventually('every span at the intake', () => intake.uniqueSpanIds().length >= spans.length);
    await eventually('offsets committed to the end', async () => {
      const { committed, end } = await offsets(topic, groupId);
      return JSON.stringify(committed) === JSON.stringify(end);
    });
    await src.stop();

    expect(intake.uniqueSpanIds()).toEqual(spanIds(spans));
    expect(intake.accepted).toHaveLength(spans.length);
    // The failed batch came back whole on the next call.
    expect(failedWith).toBeDefined();
    expect(intake.accepted.slice(0, failedWith!.length).map((s) => s.spanId).sort()).toEqual(failedWith);
    expect(src.counters()).toMatchObject({ intakeErrors: 1, recordsCommitted: records.length });
  });

  it('after a restart in the same group, the union of what both instances took is everything produced', async () => {
    const topic = await freshTopic('restart');
    const spans = makeSdkSpans({ traces: 10, spansPerTrace: 3 });
    const records = scatteredRequests(spans, 'otlp_proto', { spansPerRequest: 2, partitions: 3 });
    await produceOneByOne(topic, records);
    const groupId = freshGroup();

    // The first instance stops itself right after its first accepted batch.
    const stopFirst = { now: (): void => undefined };
    const firstIntake = new RecordingIntake(() => {
      stopFirst.now();
      return { status: 'accepted' };
    });
    const first = source(topic, groupId, firstIntake, { maxBytesPerPartition: 256 });
    // Not awaited from inside the intake: stop waits for the batch whose intake call this is.
    stopFirst.now = () => void first.stop();
    await first.start();
    await eventually('the first instance stopped', () => firstIntake.calls >= 1 && !first.connected());
    await first.stop();
    const partial = firstIntake.uniqueSpanIds();
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(spans.length);
    // What it took, it committed: the stop let the batch in flight finish its commit.
    expect(first.counters().batchesCommitted).toBe(firstIntake.calls);
    const afterFirst = await offsets(topic, groupId);
    const committedRecords = Object.values(afterFirst.committed).reduce((sum, o) => sum + Math.max(0, Number(o)), 0);
    expect(committedRecords).toBe(first.counters().recordsCommitted);

    const secondIntake = new RecordingIntake();
    const second = source(topic, groupId, secondIntake);
    await second.start();
    await eventually('the union is everything', () => new Set([...partial, ...secondIntake.uniqueSpanIds()]).size >= spans.length);
    await eventually('offsets committed to the end', async () => {
      const { committed, end } = await offsets(topic, groupId);
      return JSON.stringify(committed) === JSON.stringify(end);
    });
    await second.stop();

    const union = [...new Set([...partial, ...secondIntake.uniqueSpanIds()])].sort();
    expect(union).toEqual(spanIds(spans));
    const seen = firstIntake.accepted.length + secondIntake.accepted.length;
    const duplicates = seen - spans.length;
    expect(duplicates).toBeGreaterThanOrEqual(0);
    // Records are handed over once per delivery: the second instance saw at most what the first did not commit.
    expect(second.counters().records + first.counters().recordsCommitted).toBeGreaterThanOrEqual(records.length);
  });

  it('loses nothing when a second instance joins while the first waits on a full intake and the group rebalances', async () => {
    const topic = await freshTopic('rebalance');
    const spans = makeSdkSpans({ traces: 20, spansPerTrace: 3 });
    const records = scatteredRequests(spans, 'otlp_proto', { spansPerRequest: 2, partitions: 3 });
    // Many small record batches and small fetches: plenty is left on every partition after two batches.
    await produceOneByOne(topic, records);
    const groupId = freshGroup();

    // The first instance takes two batches, then stalls on a full intake until the second has
    // joined: the rebalance reaches it through a heartbeat during the wait.
    let secondJoined = false;
    const intakeA = new RecordingIntake((call) =>
      call <= 2 || secondJoined ? { status: 'accepted' } : { status: 'full', retryAfterMs: 100, reason: 'trace buffer full (test)' },
    );
    const intakeB = new RecordingIntake();
    const options = { maxBytesPerPartition: 256, sessionTimeoutMs: 6_000 };
    const a = source(topic, groupId, intakeA, options);
    const b = source(topic, groupId, intakeB, options);
    await a.start();
    await eventually('the first instance is stalled', () => intakeA.refused.length >= 1);
    await b.start();
    secondJoined = true;
    await eventually('the union is everything', () => new Set([...intakeA.uniqueSpanIds(), ...intakeB.uniqueSpanIds()]).size >= spans.length);
    await eventually('offsets committed to the end', async () => {
      const { committed, end } = await offsets(topic, groupId);
      return JSON.stringify(committed) === JSON.stringify(end);
    });
    await Promise.all([a.stop(), b.stop()]);

    expect([...new Set([...intakeA.uniqueSpanIds(), ...intakeB.uniqueSpanIds()])].sort()).toEqual(spanIds(spans));
    expect(intakeB.accepted.length).toBeGreaterThan(0);
    expect(a.counters().groupJoins).toBeGreaterThanOrEqual(2);
    expect(a.counters().intakeFull).toBeGreaterThanOrEqual(1);
    // Both took whole batches only: every record was committed by one of them at least once.
    expect(a.counters().recordsCommitted + b.counters().recordsCommitted).toBeGreaterThanOrEqual(records.length);
  }, 60_000);

  it('skips a malformed record and a tombstone in the middle: counted, handed to onPoison, logged once, the rest consumed', async () => {
    const topic = await freshTopic('poison', 1);
    const spans = makeSdkSpans({ traces: 2, spansPerTrace: 3 });
    const good = scatteredRequests(spans, 'otlp_proto', { spansPerRequest: 2, partitions: 1 });
    // A length-delimited field that claims more bytes than there are.
    const garbage = Buffer.from([0x0a, 0x7f, 0x01, 0x02]);
    const records: Outgoing[] = [good[0], { value: garbage, partition: 0 }, good[1], { value: null, partition: 0 }, good[2]];
    await produceTogether(topic, records);

    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
          done();
        },
      }),
    );
    const poisoned: Array<{ offset: string; reason: PoisonReason; detail: string }> = [];
    const onPoison = (m: PoisonMessage, reason: PoisonReason): void => {
      poisoned.push({ offset: m.offset, reason, detail: m.detail });
    };
    const intake = new RecordingIntake();
    const groupId = freshGroup();
    const src = source(topic, groupId, intake, { logger, onPoison });
    await src.start();
    await eventually('offsets committed to the end', async () => {
      const { committed, end } = await offsets(topic, groupId);
      return JSON.stringify(committed) === JSON.stringify(end);
    });
    await src.stop();

    expect(intake.uniqueSpanIds()).toEqual(spanIds(spans));
    expect(src.counters().poison).toEqual({ malformed: 1, no_value: 1 });
    expect(poisoned.map(({ offset, reason }) => ({ offset, reason }))).toEqual([
      { offset: '1', reason: 'malformed' },
      { offset: '3', reason: 'no_value' },
    ]);
    expect(poisoned[0].detail).toMatch(/otlp_proto/);
    const poisonLines = lines.filter((l) => l.msg === 'skipped Kafka records that are not OTLP trace requests');
    expect(poisonLines).toHaveLength(1);
    expect(poisonLines[0].skipped).toEqual({ malformed: 1, no_value: 1 });
  });

  it('refuses to start on a topic that does not exist, with a KafkaSourceError', async () => {
    const src = source(uniquePrefix('kafka-source-missing'), freshGroup(), new RecordingIntake());
    await expect(src.start()).rejects.toMatchObject({ code: 'KAFKA_SOURCE_FAILED', message: expect.stringMatching(/does not exist/) });
    expect(src.connected()).toBe(false);
  });
});
