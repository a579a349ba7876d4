import type { BaselineStore } from './baseline-store.js';
import { SortedHistogram, addBuckets } from './log-histogram.js';

/** Figures of a window of spans, as reasons and alerts show them. */
export interface WindowFigures {
  /** Spans counted (the baseline: spans judged normal, undecayed). */
  readonly spans: number;
  readonly errorRate: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
}

/** An operation's baseline over the slots before its recent window, newer slots weighing more. */
export interface OperationBaseline extends WindowFigures {
  /** Decayed mass of the spans (what the error rate and quantiles are computed over). */
  readonly weight: number;
  /** Decayed error mass. */
  readonly errorWeight: number;
  /** Spans of any judgement per second over the slots that had any. */
  readonly spansPerSecond: number;
  readonly histogram: SortedHistogram;
}

/** Everything an operation did in the recent window, anomalous spans included. */
export interface RecentWindow extends WindowFigures {
  readonly errors: number;
  readonly histogram: SortedHistogram;
}

/**
 * The baseline of one operation from the store's merged counts: slots `from..to` (inclusive),
 * each weighted `0.5 ^ (age / halfLife)` with age counted from `currentSlot`. Only spans
 * judged normal count, so anomalies never become the norm.
 */
export function computeBaseline(
  store: BaselineStore,
  opId: string,
  range: { readonly from: number; readonly to: number; readonly currentSlot: number },
  slotMs: number,
  halfLifeMs: number,
): OperationBaseline {
  const buckets = new Map<number, number>();
  let spans = 0;
  let weight = 0;
  let errorWeight = 0;
  let allSpans = 0;
  let activeSlots = 0;
  const decayPerSlot = 0.5 ** (slotMs / halfLifeMs);
  for (let slot = range.from; slot <= range.to; slot++) {
    const counts = store.slot(opId, slot);
    if (counts === undefined) continue;
    const w = decayPerSlot ** (range.currentSlot - slot);
    spans += counts.n;
    weight += counts.n * w;
    errorWeight += counts.e * w;
    allSpans += counts.n + counts.xn;
    if (counts.n + counts.xn > 0) activeSlots += 1;
    addBuckets(buckets, counts.b, w);
  }
  const histogram = new SortedHistogram(buckets);
  return {
    spans,
    weight,
    errorWeight,
    // A small prior keeps the rate above 0, so an operation that never failed still has a finite score for its first error.
    errorRate: (errorWeight + 0.25) / (weight + 0.5),
    p50Ms: histogram.quantile(0.5),
    p90Ms: histogram.quantile(0.9),
    p99Ms: histogram.quantile(0.99),
    spansPerSecond: activeSlots === 0 ? 0 : allSpans / ((activeSlots * slotMs) / 1000),
    histogram,
  };
}

/** Every span of slots `from..to`, normal and anomalous alike, undecayed. */
export function computeRecent(store: BaselineStore, opId: string, from: number, to: number): RecentWindow {
  const buckets = new Map<number, number>();
  let spans = 0;
  let errors = 0;
  for (let slot = from; slot <= to; slot++) {
    const counts = store.slot(opId, slot);
    if (counts === undefined) continue;
    spans += counts.n + counts.xn;
    errors += counts.e + counts.xe;
    addBuckets(buckets, counts.b);
    addBuckets(buckets, counts.xb);
  }
  const histogram = new SortedHistogram(buckets);
  return {
    spans,
    errors,
    errorRate: spans === 0 ? 0 : errors / spans,
    p50Ms: histogram.quantile(0.5),
    p90Ms: histogram.quantile(0.9),
    p99Ms: histogram.quantile(0.99),
    histogram,
  };
}
