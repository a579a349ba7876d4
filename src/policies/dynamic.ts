import type { AttrValue } from '../otlp/types.js';
import { logShareSampleRates } from './dynamic-sample-rates.js';
import type { Decision, EvalContext, TraceView } from './evaluator.js';
import type { RandomShareEvaluator } from './keep-probability.js';
import { ProbabilisticEvaluator } from './probabilistic.js';

/** The salt of the trace id hash when `hash_salt` is not set; not the probabilistic policy's, so the two choose independently. */
export const DEFAULT_DYNAMIC_HASH_SALT = 'tailsift-dynamic';

/** Traces whose key comes after `max_keys` distinct keys are counted, and sampled, together. */
export const OTHER_KEYS = '\u0000(other keys)';

/** The rate before the first adjustment when the goal is a throughput (Refinery's default). */
const DEFAULT_INITIAL_THROUGHPUT_RATE = 10;

/** Distinct sample rates whose hash thresholds are kept; rates are whole numbers, so few recur. */
const MAX_CACHED_RATES = 1024;

export interface DynamicOptions {
  /** Span or resource attributes whose values form a trace's key. */
  readonly keyFields: readonly string[];
  /** An average rate of 1 in `sampleRate`, or `throughputPerSec` traces kept per second. */
  readonly goal: { readonly sampleRate: number } | { readonly throughputPerSec: number };
  /** How often the rates are recomputed, ms. */
  readonly adjustmentIntervalMs: number;
  /** Weight of the last interval in the moving average of counts, (0, 1]. Default 0.5. */
  readonly weight?: number;
  /** Moving averages below this are forgotten. Default: `weight`. */
  readonly ageOutValue?: number;
  /** Keys tracked at most. Default 500. */
  readonly maxKeys?: number;
  /** Below this many traces per second in an interval, every key gets rate 1. Default 0. */
  readonly minTracesPerSec?: number;
  /** The rate until the first adjustment. Default: the goal rate, or 10 for a throughput goal. */
  readonly initialSampleRate?: number;
  readonly hashSalt?: string;
}

/**
 * `dynamic` (tailsift's own, after Refinery's EMADynamicSampler and EMAThroughputSampler):
 * traces are grouped by a key made of attribute values, and each key gets its own sample rate
 * so that frequent, boring keys (`GET /health 200`) are sampled sparsely and rare ones
 * (`POST /checkout 500`) are kept whole, while the total stays near the goal.
 *
 * Every `adjustment_interval` (in the time of the evaluation context, so replay runs in event
 * time) the traces counted per key in that interval are folded into an exponential moving
 * average (`weight`), keys whose average falls below `age_out_value` are forgotten, and new
 * rates come from the averages (see `logShareSampleRates`): the goal is the averages' sum
 * divided by `goal_sample_rate`, or `goal_throughput_per_sec` × the interval. A key not in the
 * table (new, or forgotten) has rate 1. An interval in which no trace arrived changes nothing,
 * so traffic that pauses does not reset what was learnt. Until the first adjustment every
 * trace gets `initial_sample_rate`.
 *
 * The decision for a trace is the probabilistic policy's, at a percentage of 100 / rate: the
 * same trace id and rate always give the same decision. The rate is reported as the trace's
 * sample rate.
 */
export class DynamicEvaluator implements RandomShareEvaluator {
  private readonly intervalMs: number;
  private readonly weight: number;
  private readonly ageOutValue: number;
  private readonly maxKeys: number;
  private readonly minTracesPerSec: number;
  private readonly initialSampleRate: number;
  private readonly hashSalt: string;
  /** Traces per key counted in the current interval. */
  private counts = new Map<string, number>();
  /** Keys in `counts` that are not in `averages`, for the `max_keys` bound. */
  private newKeys = 0;
  private readonly averages = new Map<string, number>();
  /** Undefined until the first adjustment. */
  private rates: Map<string, number> | undefined;
  private intervalStartMs: number | undefined;
  private lastKeepProbability: number | undefined;
  private readonly byRate = new Map<number, ProbabilisticEvaluator>();

  constructor(private readonly options: DynamicOptions) {
    this.intervalMs = options.adjustmentIntervalMs;
    this.weight = options.weight ?? 0.5;
    this.ageOutValue = options.ageOutValue ?? this.weight;
    this.maxKeys = options.maxKeys ?? 500;
    this.minTracesPerSec = options.minTracesPerSec ?? 0;
    this.initialSampleRate =
      options.initialSampleRate ?? ('sampleRate' in options.goal ? options.goal.sampleRate : DEFAULT_INITIAL_THROUGHPUT_RATE);
    this.hashSalt = options.hashSalt || DEFAULT_DYNAMIC_HASH_SALT;
  }

  /** 1 / the rate applied to the trace evaluated last. */
  get keepProbability(): number | undefined {
    return this.lastKeepProbability;
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    this.advance(ctx.nowMs);
    const key = this.count(this.keyOf(trace));
    const rate = this.rates === undefined ? this.initialSampleRate : (this.rates.get(key) ?? 1);
    this.lastKeepProbability = 1 / rate;
    if (rate <= 1) return 'sampled';
    return this.samplerFor(rate).evaluate(trace, ctx);
  }

  /** The key of a trace: per key field, every distinct value in its spans and their resources. */
  keyOf(trace: TraceView): string {
    const parts: string[] = [];
    for (const field of this.options.keyFields) {
      const values = new Set<string>();
      for (const span of trace.spans) {
        const own = span.attribute(field);
        if (own !== undefined) values.add(valueText(own));
        const resource = span.resourceAttribute(field);
        if (resource !== undefined) values.add(valueText(resource));
      }
      parts.push(values.size <= 1 ? [...values].join('') : [...values].sort().join(','));
    }
    return parts.join('•');
  }

  /** The current rate per key (after the first adjustment), for tests and diagnostics. */
  sampleRates(): ReadonlyMap<string, number> | undefined {
    return this.rates;
  }

  /** Counts the trace under its key, or under OTHER_KEYS past `max_keys`; returns the key used. */
  private count(key: string): string {
    let counted = key;
    if (!this.counts.has(key) && !this.averages.has(key)) {
      if (this.averages.size + this.newKeys >= this.maxKeys) counted = OTHER_KEYS;
      else this.newKeys++;
    }
    this.counts.set(counted, (this.counts.get(counted) ?? 0) + 1);
    return counted;
  }

  private advance(nowMs: number): void {
    if (this.intervalStartMs === undefined) {
      this.intervalStartMs = nowMs;
      return;
    }
    const elapsed = nowMs - this.intervalStartMs;
    // Time going backwards (replayed input out of order) stays in the current interval.
    if (elapsed < this.intervalMs) return;
    this.adjust();
    this.intervalStartMs += Math.floor(elapsed / this.intervalMs) * this.intervalMs;
  }

  private adjust(): void {
    const counts = this.counts;
    if (counts.size === 0) return;
    this.counts = new Map();
    this.newKeys = 0;
    let total = 0;
    for (const [key, average] of this.averages) {
      const next = this.weight * (counts.get(key) ?? 0) + (1 - this.weight) * average;
      if (next < this.ageOutValue) this.averages.delete(key);
      else this.averages.set(key, next);
    }
    for (const [key, count] of counts) {
      total += count;
      if (this.averages.has(key)) continue;
      const first = this.weight * count;
      if (first >= this.ageOutValue) this.averages.set(key, first);
    }
    const intervalSec = this.intervalMs / 1000;
    if (total < this.minTracesPerSec * intervalSec) {
      // Too little traffic to thin out: an empty table gives every key rate 1.
      this.rates = new Map();
      return;
    }
    let goalCount: number;
    if ('sampleRate' in this.options.goal) {
      let sum = 0;
      for (const average of this.averages.values()) sum += Math.max(1, average);
      goalCount = sum / this.options.goal.sampleRate;
    } else {
      goalCount = this.options.goal.throughputPerSec * intervalSec;
    }
    this.rates = logShareSampleRates(this.averages, goalCount);
  }

  private samplerFor(rate: number): ProbabilisticEvaluator {
    let sampler = this.byRate.get(rate);
    if (sampler === undefined) {
      if (this.byRate.size >= MAX_CACHED_RATES) this.byRate.clear();
      sampler = new ProbabilisticEvaluator(100 / rate, this.hashSalt);
      this.byRate.set(rate, sampler);
    }
    return sampler;
  }
}

function valueText(value: AttrValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return JSON.stringify(value);
}
