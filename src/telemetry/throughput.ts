import type { Clock } from '../clock.js';
import type { EngineStats } from './engine-stats.js';

/** The counters rates are computed from, at one moment. */
export interface StatusSample {
  readonly atMs: number;
  readonly spansReceived: number;
  /** Traces decided so far, kept or dropped. */
  readonly decided: number;
  /** Kept traces so far, by policy (a copy). */
  readonly keptByPolicy: ReadonlyMap<string, number>;
}

/** Rates between two samples. */
export interface Throughput {
  readonly seconds: number;
  readonly spansPerSec: number;
  readonly tracesDecidedPerSec: number;
  /** Share of the traces decided in the period that were kept, 0..1; undefined when none was decided. */
  readonly keepRate: number | undefined;
  /** Share of the traces decided in the period that each policy kept, for policies that kept any. */
  readonly keepRateByPolicy: ReadonlyMap<string, number>;
}

export function sampleOf(stats: EngineStats, atMs: number): StatusSample {
  return {
    atMs,
    spansReceived: stats.spansReceived,
    decided: stats.sum(stats.tracesKept) + stats.sum(stats.tracesDropped),
    keptByPolicy: new Map(stats.tracesKept),
  };
}

export function throughputBetween(prev: StatusSample, now: StatusSample): Throughput {
  const seconds = Math.max(0.001, (now.atMs - prev.atMs) / 1000);
  const decided = now.decided - prev.decided;
  const byPolicy = new Map<string, number>();
  let kept = 0;
  for (const [policy, n] of now.keptByPolicy) {
    const delta = n - (prev.keptByPolicy.get(policy) ?? 0);
    if (delta <= 0) continue;
    kept += delta;
    byPolicy.set(policy, delta / decided);
  }
  return {
    seconds,
    spansPerSec: (now.spansReceived - prev.spansReceived) / seconds,
    tracesDecidedPerSec: decided / seconds,
    keepRate: decided > 0 ? kept / decided : undefined,
    keepRateByPolicy: decided > 0 ? byPolicy : new Map(),
  };
}

/**
 * Rates over the last minute or so, for GET /status: a sample is taken every `stepMs` and the
 * rates run from the oldest sample still inside `windowMs` (or the engine's start) to now, so
 * they are defined from the first request on and follow changes within a minute.
 */
export class RecentThroughput {
  private readonly samples: StatusSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly windowMs: number;
  private readonly stepMs: number;

  constructor(
    private readonly stats: EngineStats,
    private readonly clock: Clock,
    options: { windowMs?: number; stepMs?: number } = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.stepMs = options.stepMs ?? 5_000;
  }

  /** Takes the first sample and starts sampling. Idempotent. */
  start(): void {
    if (this.timer !== undefined) return;
    this.take();
    this.timer = setInterval(() => this.take(), this.stepMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Rates from the oldest sample in the window to now; undefined before `start`. */
  current(): Throughput | undefined {
    const now = sampleOf(this.stats, this.clock.now());
    this.prune(now.atMs);
    const base = this.samples[0];
    return base === undefined ? undefined : throughputBetween(base, now);
  }

  private take(): void {
    const s = sampleOf(this.stats, this.clock.now());
    this.samples.push(s);
    this.prune(s.atMs);
  }

  /** Drops samples older than the window, keeping at least one to measure from. */
  private prune(nowMs: number): void {
    while (this.samples.length > 1 && this.samples[1].atMs <= nowMs - this.windowMs) this.samples.shift();
  }
}
