import type { Clock } from './clock.js';
import { wallClock } from './clock.js';
import type { EngineConfig } from './config/engine-config.js';
import { redactedConfig } from './config/redaction.js';
import type { TraceBuffer } from './buffer/trace-buffer.js';
import type { CompletionSettings, PendingCounts } from './buffer/trace-buffer.js';
import { MemoryTraceBuffer } from './buffer/memory/memory-trace-buffer.js';
import { RedisTraceBuffer } from './buffer/redis/redis-trace-buffer.js';
import { toCompletionSettings, type PolicySettings } from './policies/policy-file.js';
import { PolicyWatcher } from './policies/policy-watcher.js';
import { Baselines } from './baselines/baselines.js';
import { RedisBaselineStore } from './baselines/redis/redis-baseline-store.js';
import { Alerts } from './alerts/alerts.js';
import type { AlertsConfig } from './alerts/config.js';
import { RedisAlertState } from './alerts/redis/redis-alert-state.js';
import type { TraceSink } from './forward/sink.js';
import { createSink } from './forward/sinks.js';
import type { DecodedRequest, TraceFragment } from './otlp/types.js';
import { createSource, type SpanSource } from './ingest/span-source.js';
import { truncateAttributeValues } from './ingest/attribute-value-limit.js';
import { AdminServer } from './telemetry/admin-server.js';
import { EngineStats } from './telemetry/engine-stats.js';
import { KafkaLagSampler } from './telemetry/kafka-consumer-lag.js';
import { EngineMetrics, type ReloadCounts } from './telemetry/metrics.js';
import { formatStatusLine, type KafkaStatus } from './telemetry/status-line.js';
import { RecentThroughput, sampleOf, throughputBetween, type StatusSample, type Throughput } from './telemetry/throughput.js';
import type { Logger } from './telemetry/logger.js';
import { DecisionLoop } from './decide/decision-loop.js';

export interface EngineOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Status line interval, ms; 0 turns it off. Default 5000. */
  readonly statusIntervalMs?: number;
  /** Time between two Kafka consumer lag samples, ms (Kafka source only). Default 10 000. */
  readonly kafkaLagIntervalMs?: number;
  /** Shortest time between two log lines about per-trace limits and truncated values, ms. Default 10 000. */
  readonly limitLogIntervalMs?: number;
  /** A policy watcher's counters, for `tailsift_policy_reloads_total` (see also `metrics.trackPolicyReloads`). */
  readonly policyReloads?: () => ReloadCounts;
  /** Node.js process metrics on /metrics. Default true. */
  readonly processMetrics?: boolean;
  /**
   * Called once per trace as its decision is recorded and it leaves the buffer (for a kept
   * trace, after every sink accepted it), with the trace's due time; see
   * DecisionLoopOptions.onDecided. For measurements (the pipeline benchmarks); unset costs nothing.
   */
  readonly onDecided?: (traceId: string, decidedAtMs: number, dueMs: number, keep: boolean) => void;
}

export type IntakeOutcome =
  | { readonly status: 'accepted' }
  | { readonly status: 'full'; readonly retryAfterMs: number; readonly reason: string };

/**
 * One running tailsift: a source feeding the buffer, the decision loop, the sinks, the admin
 * server with its metrics. Built from a validated config; `stop` drains before it returns.
 */
export class Engine {
  readonly stats = new EngineStats();
  private readonly clock: Clock;
  private readonly loop: DecisionLoop;
  private readonly source: SpanSource;
  private readonly admin: AdminServer;
  private readonly kafkaLag: KafkaLagSampler | undefined;
  private readonly recent: RecentThroughput;
  private statusTimer: NodeJS.Timeout | undefined;
  private limitTimer: NodeJS.Timeout | undefined;
  private lastSample: StatusSample;
  private lastLimits: { overLimit: Map<string, number>; truncated: number } = { overLimit: new Map(), truncated: 0 };
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly config: EngineConfig,
    /** The policies in effect; a valid edit of the policy file replaces them (hot reload). */
    private readonly policies: PolicyWatcher,
    private readonly policySettings: PolicySettings,
    /** Learns from every span at intake; `anomaly` policies and alerts judge against it. */
    private readonly baselines: Baselines,
    private readonly alerts: Alerts | undefined,
    private readonly buffer: TraceBuffer,
    private readonly sinks: readonly TraceSink[],
    /** The registry behind GET /metrics. */
    readonly metrics: EngineMetrics,
    private readonly options: EngineOptions,
  ) {
    this.clock = options.clock ?? wallClock;
    this.lastSample = sampleOf(this.stats, this.clock.now());
    this.recent = new RecentThroughput(this.stats, this.clock);
    this.loop = new DecisionLoop({
      buffer,
      policies: () => policies.current(),
      sinks,
      clock: this.clock,
      stats: this.stats,
      logger: options.logger,
      onDecided: (traceId, decidedAtMs, dueMs, keep) => {
        metrics.decisionDelay.observe(Math.max(0, decidedAtMs - dueMs) / 1000);
        options.onDecided?.(traceId, decidedAtMs, dueMs, keep);
      },
      onPolicyEvaluation: (seconds) => metrics.policyEvaluation.observe(seconds),
      keptAttributes: (traceId) => baselines.attributesFor(traceId),
      onKept: alerts === undefined ? undefined : (traceId, spans, nowMs) => alerts.noteKept(traceId, spans, nowMs),
      limits: { maxSpansPerTrace: policySettings.maxSpansPerTrace, maxTraceBytes: policySettings.maximumTraceSizeBytes },
    });
    this.source = createSource(config.source, (decoded) => this.intake(decoded), options.logger);
    const source = config.source;
    this.kafkaLag =
      source.type === 'kafka'
        ? new KafkaLagSampler({
            brokers: source.brokers,
            topic: source.topic,
            groupId: source.groupId,
            security: { sasl: source.sasl, tls: source.tls },
            logger: options.logger,
            intervalMs: options.kafkaLagIntervalMs,
            partitions: () => {
              const t = this.source.telemetry();
              return t.type === 'kafka' ? t.assignment : [];
            },
          })
        : undefined;
    metrics.attach({
      stats: this.stats,
      source: () => this.source.telemetry(),
      pending: () => this.buffer.pending(),
      sinkQueue: () => this.loop.sinkQueue(),
      sinkNames: sinks.map((s) => s.name),
      sinkTracesRejected: () => new Map(sinks.flatMap((s) => (s.rejectedTraces === undefined ? [] : [[s.name, s.rejectedTraces()] as const]))),
      redis: buffer instanceof RedisTraceBuffer ? () => buffer.counters : undefined,
      kafkaLag: this.kafkaLag === undefined ? undefined : () => this.kafkaLag?.latest(),
      kafkaTopic: source.type === 'kafka' ? source.topic : undefined,
      red: () => baselines.redSeries(),
    });
    metrics.trackPolicyReloads(options.policyReloads ?? (() => policies.counters()));
    this.admin = new AdminServer({
      host: config.admin.host,
      port: config.admin.port,
      readiness: () => this.readiness(),
      status: () => this.statusJson(),
      metrics: () => this.metrics.expose(),
      logger: options.logger,
    });
  }

  /** Loads the policy file and builds every part; throws ConfigError with file:line problems. */
  static async create(config: EngineConfig, options: EngineOptions): Promise<Engine> {
    const clock = options.clock ?? wallClock;
    // Sinks first: building one opens nothing, and a sink the environment cannot serve (no
    // AWS region, say) stops start-up before connections to Redis exist that would need closing.
    const sinks = config.sinks.map((s) => createSink(s, options.logger));
    const baselines = await createBaselines(config, options.logger);
    const policies = new PolicyWatcher({ path: config.policies, logger: options.logger, context: { baselines } });
    try {
      await policies.start();
    } catch (err) {
      await baselines.close(clock.now());
      throw err;
    }
    const policySettings = policies.settings();
    const alerts = await createAlerts(config, baselines, options.logger);
    const metrics = new EngineMetrics({ processMetrics: options.processMetrics });
    const settings: CompletionSettings = { ...toCompletionSettings(policySettings), maxTraceBytes: policySettings.maximumTraceSizeBytes };
    const buffer = await createBuffer(config, settings, options.logger, metrics);
    return new Engine(config, policies, policySettings, baselines, alerts, buffer, sinks, metrics, options);
  }

  /** Starts every part; resolves with where spans are taken from and where the admin server listens. */
  async start(): Promise<{ source: string; admin: { host: string; port: number } }> {
    if (this.state !== 'new') throw new Error(`engine already ${this.state}`);
    this.state = 'running';
    const admin = await this.admin.start();
    this.loop.start();
    const source = await this.source.start();
    this.kafkaLag?.start();
    this.alerts?.start(this.clock);
    if (this.config.baselines.store.type === 'redis') this.baselines.startSync(this.clock, this.config.baselines.store.flushInterval);
    this.recent.start();
    this.lastSample = sampleOf(this.stats, this.clock.now());
    const interval = this.options.statusIntervalMs ?? 5_000;
    if (interval > 0) {
      this.statusTimer = setInterval(() => void this.logStatus(), interval);
      this.statusTimer.unref();
    }
    this.limitTimer = setInterval(() => this.logLimits(), this.options.limitLogIntervalMs ?? 10_000);
    this.limitTimer.unref();
    this.options.logger.info({ config: redactedConfig(this.config) }, 'config in effect');
    this.options.logger.info(
      {
        source,
        buffer: this.config.buffer.type,
        admin: `http://${admin.host}:${admin.port}`,
        policies: this.config.policies,
        sinks: this.sinks.map((s) => s.name),
      },
      'tailsift running',
    );
    return { source, admin };
  }

  /**
   * Stops intake (Kafka commits what is in the buffer), then, as `buffer.pendingOnShutdown`
   * says, decides every pending trace or leaves it in the buffer, flushes the sinks and stops
   * the admin server. Idempotent; concurrent calls share one shutdown.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer);
    if (this.limitTimer !== undefined) clearInterval(this.limitTimer);
    this.recent.stop();
    await this.source.stop();
    await this.loop.stop();
    await this.policies.stop();
    await this.settlePending();
    await Promise.all(this.sinks.map((s) => s.close()));
    await this.alerts?.stop();
    await this.baselines.close(this.clock.now());
    await this.kafkaLag?.stop();
    this.logLimits();
    await this.logStatus();
    await this.buffer.close();
    await this.admin.stop();
    this.state = 'stopped';
  }

  private async settlePending(): Promise<void> {
    const { logger } = this.options;
    const memory = this.config.buffer.type === 'memory';
    if (this.config.buffer.pendingOnShutdown === 'decide') {
      // The policy file's drop_pending_traces_on_shutdown: record them dropped, unevaluated.
      const drop = this.policySettings.dropPendingTracesOnShutdown;
      const { left } = await this.loop.drain({ drop });
      if (left > 0) {
        logger.error(
          { traces: left },
          memory
            ? 'sinks did not take every pending trace before shutdown; those traces are lost'
            : 'sinks did not take every pending trace before shutdown; they stay in Redis and are decided by another instance or after a restart',
        );
      }
      return;
    }
    await this.loop.flush();
    let pending: PendingCounts;
    try {
      pending = await this.buffer.pending();
    } catch (err) {
      logger.warn({ err }, 'cannot tell how many traces are left pending');
      return;
    }
    if (pending.traces === 0) return;
    if (memory) {
      logger.error(
        { traces: pending.traces, spans: pending.spans },
        'undecided traces are lost: buffer.pendingOnShutdown is "leave" with the memory buffer',
      );
    } else {
      logger.info({ traces: pending.traces, spans: pending.spans }, 'undecided traces left in Redis for the other instances (buffer.pendingOnShutdown: leave)');
    }
  }

  /** The receiver's hand-off: all spans of a request enter the buffer, or none do. */
  async intake(decoded: DecodedRequest): Promise<IntakeOutcome> {
    if (this.state !== 'running') {
      this.stats.count(this.stats.spansRejected, 'shutting_down', decoded.spanCount);
      return { status: 'full', retryAfterMs: 1_000, reason: 'shutting down' };
    }
    const maxLength = this.config.limits.maxAttributeValueLength;
    const fragments = maxLength > 0 ? this.truncate(decoded.fragments, maxLength) : decoded.fragments;
    const outcome = await this.buffer.append(fragments, this.clock.now());
    if (outcome.status === 'full') {
      this.stats.count(this.stats.spansRejected, 'buffer_full', decoded.spanCount);
      return outcome;
    }
    this.stats.spansReceived += decoded.spanCount;
    this.stats.requestsAccepted++;
    // Baselines learn from every accepted span, before any sampling; a refused request is
    // sent again by its client, so it is counted when it is accepted.
    this.baselines.observe(decoded.spans, this.clock.now());
    if (outcome.late.length > 0) this.loop.acceptLate(outcome.late);
    return { status: 'accepted' };
  }

  private truncate(fragments: readonly TraceFragment[], maxLength: number): readonly TraceFragment[] {
    let out: TraceFragment[] | undefined;
    fragments.forEach((f, i) => {
      const { bytes, values } = truncateAttributeValues(f.bytes, maxLength);
      if (values === 0) return;
      this.stats.attributeValuesTruncated += values;
      out ??= fragments.slice();
      // The cut bytes replace the request's: neither the spans read from it nor its layout apply.
      out[i] = { traceId: f.traceId, spanCount: f.spanCount, hasRoot: f.hasRoot, bytes, byteLength: bytes.length };
    });
    return out ?? fragments;
  }

  private async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {
      source: this.state !== 'running' ? this.state : this.source.connected() ? 'ok' : 'not connected',
      policies: `ok (${this.policies.current().policyNames.length} policies)`,
    };
    try {
      const p = await this.buffer.pending();
      checks.buffer = `ok (${p.traces} traces pending)`;
    } catch (err) {
      checks.buffer = `unreachable: ${(err as Error).message}`;
    }
    const ready = this.state === 'running' && Object.values(checks).every((c) => c.startsWith('ok'));
    return { ready, checks };
  }

  private async statusJson(): Promise<unknown> {
    const s = this.stats;
    let pending: PendingCounts | undefined;
    let bufferError: string | undefined;
    try {
      pending = await this.buffer.pending();
    } catch (err) {
      bufferError = (err as Error).message;
    }
    const recent = this.recent.current();
    const queue = this.loop.sinkQueue();
    const source = this.source.telemetry();
    const lag = this.kafkaLag?.latest();
    return {
      state: this.state,
      spans: { received: s.spansReceived, kept: s.spansKept, dropped: s.spansDropped, rejected: Object.fromEntries(s.spansRejected) },
      traces: {
        pending: pending?.traces ?? null,
        pendingSpans: pending?.spans ?? null,
        kept: Object.fromEntries(s.tracesKept),
        dropped: Object.fromEntries(s.tracesDropped),
      },
      ...(bufferError === undefined ? {} : { bufferError }),
      throughput: recent === undefined ? null : throughputJson(recent),
      lateSpans: { kept: s.lateSpansKept, dropped: s.lateSpansDropped },
      duplicateSpans: s.duplicateSpans,
      // Operations whose recent window departs from their baseline now (latency or errors).
      anomalies: { operationsDeparting: this.baselines.departures(this.clock.now()).length },
      // Incidents this instance opened (with Redis baselines: the instance holding the alert lease).
      alerts:
        this.alerts === undefined
          ? null
          : {
              open: this.alerts.counters.incidentsOpened - this.alerts.counters.incidentsResolved,
              opened: this.alerts.counters.incidentsOpened,
              resolved: this.alerts.counters.incidentsResolved,
              notifications: this.alerts.counters.notifications,
            },
      forwardErrors: Object.fromEntries(s.forwardErrors),
      sinks: Object.fromEntries(this.sinks.map((sink) => [sink.name, { queuedSpans: (queue.sending.get(sink.name) ?? 0) + queue.lateSpans, errors: s.forwardErrors.get(sink.name) ?? 0 }])),
      limits: { tracesOverLimit: Object.fromEntries(s.tracesOverLimit), attributeValuesTruncated: s.attributeValuesTruncated },
      decisionDelayMs: {
        mean: s.decisionDelayCount === 0 ? 0 : s.decisionDelaySumMs / s.decisionDelayCount,
        max: s.decisionDelayMaxMs,
      },
      ...(source.type === 'kafka'
        ? {
            kafka: {
              paused: source.paused,
              partitions: source.assignment,
              lag: lag === undefined ? null : { total: lag.total, byPartition: Object.fromEntries(lag.partitions), sampledAt: new Date(lag.atMs).toISOString() },
              records: source.kafka.records,
              committed: source.kafka.recordsCommitted,
            },
          }
        : {}),
    };
  }

  private async logStatus(): Promise<void> {
    try {
      const now = sampleOf(this.stats, this.clock.now());
      const line = formatStatusLine(this.stats, await this.buffer.pending(), throughputBetween(this.lastSample, now), this.kafkaStatus());
      this.lastSample = now;
      this.options.logger.info(line);
    } catch (err) {
      this.options.logger.warn({ err }, 'status unavailable');
    }
  }

  private kafkaStatus(): KafkaStatus | undefined {
    const t = this.source.telemetry();
    if (t.type !== 'kafka') return undefined;
    return { lag: this.kafkaLag?.latest()?.total, paused: t.paused };
  }

  /** One line per interval when traces hit per-trace limits or values were cut, never one per trace. */
  private logLimits(): void {
    const s = this.stats;
    const overLimit: Record<string, number> = {};
    for (const [limit, n] of s.tracesOverLimit) {
      const delta = n - (this.lastLimits.overLimit.get(limit) ?? 0);
      if (delta > 0) overLimit[limit] = delta;
    }
    const truncated = s.attributeValuesTruncated - this.lastLimits.truncated;
    this.lastLimits = { overLimit: new Map(s.tracesOverLimit), truncated: s.attributeValuesTruncated };
    if (Object.keys(overLimit).length === 0 && truncated === 0) return;
    this.options.logger.warn(
      { tracesOverLimit: overLimit, attributeValuesTruncated: truncated },
      'limits reached since the last report: oversized traces were decided early, long attribute values were cut',
    );
  }
}

function throughputJson(t: Throughput): unknown {
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    windowSeconds: round(t.seconds),
    spansPerSec: round(t.spansPerSec),
    tracesDecidedPerSec: round(t.tracesDecidedPerSec),
    keepRate: t.keepRate === undefined ? null : round(t.keepRate),
    keepRateByPolicy: Object.fromEntries([...t.keepRateByPolicy].map(([policy, rate]) => [policy, round(rate)])),
  };
}

async function createBuffer(config: EngineConfig, settings: CompletionSettings, logger: Logger, metrics: EngineMetrics): Promise<TraceBuffer> {
  if (config.buffer.type === 'memory') return new MemoryTraceBuffer(settings);
  const b = config.buffer;
  return RedisTraceBuffer.connect({
    url: b.url,
    tls: b.tls,
    prefix: b.prefix,
    buckets: b.buckets,
    leaseMs: b.lease,
    decisionCacheTtlMs: b.decisionCacheTtl,
    settings,
    logger,
    onRoundTrip: (operation, seconds) => metrics.redisRoundTrip.observe({ operation }, seconds),
  });
}

async function createBaselines(config: EngineConfig, logger: Logger): Promise<Baselines> {
  const b = config.baselines;
  if (b.store.type === 'memory') return new Baselines(b, undefined, logger);
  const store = await RedisBaselineStore.connect({
    url: b.store.url,
    tls: b.store.tls,
    prefix: b.store.prefix,
    slotMs: b.slot,
    windowMs: b.window,
    flushIntervalMs: b.store.flushInterval,
  });
  return new Baselines(b, store, logger);
}

/** Incidents are evaluated by one instance at a time when baselines are shared through Redis. */
async function createAlerts(config: EngineConfig, baselines: Baselines, logger: Logger): Promise<Alerts | undefined> {
  if (!config.alerts.enabled) return undefined;
  const store = config.baselines.store;
  const state =
    store.type === 'redis'
      ? await RedisAlertState.connect({ url: store.url, tls: store.tls, prefix: store.prefix, leaseMs: config.alerts.lease, logger })
      : undefined;
  // The frozen config is only read; the alerts stage types its config as the plain schema output.
  return new Alerts({ config: config.alerts as AlertsConfig, baselines, state, logger });
}
