import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { kafkajsRetriable, KafkaSink, type TraceRecord, type TraceRecordProducer } from '../../src/forward/kafka-sink.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';

/** A producer without a broker: fails as told, then records what it was given. */
class FakeProducer implements TraceRecordProducer {
  connects = 0;
  disconnects = 0;
  sent: TraceRecord[][] = [];
  constructor(
    private readonly failures: { connect?: unknown[]; send?: unknown[] } = {},
  ) {}
  async connect(): Promise<void> {
    this.connects++;
    const failure = this.failures.connect?.shift();
    if (failure !== undefined) throw failure;
  }
  async send(_topic: string, records: readonly TraceRecord[]): Promise<void> {
    const failure = this.failures.send?.shift();
    if (failure !== undefined) throw failure;
    this.sent.push([...records]);
  }
  async disconnect(): Promise<void> {
    this.disconnects++;
  }
}

const batch: KeptBatch = {
  request: ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces: 3, spansPerTrace: 2 }))!,
  traceCount: 3,
  spanCount: 6,
};

const kafkaError = (message: string, retriable: boolean, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(message), { name: 'KafkaJSProtocolError', retriable, ...extra });

function sinkWith(producer: FakeProducer): KafkaSink {
  return new KafkaSink({
    brokers: ['127.0.0.1:9092'],
    topic: 'sampled',
    encoding: 'otlp_proto',
    producer,
    retry: { initialMs: 1, maxMs: 1, maxElapsedMs: 1_000 },
    retryRuntime: { sleep: async () => undefined },
  });
}

describe('kafkajsRetriable', () => {
  it('reads the flag, and through kafkajs giving up reads the failure that made it give up', () => {
    expect(kafkajsRetriable(kafkaError('leader moved', true))).toBe(true);
    expect(kafkajsRetriable(kafkaError('too large', false))).toBe(false);
    const gaveUp = kafkaError('retries exceeded', false, { name: 'KafkaJSNumberOfRetriesExceeded', cause: kafkaError('leader moved', true) });
    expect(kafkajsRetriable(gaveUp)).toBe(true);
    expect(kafkajsRetriable('not an error')).toBe(false);
  });
});

describe('KafkaSink retries', () => {
  it('retries a retriable failure and a failed connect, then sends one record per trace once', async () => {
    const producer = new FakeProducer({ connect: [kafkaError('Connection refused', true)], send: [kafkaError('NOT_LEADER', true)] });
    const sink = sinkWith(producer);
    await sink.send(batch);
    expect(producer.connects).toBe(2);
    expect(producer.sent).toHaveLength(1);
    expect(producer.sent[0].map((r) => r.key)).toHaveLength(3);
    await sink.close();
    expect(producer.disconnects).toBe(1);
  });

  it('fails at once on a non-retriable failure, with the flag kafkajs gave', async () => {
    const producer = new FakeProducer({ send: [kafkaError('MESSAGE_TOO_LARGE', false)] });
    const sink = sinkWith(producer);
    await expect(sink.send(batch)).rejects.toMatchObject({ retriable: false, code: 'SINK_FAILED' });
    expect(producer.sent).toHaveLength(0);
    await sink.close();
  });

  it('a batch that is not a request fails without touching the producer', async () => {
    const producer = new FakeProducer();
    const sink = sinkWith(producer);
    await expect(sink.send({ request: new Uint8Array([0x0a, 0x7f]), traceCount: 1, spanCount: 1 })).rejects.toMatchObject({ retriable: false });
    expect(producer.connects).toBe(0);
    await sink.close();
    expect(producer.disconnects).toBe(0);
  });
});

describe('KafkaSink records', () => {
  it('takes a batch split by trace as given: one record per trace, its fragments joined', async () => {
    const decoded = decodeProtobufRequest(batch.request);
    if (!decoded.ok) throw decoded.error;
    const [a, b, c] = decoded.value.fragments;
    const producer = new FakeProducer();
    const sink = sinkWith(producer);
    await sink.send({
      ...batch,
      traces: [
        { traceId: a.traceId, fragments: [a.bytes], spanCount: a.spanCount },
        { traceId: b.traceId, fragments: [b.bytes, c.bytes], spanCount: b.spanCount + c.spanCount },
      ],
    });
    expect(producer.sent[0].map((r) => r.key)).toEqual([a.traceId, b.traceId]);
    expect(producer.sent[0].map((r) => Array.from(r.value))).toEqual([Array.from(a.bytes), [...b.bytes, ...c.bytes]]);
    await sink.close();
  });

  it('splits a batch without traces itself, with the same records', async () => {
    const decoded = decodeProtobufRequest(batch.request);
    if (!decoded.ok) throw decoded.error;
    const producer = new FakeProducer();
    const sink = sinkWith(producer);
    await sink.send(batch);
    const split = decoded.value.fragments;
    await sink.send({ ...batch, traces: split.map((f) => ({ traceId: f.traceId, fragments: [f.bytes], spanCount: f.spanCount })) });
    expect(producer.sent[1].map((r) => [r.key, Array.from(r.value)])).toEqual(producer.sent[0].map((r) => [r.key, Array.from(r.value)]));
    await sink.close();
  });
});
