import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PendingCounts } from '../buffer/trace-buffer.js';
import type { RedisBufferCounters } from '../buffer/redis/redis-trace-buffer.js';
import type { SinkQueue } from '../decide/decision-loop.js';
import type { SourceTelemetry } from '../ingest/span-source.js';
import { packageRoot } from '../config/engine-config.js';
import type { EngineStats } from './engine-stats.js';
import type { LagSample } from './kafka-consumer-lag.js';
import { RED_DURATION_BUCKETS_S, type RedSeries } from '../baselines/red-metrics.js';

/**
 * tailsift's own telemetry, declared in one place: every metric's name, type, unit, labels
 * and buckets. README's "Operating tailsift" lists the same table.
 *
 * Counters are read from the counters the stages already keep (EngineStats, the receiver's,
 * the Kafka source's, the Redis buffer's) when /metrics is scraped, so the span path pays
 * nothing for them. Only the three histograms are observed as things happen: once per
 * decided trace, and once per Redis round trip.
 */
export interface MetricDefinition {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** What one unit is: spans, traces, seconds, ... */
  readonly unit: string;
  readonly help: string;
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
}

const counter = (name: string, unit: string, help: string, labels: readonly string[] = []): MetricDefinition => ({ name, type: 'counter', unit, help, labels });
const gauge = (name: string, unit: string, help: string, labels: readonly string[] = []): MetricDefinition => ({ name, type: 'gauge', unit, help, labels });

export const METRICS = {
  spansReceived: counter('tailsift_spans_received_total', 'spans', 'Spans taken into the buffer, by source type.', ['source']),
  spansRejected: counter(
    'tailsift_spans_rejected_total',
    'spans',
    'Spans of requests or batches the engine refused (buffer_full, shutting_down); the sender retries, and a span refused again counts again.',
    ['reason'],
  ),
  httpRequests: counter('tailsift_http_requests_total', 'requests', 'OTLP/HTTP requests by outcome: accepted, rejected (4xx), throttled (503 + Retry-After), unavailable (503), aborted.', ['outcome']),
  httpRequestsRejected: counter(
    'tailsift_http_requests_rejected_total',
    'requests',
    'OTLP/HTTP requests not accepted, by reason: too_large (413), malformed (400), unsupported_media_type (415), buffer_full (503), ...',
    ['reason'],
  ),
  attributeValuesTruncated: counter('tailsift_attribute_values_truncated_total', 'values', 'Attribute values cut to limits.maxAttributeValueLength at intake.'),
  kafkaRecords: counter('tailsift_kafka_records_total', 'records', 'Kafka records handed to the source, redeliveries included.'),
  kafkaRecordsRedelivered: counter('tailsift_kafka_records_redelivered_total', 'records', 'Kafka records delivered again at an offset this instance had already taken (after a rebalance or a failed commit).'),
  kafkaRecordsCommitted: counter('tailsift_kafka_records_committed_total', 'records', 'Kafka records whose offsets were committed: their spans are in the buffer, or they were poison.'),
  kafkaPoisonRecords: counter('tailsift_kafka_poison_records_total', 'records', 'Kafka records skipped because they are not OTLP trace requests, by reason.', ['reason']),
  kafkaIntakeRefusals: counter(
    'tailsift_kafka_intake_refusals_total',
    'batches',
    'Times a Kafka batch was refused by the intake and consumption paused: full (the buffer is at num_traces) or error (the buffer is unreachable).',
    ['kind'],
  ),
  kafkaCommitErrors: counter('tailsift_kafka_commit_errors_total', 'commits', 'Offset commits that failed; the batch is delivered again.'),
  kafkaGroupJoins: counter('tailsift_kafka_group_joins_total', 'joins', 'Times this instance joined its consumer group (the first join and every rebalance).'),
  kafkaPaused: gauge('tailsift_kafka_consumption_paused', '1 or 0', '1 while consumption is paused because the intake refused a batch (backpressure).'),
  kafkaLag: gauge(
    'tailsift_kafka_consumer_lag',
    'records',
    'Records of each partition this instance holds that the consumer group has not committed, sampled periodically; sum over instances for the group.',
    ['topic', 'partition'],
  ),
  tracesPending: gauge('tailsift_traces_pending', 'traces', 'Undecided traces in the buffer (for Redis: the whole shared buffer); NaN while the buffer does not answer.'),
  spansPending: gauge('tailsift_spans_pending', 'spans', 'Spans of the undecided traces in the buffer; NaN while the buffer does not answer.'),
  bufferReachable: gauge('tailsift_buffer_reachable', '1 or 0', '1 when the buffer answered the last scrape, 0 when it did not.'),
  tracesOverLimit: counter(
    'tailsift_traces_over_limit_total',
    'traces',
    'Traces decided early because they reached a per-trace limit of the policy file (max_spans_per_trace, maximum_trace_size_bytes).',
    ['limit'],
  ),
  tracesDecided: counter('tailsift_traces_decided_total', 'traces', 'Decided traces by decision (keep, drop) and the policy that kept or dropped them.', ['policy', 'decision']),
  spansDecided: counter('tailsift_spans_decided_total', 'spans', 'Spans of decided traces, by decision.', ['decision']),
  lateSpans: counter('tailsift_late_spans_total', 'spans', 'Spans that arrived after their trace was decided and followed that decision.', ['decision']),
  duplicateSpans: counter('tailsift_duplicate_spans_total', 'spans', 'Spans received more than once (at-least-once redelivery) and forwarded once.'),
  decisionDelay: {
    name: 'tailsift_decision_delay_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Time from a trace being due to its decision being recorded (for a kept trace: after every sink accepted it).',
    labels: [],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  policyEvaluation: {
    name: 'tailsift_policy_evaluation_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Time the policies took to decide one trace.',
    labels: [],
    buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
  },
  redSpans: counter(
    'tailsift_red_spans_total',
    'spans',
    'RED rate: every span received, before sampling, per service and operation (span name); pairs past baselines.maxOperations count under operation "~overflow".',
    ['service', 'operation'],
  ),
  redErrors: counter('tailsift_red_errors_total', 'spans', 'RED errors: spans with status ERROR, before sampling, per service and operation.', ['service', 'operation']),
  redDuration: {
    name: 'tailsift_red_duration_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'RED duration: span durations before sampling, per service and operation.',
    labels: ['service', 'operation'],
    buckets: RED_DURATION_BUCKETS_S,
  },
  policyReloads: counter('tailsift_policy_reloads_total', 'reloads', 'Policy file changes seen while running: ok (now in effect) or failed (invalid; the policies before stay).', ['result']),
  forwardErrors: counter('tailsift_forward_errors_total', 'batches', 'Batches of kept traces a sink failed to take.', ['sink']),
  sinkQueue: gauge('tailsift_sink_queue_spans', 'spans', 'Kept spans waiting to be accepted by the sink: being sent (retries included), or queued late spans.', ['sink']),
  sinkTracesRejected: counter(
    'tailsift_sink_traces_rejected_total',
    'traces',
    'Kept traces a sink did not send because the destination would refuse them, by sink and reason (X-Ray: trace_id_too_old, trace_id_in_future, span_time_too_old, span_time_in_future, trace_too_large); each is also logged at warn with its trace id.',
    ['sink', 'reason'],
  ),
  tracesRetried: counter('tailsift_traces_retried_total', 'traces', 'Kept traces given back to the buffer because a sink could not take them; they are sent again later.'),
  redisRoundTrip: {
    name: 'tailsift_redis_roundtrip_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Round trips to Redis by buffer operation (append, claimDue, complete, release, pending, ...), failed ones included.',
    labels: ['operation'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  redisLeasesLost: counter('tailsift_redis_leases_lost_total', 'traces', 'Claimed traces whose lease expired before this instance finished them; another instance decides them.'),
  redisEnvelopesMissing: counter('tailsift_redis_envelopes_missing_total', 'fragments', 'Fragments forwarded without their Resource or scope because its stored copy had expired.'),
  buildInfo: gauge('tailsift_build_info', '1', 'Always 1; the version label says which tailsift runs.', ['version']),
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** What the collectors read; attached once the engine's parts exist. */
export interface MetricsSources {
  readonly stats: EngineStats;
  readonly source: () => SourceTelemetry;
  readonly pending: () => Promise<PendingCounts>;
  readonly sinkQueue: () => SinkQueue;
  readonly sinkNames: readonly string[];
  /** The Redis buffer's counters, when the buffer is Redis. */
  readonly redis?: () => RedisBufferCounters;
  /** The latest Kafka lag sample, when the source is Kafka. */
  readonly kafkaLag?: () => LagSample | undefined;
  readonly kafkaTopic?: string;
  /** RED series from the baselines stage (100% of spans, cardinality-capped). */
  readonly red?: () => readonly RedSeries[];
  /** Traces each sink held back because its destination would refuse them: sink name → reason → traces. */
  readonly sinkTracesRejected?: () => ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** Counts of a policy hot-reload watcher (its `counters()`). */
export interface ReloadCounts {
  readonly reloads: number;
  readonly failures: number;
}

export interface EngineMetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC) from prom-client. Default true. */
  readonly processMetrics?: boolean;
}

/**
 * The registry behind GET /metrics, one per engine (engines in one process do not share it).
 * The histograms are exposed for the stages to observe; everything else is read on scrape.
 */
export class EngineMetrics {
  readonly registry = new Registry();
  readonly decisionDelay: Histogram;
  readonly policyEvaluation: Histogram;
  readonly redisRoundTrip: Histogram<'operation'>;
  private sources: MetricsSources | undefined;
  private reloads: (() => ReloadCounts) | undefined;
  private pendingRead: Promise<PendingCounts | undefined> | undefined;

  constructor(options: EngineMetricsOptions = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.decisionDelay = this.histogram(METRICS.decisionDelay);
    this.policyEvaluation = this.histogram(METRICS.policyEvaluation);
    this.redisRoundTrip = this.histogram(METRICS.redisRoundTrip) as Histogram<'operation'>;
    this.registerRed();

    const version = packageVersion();
    this.gauge(METRICS.buildInfo, (g) => g.set({ version }, 1));

    this.counter(METRICS.spansReceived, (c, s) => set(c, { source: s.source().type }, s.stats.spansReceived));
    this.counter(METRICS.spansRejected, (c, s) => setEach(c, 'reason', s.stats.spansRejected));
    this.counter(METRICS.httpRequests, (c, s) => {
      const t = s.source();
      if (t.type === 'otlp-http') setEach(c, 'outcome', t.receiver.requests);
    });
    this.counter(METRICS.httpRequestsRejected, (c, s) => {
      const t = s.source();
      if (t.type === 'otlp-http') setEach(c, 'reason', t.receiver.rejected);
    });
    this.counter(METRICS.attributeValuesTruncated, (c, s) => set(c, {}, s.stats.attributeValuesTruncated));
    this.kafkaCounter(METRICS.kafkaRecords, (c, k) => set(c, {}, k.kafka.records));
    this.kafkaCounter(METRICS.kafkaRecordsRedelivered, (c, k) => set(c, {}, k.kafka.recordsRedelivered));
    this.kafkaCounter(METRICS.kafkaRecordsCommitted, (c, k) => set(c, {}, k.kafka.recordsCommitted));
    this.kafkaCounter(METRICS.kafkaPoisonRecords, (c, k) => setEach(c, 'reason', k.kafka.poison));
    this.kafkaCounter(METRICS.kafkaIntakeRefusals, (c, k) => {
      set(c, { kind: 'full' }, k.kafka.intakeFull);
      set(c, { kind: 'error' }, k.kafka.intakeErrors);
    });
    this.kafkaCounter(METRICS.kafkaCommitErrors, (c, k) => set(c, {}, k.kafka.commitErrors));
    this.kafkaCounter(METRICS.kafkaGroupJoins, (c, k) => set(c, {}, k.kafka.groupJoins));
    this.gauge(METRICS.kafkaPaused, (g, s) => {
      const t = s.source();
      if (t.type === 'kafka') g.set(t.paused ? 1 : 0);
    });
    this.gauge(METRICS.kafkaLag, (g, s) => {
      const sample = s.kafkaLag?.();
      if (sample === undefined) return;
      for (const [partition, lag] of sample.partitions) g.set({ topic: s.kafkaTopic ?? '', partition: String(partition) }, lag);
    });

    // A buffer that does not answer must not fail the scrape: the pending gauges read NaN
    // (unknown, not 0) and tailsift_buffer_reachable says why.
    this.gauge(METRICS.tracesPending, async (g, s) => g.set((await this.pendingOnce(s))?.traces ?? NaN));
    this.gauge(METRICS.spansPending, async (g, s) => g.set((await this.pendingOnce(s))?.spans ?? NaN));
    this.gauge(METRICS.bufferReachable, async (g, s) => g.set((await this.pendingOnce(s)) === undefined ? 0 : 1));
    this.counter(METRICS.tracesOverLimit, (c, s) => setEach(c, 'limit', s.stats.tracesOverLimit));
    this.counter(METRICS.tracesDecided, (c, s) => {
      for (const [policy, n] of s.stats.tracesKept) set(c, { policy, decision: 'keep' }, n);
      for (const [policy, n] of s.stats.tracesDropped) set(c, { policy, decision: 'drop' }, n);
    });
    this.counter(METRICS.spansDecided, (c, s) => {
      set(c, { decision: 'keep' }, s.stats.spansKept);
      set(c, { decision: 'drop' }, s.stats.spansDropped);
    });
    this.counter(METRICS.lateSpans, (c, s) => {
      set(c, { decision: 'keep' }, s.stats.lateSpansKept);
      set(c, { decision: 'drop' }, s.stats.lateSpansDropped);
    });
    this.counter(METRICS.duplicateSpans, (c, s) => set(c, {}, s.stats.duplicateSpans));
    this.counter(METRICS.policyReloads, (c) => {
      const r = this.reloads?.();
      if (r === undefined) return;
      set(c, { result: 'ok' }, r.reloads);
      set(c, { result: 'failed' }, r.failures);
    });
    this.counter(METRICS.forwardErrors, (c, s) => {
      for (const sink of s.sinkNames) set(c, { sink }, s.stats.forwardErrors.get(sink) ?? 0);
    });
    this.gauge(METRICS.sinkQueue, (g, s) => {
      const q = s.sinkQueue();
      for (const sink of s.sinkNames) g.set({ sink }, (q.sending.get(sink) ?? 0) + q.lateSpans);
    });
    this.counter(METRICS.tracesRetried, (c, s) => set(c, {}, s.stats.tracesRetried));
    this.counter(METRICS.sinkTracesRejected, (c, s) => {
      for (const [sink, reasons] of s.sinkTracesRejected?.() ?? []) {
        for (const [reason, n] of reasons) set(c, { sink, reason }, n);
      }
    });
    this.counter(METRICS.redisLeasesLost, (c, s) => {
      const r = s.redis?.();
      if (r !== undefined) set(c, {}, r.leasesLost);
    });
    this.counter(METRICS.redisEnvelopesMissing, (c, s) => {
      const r = s.redis?.();
      if (r !== undefined) set(c, {}, r.envelopesMissing);
    });
  }

  /**
   * The RED series are kept as cumulative counts by the baselines stage, so they are exposed
   * as they are at scrape time: a counter or histogram of prom-client would need every span
   * observed again.
   */
  private registerRed(): void {
    const series = (): readonly RedSeries[] => this.sources?.red?.() ?? [];
    const collected = (def: MetricDefinition, values: () => { value: number; labels: Record<string, string | number>; metricName?: string }[]) => ({
      name: def.name,
      help: def.help,
      type: def.type,
      aggregator: 'sum',
      get: async () => ({ name: def.name, help: def.help, type: def.type, aggregator: 'sum', values: values() }),
      reset: () => undefined,
    });
    const labels = (r: RedSeries) => ({ service: r.service, operation: r.operation });
    this.registry.registerMetric(collected(METRICS.redSpans, () => series().map((r) => ({ value: r.requests, labels: labels(r) }))) as never);
    this.registry.registerMetric(collected(METRICS.redErrors, () => series().map((r) => ({ value: r.errors, labels: labels(r) }))) as never);
    const name = METRICS.redDuration.name;
    this.registry.registerMetric(
      collected(METRICS.redDuration, () =>
        series().flatMap((r) => [
          ...RED_DURATION_BUCKETS_S.map((le, i) => ({ metricName: `${name}_bucket`, value: r.durationBuckets[i], labels: { ...labels(r), le } })),
          { metricName: `${name}_bucket`, value: r.requests, labels: { ...labels(r), le: '+Inf' } },
          { metricName: `${name}_sum`, value: r.durationSecondsSum, labels: labels(r) },
          { metricName: `${name}_count`, value: r.requests, labels: labels(r) },
        ]),
      ) as never,
    );
  }

  /** Connects the collectors to the engine's parts; until then only histograms and process metrics show. */
  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** Feeds `tailsift_policy_reloads_total` from a policy watcher's counters. */
  trackPolicyReloads(counts: () => ReloadCounts): void {
    this.reloads = counts;
  }

  /** The Prometheus text exposition, for GET /metrics. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** One buffer read shared by the gauges of one scrape (they collect concurrently). */
  private pendingOnce(s: MetricsSources): Promise<PendingCounts | undefined> {
    if (this.pendingRead === undefined) {
      const read = s.pending().catch(() => undefined);
      this.pendingRead = read;
      void read.then(() => setImmediate(() => {
        if (this.pendingRead === read) this.pendingRead = undefined;
      }));
    }
    return this.pendingRead;
  }

  private counter(def: MetricDefinition, collect: (c: Counter, s: MetricsSources) => void): Counter {
    const metric: Counter = new Counter({
      name: def.name,
      help: def.help,
      labelNames: [...def.labels],
      registers: [this.registry],
      collect: () => {
        // Values are copied from the stages' own counters: start from nothing each scrape.
        metric.reset();
        if (this.sources !== undefined) collect(metric, this.sources);
      },
    });
    return metric;
  }

  private kafkaCounter(def: MetricDefinition, collect: (c: Counter, k: Extract<SourceTelemetry, { type: 'kafka' }>) => void): Counter {
    return this.counter(def, (c, s) => {
      const t = s.source();
      if (t.type === 'kafka') collect(c, t);
    });
  }

  private gauge(def: MetricDefinition, collect: (g: Gauge, s: MetricsSources) => void | Promise<void>): Gauge {
    const metric: Gauge = new Gauge({
      name: def.name,
      help: def.help,
      labelNames: [...def.labels],
      registers: [this.registry],
      collect: async () => {
        metric.reset();
        if (this.sources !== undefined) await collect(metric, this.sources);
      },
    });
    return metric;
  }

  private histogram(def: MetricDefinition): Histogram {
    return new Histogram({ name: def.name, help: def.help, labelNames: [...def.labels], buckets: [...(def.buckets ?? [])], registers: [this.registry] });
  }
}

function set(c: Counter, labels: Record<string, string>, value: number): void {
  c.inc(labels, value);
}

function setEach(c: Counter, label: string, values: ReadonlyMap<string, number> | Readonly<Record<string, number>>): void {
  const entries = values instanceof Map ? [...values.entries()] : Object.entries(values);
  for (const [key, value] of entries) c.inc({ [label]: key }, value);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
