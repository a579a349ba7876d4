import { RED_DURATION_BUCKETS_S } from '../../src/baselines/red-metrics.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SourceTelemetry } from '../../src/ingest/span-source.js';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { EngineMetrics, METRICS, type MetricsSources } from '../../src/telemetry/metrics.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const kafkaTelemetry = (paused: boolean): SourceTelemetry => ({
  type: 'kafka',
  paused,
  assignment: [0, 1],
  kafka: {
    records: 10,
    recordsRedelivered: 1,
    recordsCommitted: 9,
    spansAccepted: 30,
    batchesCommitted: 3,
    poison: { malformed: 2, no_value: 0 },
    intakeFull: 4,
    intakeErrors: 1,
    poisonHandlerErrors: 0,
    commitErrors: 0,
    batchesAbandoned: 0,
    groupJoins: 2,
  },
});

function sources(stats: EngineStats, overrides: Partial<MetricsSources> = {}): MetricsSources {
  return {
    stats,
    source: () => kafkaTelemetry(false),
    pending: async () => ({ traces: 7, spans: 21 }),
    sinkQueue: () => ({ lateSpans: 2, sending: new Map([['file kept.jsonl', 5]]) }),
    sinkNames: ['file kept.jsonl'],
    kafkaLag: () => ({ atMs: Date.now(), partitions: new Map([[0, 12], [1, 0]]), total: 12 }),
    kafkaTopic: 'spans',
    ...overrides,
  };
}

async function samples(metrics: EngineMetrics) {
  return parsePrometheusText((await metrics.expose()).body);
}

describe('EngineMetrics', () => {
  it('declares every metric it exposes, under its declared name and type', async () => {
    const metrics = new EngineMetrics({ processMetrics: false });
    metrics.attach(sources(new EngineStats()));
    const { body, contentType } = await metrics.expose();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const declared = body.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.slice('# TYPE '.length));
    expect(new Set(declared)).toEqual(new Set(Object.values(METRICS).map((m) => `${m.name} ${m.type}`)));
  });

  it('reads the stages\' counters at scrape time, without adding them up twice', async () => {
    const stats = new EngineStats();
    const metrics = new EngineMetrics({ processMetrics: false });
    metrics.attach(sources(stats));
    stats.spansReceived = 30;
    stats.count(stats.spansRejected, 'buffer_full', 6);
    stats.count(stats.tracesKept, 'errors', 3);
    stats.count(stats.tracesDropped, EngineStats.NO_MATCH, 9);
    stats.count(stats.tracesOverLimit, 'max_spans_per_trace');
    stats.count(stats.forwardErrors, 'file kept.jsonl', 2);

    for (let scrape = 0; scrape < 2; scrape++) {
      const s = await samples(metrics);
      expect(sampleValue(s, 'tailsift_spans_received_total', { source: 'kafka' })).toBe(30);
      expect(sampleValue(s, 'tailsift_spans_rejected_total', { reason: 'buffer_full' })).toBe(6);
      expect(sampleValue(s, 'tailsift_traces_decided_total', { policy: 'errors', decision: 'keep' })).toBe(3);
      expect(sampleValue(s, 'tailsift_traces_decided_total', { policy: '(no policy matched)', decision: 'drop' })).toBe(9);
      expect(sampleValue(s, 'tailsift_traces_over_limit_total', { limit: 'max_spans_per_trace' })).toBe(1);
      expect(sampleValue(s, 'tailsift_forward_errors_total', { sink: 'file kept.jsonl' })).toBe(2);
      expect(sampleValue(s, 'tailsift_sink_queue_spans', { sink: 'file kept.jsonl' })).toBe(7);
      expect(sampleValue(s, 'tailsift_traces_pending')).toBe(7);
      expect(sampleValue(s, 'tailsift_spans_pending')).toBe(21);
      expect(sampleValue(s, 'tailsift_kafka_records_total')).toBe(10);
      expect(sampleValue(s, 'tailsift_kafka_poison_records_total', { reason: 'malformed' })).toBe(2);
      expect(sampleValue(s, 'tailsift_kafka_intake_refusals_total', { kind: 'full' })).toBe(4);
      expect(sampleValue(s, 'tailsift_kafka_intake_refusals_total', { kind: 'error' })).toBe(1);
      expect(sampleValue(s, 'tailsift_kafka_consumer_lag', { topic: 'spans', partition: '0' })).toBe(12);
      expect(sampleValue(s, 'tailsift_kafka_consumption_paused')).toBe(0);
    }
    stats.spansReceived = 45;
    expect(sampleValue(await samples(metrics), 'tailsift_spans_received_total', { source: 'kafka' })).toBe(45);
  });

  it('still answers when the buffer does not, and says so', async () => {
    const metrics = new EngineMetrics({ processMetrics: false });
    metrics.attach(
      sources(new EngineStats(), {
        pending: async () => {
          throw new Error('Redis is down');
        },
      }),
    );
    const s = await samples(metrics);
    expect(sampleValue(s, 'tailsift_buffer_reachable')).toBe(0);
    expect(sampleValue(s, 'tailsift_traces_pending')).toBeNaN();
  });

  it('counts policy reloads from a watcher\'s counters', async () => {
    const metrics = new EngineMetrics({ processMetrics: false });
    metrics.attach(sources(new EngineStats()));
    expect(sampleValue(await samples(metrics), 'tailsift_policy_reloads_total', { result: 'ok' })).toBeUndefined();
    let counts = { reloads: 1, failures: 0 };
    metrics.trackPolicyReloads(() => counts);
    expect(sampleValue(await samples(metrics), 'tailsift_policy_reloads_total', { result: 'ok' })).toBe(1);
    counts = { reloads: 2, failures: 3 };
    const s = await samples(metrics);
    expect(sampleValue(s, 'tailsift_policy_reloads_total', { result: 'ok' })).toBe(2);
    expect(sampleValue(s, 'tailsift_policy_reloads_total', { result: 'failed' })).toBe(3);
  });

  it('observes the histograms in seconds, in their declared buckets', async () => {
    const metrics = new EngineMetrics({ processMetrics: false });
    metrics.decisionDelay.observe(0.2);
    metrics.decisionDelay.observe(3);
    metrics.redisRoundTrip.observe({ operation: 'append' }, 0.002);
    const s = await samples(metrics);
    expect(sampleValue(s, 'tailsift_decision_delay_seconds_bucket', { le: '0.25' })).toBe(1);
    expect(sampleValue(s, 'tailsift_decision_delay_seconds_bucket', { le: '5' })).toBe(2);
    expect(sampleValue(s, 'tailsift_decision_delay_seconds_sum')).toBeCloseTo(3.2);
    expect(sampleValue(s, 'tailsift_redis_roundtrip_seconds_bucket', { operation: 'append', le: '0.0025' })).toBe(1);
  });

  it('exposes the RED series of the baselines as counters and a histogram', async () => {
    const metrics = new EngineMetrics({ processMetrics: false });
    const buckets = RED_DURATION_BUCKETS_S.map((le) => (le >= 0.1 ? 10 : le >= 0.05 ? 4 : 0));
    metrics.attach({
      ...sources(new EngineStats()),
      red: () => [{ service: 'checkout', operation: 'POST /pay', requests: 10, errors: 3, durationSecondsSum: 0.9, durationBuckets: buckets }],
    });
    const { body } = await metrics.expose();
    expect(body).toContain('tailsift_red_spans_total{service="checkout",operation="POST /pay"} 10');
    expect(body).toContain('tailsift_red_errors_total{service="checkout",operation="POST /pay"} 3');
    expect(body).toContain('tailsift_red_duration_seconds_bucket{service="checkout",operation="POST /pay",le="0.05"} 4');
    expect(body).toContain('tailsift_red_duration_seconds_bucket{service="checkout",operation="POST /pay",le="+Inf"} 10');
    expect(body).toContain('tailsift_red_duration_seconds_sum{service="checkout",operation="POST /pay"} 0.9');
    expect(body).toContain('tailsift_red_duration_seconds_count{service="checkout",operation="POST /pay"} 10');
  });

  it('are each documented in README with their unit', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const m of Object.values(METRICS)) {
      const labels = m.labels.length === 0 ? '' : `{${m.labels.join(',')}}`;
      expect(readme).toContain(`| \`${m.name}${labels}\` | ${m.type} | ${m.unit} |`);
    }
  });
});
