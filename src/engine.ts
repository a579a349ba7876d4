import type { Clock } from './clock.js';
import { wallClock } from './clock.js';
import type { EngineConfig } from './config/engine-config.js';
import type { TraceBuffer } from './buffer/trace-buffer.js';
import type { CompletionSettings } from './buffer/trace-buffer.js';
import { MemoryTraceBuffer } from './buffer/memory/memory-trace-buffer.js';
import { RedisTraceBuffer } from './buffer/redis/redis-trace-buffer.js';
import type { PolicySet } from './policies/evaluator.js';
import { loadPolicyFile, toCompletionSettings } from './policies/policy-file.js';
import type { TraceSink } from './forward/sink.js';
import { createSink } from './forward/sinks.js';
import type { DecodedRequest } from './otlp/types.js';
import { createSource, type SpanSource } from './ingest/span-source.js';
import { AdminServer } from './telemetry/admin-server.js';
import { EngineStats } from './telemetry/engine-stats.js';
import { formatStatusLine, type StatusSample } from './telemetry/status-line.js';
import type { Logger } from './telemetry/logger.js';
import { DecisionLoop } from './decide/decision-loop.js';
import { ConfigError } from './errors.js';

export interface EngineOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Status line interval, ms; 0 turns it off. Default 5000. */
  readonly statusIntervalMs?: number;
}

export type IntakeOutcome =
  | { readonly status: 'accepted' }
  | { readonly status: 'full'; readonly retryAfterMs: number; readonly reason: string };

/**
 * One running tailsift: a source feeding the buffer, the decision loop, the sinks, the admin
 * server. Built from a validated config; `stop` drains before it returns.
 */
export class Engine {
  readonly stats = new EngineStats();
  private readonly clock: Clock;
  private readonly loop: DecisionLoop;
  private readonly source: SpanSource;
  private readonly admin: AdminServer;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastSample: StatusSample;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly config: EngineConfig,
    private readonly policySet: PolicySet,
    private readonly buffer: TraceBuffer,
    private readonly sinks: readonly TraceSink[],
    private readonly options: EngineOptions,
  ) {
    this.clock = options.clock ?? wallClock;
    this.lastSample = { atMs: this.clock.now(), spansReceived: 0 };
    this.loop = new DecisionLoop({
      buffer,
      policies: () => this.policySet,
      sinks,
      clock: this.clock,
      stats: this.stats,
      logger: options.logger,
    });
    this.source = createSource(config.source, (decoded) => this.intake(decoded), options.logger);
    this.admin = new AdminServer({
      host: config.admin.host,
      port: config.admin.port,
      readiness: () => this.readiness(),
      status: () => this.statusJson(),
      logger: options.logger,
    });
  }

  /** Loads the policy file and builds every part; throws ConfigError with file:line problems. */
  static async create(config: EngineConfig, options: EngineOptions): Promise<Engine> {
    const loaded = await loadPolicyFile(config.policies);
    if (!loaded.ok) throw new ConfigError(loaded.problems);
    const buffer = await createBuffer(config, toCompletionSettings(loaded.settings), options.logger);
    const sinks = config.sinks.map((s) => createSink(s, options.logger));
    return new Engine(config, loaded.policySet, buffer, sinks, options);
  }

  /** Starts every part; resolves with where spans are taken from and where the admin server listens. */
  async start(): Promise<{ source: string; admin: { host: string; port: number } }> {
    if (this.state !== 'new') throw new Error(`engine already ${this.state}`);
    this.state = 'running';
    const admin = await this.admin.start();
    this.loop.start();
    const source = await this.source.start();
    const interval = this.options.statusIntervalMs ?? 5_000;
    if (interval > 0) {
      this.statusTimer = setInterval(() => void this.logStatus(), interval);
      this.statusTimer.unref();
    }
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
   * Stops intake, decides every pending trace, flushes the sinks. Idempotent; concurrent
   * calls share one shutdown.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer);
    await this.source.stop();
    await this.loop.stop();
    if (this.config.buffer.type === 'memory') {
      // Pending traces die with the process: decide them now, whatever their due time.
      const { left } = await this.loop.drain();
      if (left > 0) this.options.logger.error({ traces: left }, 'sinks did not take every pending trace before shutdown; those traces are lost');
    } else {
      // Pending traces stay in Redis for the other instances, or for this one's restart.
      await this.loop.flush();
    }
    await Promise.all(this.sinks.map((s) => s.close()));
    await this.logStatus();
    await this.buffer.close();
    await this.admin.stop();
    this.state = 'stopped';
  }

  /** The receiver's hand-off: all spans of a request enter the buffer, or none do. */
  async intake(decoded: DecodedRequest): Promise<IntakeOutcome> {
    if (this.state !== 'running') return { status: 'full', retryAfterMs: 1_000, reason: 'shutting down' };
    const outcome = await this.buffer.append(decoded.fragments, this.clock.now());
    if (outcome.status === 'full') {
      this.stats.count(this.stats.spansRejected, 'buffer_full', decoded.spanCount);
      return outcome;
    }
    this.stats.spansReceived += decoded.spanCount;
    this.stats.requestsAccepted++;
    if (outcome.late.length > 0) this.loop.acceptLate(outcome.late);
    return { status: 'accepted' };
  }

  private async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {
      source: this.state !== 'running' ? this.state : this.source.connected() ? 'ok' : 'not connected',
      policies: `ok (${this.policySet.policyNames.length} policies)`,
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
    return {
      state: this.state,
      spans: { received: s.spansReceived, kept: s.spansKept, dropped: s.spansDropped, rejected: Object.fromEntries(s.spansRejected) },
      traces: { pending: (await this.buffer.pending()).traces, kept: Object.fromEntries(s.tracesKept), dropped: Object.fromEntries(s.tracesDropped) },
      lateSpans: { kept: s.lateSpansKept, dropped: s.lateSpansDropped },
      forwardErrors: Object.fromEntries(s.forwardErrors),
      decisionDelayMs: {
        mean: s.decisionDelayCount === 0 ? 0 : s.decisionDelaySumMs / s.decisionDelayCount,
        max: s.decisionDelayMaxMs,
      },
    };
  }

  private async logStatus(): Promise<void> {
    try {
      const now = { atMs: this.clock.now(), spansReceived: this.stats.spansReceived };
      const line = formatStatusLine(this.stats, await this.buffer.pending(), this.lastSample, now);
      this.lastSample = now;
      this.options.logger.info(line);
    } catch (err) {
      this.options.logger.warn({ err }, 'status unavailable');
    }
  }
}

async function createBuffer(config: EngineConfig, settings: CompletionSettings, logger: Logger): Promise<TraceBuffer> {
  if (config.buffer.type === 'memory') return new MemoryTraceBuffer(settings);
  const b = config.buffer;
  return RedisTraceBuffer.connect({
    url: b.url,
    prefix: b.prefix,
    buckets: b.buckets,
    leaseMs: b.lease,
    decisionCacheTtlMs: b.decisionCacheTtl,
    settings,
    logger,
  });
}
