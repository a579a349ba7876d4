import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import type { BatchControl, BatchHandler, FetchedBatch, GroupConsumer, GroupStatusEvent } from '../../src/ingest/kafka-group-consumer.js';
import { decodeKafkaBatch, mergeDecodedRequests } from '../../src/ingest/kafka-message-decoding.js';
import { KafkaSource, type KafkaSourceOptions } from '../../src/ingest/kafka-source.js';
import type { IntakeResult } from '../../src/ingest/otlp-http-receiver.js';
import { decodeProtobufRequest } from '../../src/otlp/index.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans } from './sdk-spans.js';

/** A group consumer without a broker: the test hands batches over and watches what the source does. */
class FakeConsumer implements GroupConsumer {
  handler: BatchHandler | undefined;
  pauses = 0;
  resumes = 0;
  heartbeats = 0;
  commits: Array<{ partition: number; lastOffset: string }> = [];
  stopped = false;
  /** When set, heartbeats reject with it (a rebalance). */
  heartbeatError: Error | undefined;
  startError: Error | undefined;
  private readonly listeners: Array<(e: GroupStatusEvent) => void> = [];
  private inFlight: Promise<void> = Promise.resolve();

  async start(handler: BatchHandler): Promise<void> {
    if (this.startError) throw this.startError;
    this.handler = handler;
    this.emit({ type: 'joined', partitions: [0, 1, 2] });
  }
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.inFlight.catch(() => undefined);
    this.emit({ type: 'stopped' });
  }
  onStatus(listener: (e: GroupStatusEvent) => void): void {
    this.listeners.push(listener);
  }
  emit(event: GroupStatusEvent): void {
    for (const l of this.listeners) l(event);
  }

  /** Hands a batch to the source, as kafkajs would; resolves or rejects with the handler. */
  deliver(batch: FetchedBatch): Promise<void> {
    const control: BatchControl = {
      heartbeat: async () => {
        this.heartbeats++;
        if (this.heartbeatError) throw this.heartbeatError;
      },
      commit: async () => {
        this.commits.push({ partition: batch.partition, lastOffset: batch.records[batch.records.length - 1].offset });
      },
      isActive: () => !this.stopped,
    };
    const run = this.handler!(batch, control);
    this.inFlight = run;
    return run;
  }
}

function requestBytes(traces: number, spansPerTrace: number): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces, spansPerTrace }))!);
}

function batchOf(values: Array<Buffer | null>, partition = 0, firstOffset = 0): FetchedBatch {
  return {
    topic: 'spans',
    partition,
    records: values.map((value, i) => ({ offset: String(firstOffset + i), key: null, value })),
  };
}

function build(consumer: FakeConsumer, intake: (d: DecodedRequest) => Promise<IntakeResult>, extra: Partial<KafkaSourceOptions> = {}): KafkaSource {
  return new KafkaSource({
    brokers: ['127.0.0.1:9092'],
    topic: 'spans',
    groupId: 'tailsift',
    encoding: 'otlp_proto',
    intake,
    logger: silentLogger,
    consumer,
    sessionTimeoutMs: 250,
    retry: { initialMs: 5, maxMs: 20 },
    ...extra,
  });
}

const full: IntakeResult = { status: 'full', retryAfterMs: 5, reason: 'full (test)' };
const accepted: IntakeResult = { status: 'accepted' };

describe('decodeKafkaBatch', () => {
  it('merges the good records into one request and returns the rest as poison with a reason', () => {
    const a = requestBytes(2, 2);
    const b = requestBytes(1, 3);
    const records = batchOf([a, Buffer.from([0x0a, 0x7f]), b, null]).records;
    const decoded = decodeKafkaBatch(records, 'otlp_proto');
    expect(decoded.decodedRecords).toBe(2);
    expect(decoded.request?.spanCount).toBe(7);
    expect(decoded.request?.spans).toHaveLength(7);
    expect(decoded.request?.fragments.map((f) => f.traceId)).toHaveLength(3);
    expect(decoded.poison.map((p) => [p.record.offset, p.reason])).toEqual([
      ['1', 'malformed'],
      ['3', 'no_value'],
    ]);
  });

  it('reads otlp_json values, and calls a protobuf value malformed there', () => {
    const json = Buffer.from(JSON.stringify({ resourceSpans: [] }));
    const decoded = decodeKafkaBatch(batchOf([json, requestBytes(1, 1)]).records, 'otlp_json');
    expect(decoded.decodedRecords).toBe(1);
    expect(decoded.poison.map((p) => p.reason)).toEqual(['malformed']);
  });

  it('merging keeps every span and fragment in order', () => {
    const parts = [requestBytes(1, 2), requestBytes(2, 1)].map((bytes) => {
      const r = decodeProtobufRequest(bytes);
      if (!r.ok) throw r.error;
      return r.value;
    });
    const merged = mergeDecodedRequests(parts);
    expect(merged.spanCount).toBe(4);
    expect(merged.spans.map((s) => s.spanId)).toEqual([...parts[0].spans, ...parts[1].spans].map((s) => s.spanId));
    expect(merged.fragments).toEqual([...parts[0].fragments, ...parts[1].fragments]);
  });
});

describe('KafkaSource with a stand-in consumer', () => {
  it('pauses once while the intake is full, heartbeats through the waits, resumes and commits once it accepts', async () => {
    const consumer = new FakeConsumer();
    let calls = 0;
    const source = build(consumer, async () => (++calls <= 3 ? full : accepted));
    await source.start();
    await consumer.deliver(batchOf([requestBytes(1, 2)]));
    expect(calls).toBe(4);
    expect(consumer.pauses).toBe(1);
    expect(consumer.resumes).toBe(1);
    expect(consumer.heartbeats).toBeGreaterThanOrEqual(1);
    expect(consumer.commits).toEqual([{ partition: 0, lastOffset: '0' }]);
    expect(source.counters()).toMatchObject({ intakeFull: 3, spansAccepted: 2, recordsCommitted: 1 });
    await source.stop();
  });

  it('stop during a refused batch: the attempt in flight ends, nothing is committed, stop resolves', async () => {
    const consumer = new FakeConsumer();
    let refusals = 0;
    const source = build(consumer, async () => {
      refusals++;
      return { status: 'full', retryAfterMs: 60_000, reason: 'full (test)' };
    });
    await source.start();
    const handled = consumer.deliver(batchOf([requestBytes(1, 1)]));
    while (refusals === 0) await new Promise((r) => setImmediate(r));
    await source.stop();
    await handled;
    expect(consumer.commits).toEqual([]);
    expect(consumer.resumes).toBe(consumer.pauses);
    expect(source.counters()).toMatchObject({ batchesAbandoned: 1, recordsCommitted: 0 });
    expect(source.connected()).toBe(false);
  });

  it('a rejected heartbeat (rebalance) propagates, the topic is resumed and nothing is committed', async () => {
    const consumer = new FakeConsumer();
    const source = build(consumer, async () => full);
    await source.start();
    const rebalancing = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    consumer.heartbeatError = rebalancing;
    await expect(consumer.deliver(batchOf([requestBytes(1, 1)]))).rejects.toBe(rebalancing);
    expect(consumer.commits).toEqual([]);
    expect(consumer.pauses).toBe(1);
    expect(consumer.resumes).toBe(1);
    await source.stop();
  });

  it('counts a record redelivered after its spans were accepted', async () => {
    const consumer = new FakeConsumer();
    const source = build(consumer, async () => accepted);
    await source.start();
    const bytes = requestBytes(1, 1);
    await consumer.deliver(batchOf([bytes, bytes], 1, 10));
    await consumer.deliver(batchOf([bytes, bytes, bytes], 1, 11));
    expect(source.counters()).toMatchObject({ records: 5, recordsRedelivered: 1, recordsCommitted: 5 });
    await source.stop();
  });

  it('a poison handler that fails is called again before the offset moves; the record is counted once', async () => {
    const consumer = new FakeConsumer();
    const calls: string[] = [];
    const source = build(consumer, async () => accepted, {
      onPoison: (message, reason) => {
        calls.push(`${message.offset}:${reason}`);
        if (calls.length === 1) throw new Error('dead-letter topic unavailable (test)');
      },
    });
    await source.start();
    await consumer.deliver(batchOf([requestBytes(1, 1), null]));
    expect(calls).toEqual(['1:no_value', '1:no_value']);
    expect(source.counters()).toMatchObject({ poison: { malformed: 0, no_value: 1 }, poisonHandlerErrors: 1, recordsCommitted: 2 });
    expect(consumer.commits).toHaveLength(1);
    await source.stop();
  });

  it('a batch of poison only is committed without calling the intake', async () => {
    const consumer = new FakeConsumer();
    let intakeCalls = 0;
    const source = build(consumer, async () => {
      intakeCalls++;
      return accepted;
    });
    await source.start();
    await consumer.deliver(batchOf([Buffer.from('not protobuf at all')]));
    expect(intakeCalls).toBe(0);
    expect(consumer.commits).toHaveLength(1);
    expect(source.counters().poison.malformed).toBe(1);
    await source.stop();
  });

  it('start failures become a KafkaSourceError carrying the retriable flag of the original failure', async () => {
    const consumer = new FakeConsumer();
    const cause = Object.assign(new Error('Connection refused'), { name: 'KafkaJSConnectionError', retriable: true });
    consumer.startError = Object.assign(new Error('gave up'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause });
    const source = build(consumer, async () => accepted);
    await expect(source.start()).rejects.toMatchObject({ code: 'KAFKA_SOURCE_FAILED', retriable: true });
    await source.stop();
    await expect(source.start()).rejects.toMatchObject({ code: 'KAFKA_SOURCE_FAILED', retriable: false });
  });

  it('a crash without restart leaves the source disconnected', async () => {
    const consumer = new FakeConsumer();
    const source = build(consumer, async () => accepted);
    await source.start();
    expect(source.connected()).toBe(true);
    consumer.emit({ type: 'crashed', error: new Error('restarting (test)'), restarting: true });
    expect(source.connected()).toBe(false);
    consumer.emit({ type: 'joined', partitions: [0] });
    expect(source.connected()).toBe(true);
    consumer.emit({ type: 'crashed', error: new Error('fatal (test)'), restarting: false });
    consumer.emit({ type: 'joined', partitions: [0] });
    expect(source.connected()).toBe(false);
    await source.stop();
  });
});
