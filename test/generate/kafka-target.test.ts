import { describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors.js';
import { runGenerate, type KafkaPublisher, type KafkaRecord } from '../../src/generate/index.js';
import { byTrace, spansFromJson, spansFromProtobuf, type FlatSpan } from './otlp-reader.js';

/** Stands in for a broker: keeps what was published, and can refuse the first attempts. */
function fakeBroker(failFirst = 0, retriable = true) {
  const published: { topic: string; records: readonly KafkaRecord[] }[] = [];
  const events: string[] = [];
  let attempts = 0;
  const publisher: KafkaPublisher = {
    connect: async () => {
      events.push('connect');
    },
    publish: async (topic, records) => {
      if (attempts++ < failFirst) throw new SinkError('kafka', 'NOT_LEADER_FOR_PARTITION', { retriable });
      published.push({ topic, records });
    },
    disconnect: async () => {
      events.push('disconnect');
    },
  };
  return { published, events, factory: (brokers: readonly string[]) => (events.push(brokers.join(',')), publisher) };
}

const run = (target: string, broker: ReturnType<typeof fakeBroker>) =>
  runGenerate({
    target,
    scenario: 'shop',
    rate: 20,
    durationSeconds: 0.5,
    seed: 12,
    tickMs: 50,
    kafkaPublisher: broker.factory,
    retry: { initialBackoffMs: 5 },
  });

describe('Kafka target', () => {
  it('writes one unkeyed otlp_proto record per export by default', async () => {
    const broker = fakeBroker();
    const summary = await run('kafka://127.0.0.1:9092,127.0.0.1:9093/otlp_spans', broker);
    expect(broker.events[0]).toBe('127.0.0.1:9092,127.0.0.1:9093');
    expect(broker.events.slice(1)).toEqual(['connect', 'disconnect']);
    const records = broker.published.flatMap((p) => p.records);
    expect(broker.published.every((p) => p.topic === 'otlp_spans' && p.records.length === 1)).toBe(true);
    expect(records.every((r) => r.key === null)).toBe(true);
    expect(records).toHaveLength(summary.requests);
    const spans = records.flatMap((r, i) => spansFromProtobuf(r.value, i));
    expect(spans).toHaveLength(summary.spans);
    // An export mixes traces, as a service's batch does.
    expect(records.some((r) => new Set(spansFromProtobuf(r.value, 0).map((s) => s.traceId)).size > 1)).toBe(true);
  });

  it('with key=trace_id splits each export per trace and keys records by the trace id', async () => {
    const broker = fakeBroker();
    const summary = await run('kafka://127.0.0.1:9092/spans?key=trace_id&encoding=otlp_json', broker);
    const records = broker.published.flatMap((p) => p.records);
    expect(records).toHaveLength(summary.requests);
    const all: FlatSpan[] = [];
    for (const [i, record] of records.entries()) {
      const spans = spansFromJson(record.value.toString('utf8'), i);
      expect(record.key).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([record.key]));
      all.push(...spans);
    }
    expect(all).toHaveLength(summary.spans);
    // Several records per trace still: one per service export that held some of its spans.
    const perTrace = [...byTrace(all).values()].map((spans) => new Set(spans.map((s) => s.request)).size);
    expect(perTrace.filter((n) => n > 1).length).toBeGreaterThan(0);
  });

  it('retries retriable publish errors and gives up on others, counting both', async () => {
    const flaky = fakeBroker(2, true);
    const recovered = await run('kafka://127.0.0.1:9092/spans', flaky);
    expect(recovered.retries).toBe(2);
    expect(recovered.failedRequests).toBe(0);
    expect(flaky.published.flatMap((p) => p.records).flatMap((r, i) => spansFromProtobuf(r.value, i))).toHaveLength(recovered.spans);

    const broken = fakeBroker(1, false);
    const failed = await run('kafka://127.0.0.1:9092/spans', broken);
    expect(failed.retries).toBe(0);
    expect(failed.failedRequests).toBe(1);
    expect(failed.lastError).toContain('NOT_LEADER_FOR_PARTITION');
    const delivered = broken.published.flatMap((p) => p.records).flatMap((r, i) => spansFromProtobuf(r.value, i));
    expect(delivered.length + failed.failedSpans).toBe(failed.spans);
  });
});
