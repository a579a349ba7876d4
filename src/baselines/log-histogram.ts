/**
 * Latency distributions as log-bucketed histograms (the DDSketch layout): bucket `i` holds
 * values in (γ^(i-1), γ^i] ms with γ = (1 + α) / (1 - α), so any quantile read back is within
 * a relative error α of the true one. Buckets are plain counters keyed by index, which is what
 * makes histograms mergeable: two instances' counts for a window add up bucket by bucket.
 */

/** Relative accuracy of quantiles read from the buckets. */
export const RELATIVE_ACCURACY = 0.02;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);

/** Durations below this (1 µs) share one bucket; a clock's resolution makes them noise anyway. */
const MIN_MS = 0.001;
const MIN_INDEX = Math.ceil(Math.log(MIN_MS) / LN_GAMMA);

/** Natural-log width of one bucket, for scores computed in log space. */
export const BUCKET_LOG_WIDTH = LN_GAMMA;

/** The bucket a duration in milliseconds falls into. */
export function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return MIN_INDEX;
  return Math.ceil(Math.log(ms) / LN_GAMMA);
}

/** A value that stands for a bucket: within α of every value in it. */
export function bucketValue(index: number): number {
  return (2 * GAMMA ** index) / (GAMMA + 1);
}

/** Adds `weight` times every bucket of `from` into `into`. */
export function addBuckets(into: Map<number, number>, from: ReadonlyMap<number, number>, weight = 1): void {
  for (const [index, count] of from) into.set(index, (into.get(index) ?? 0) + count * weight);
}

/**
 * A histogram frozen for reading: buckets in index order with running totals, so quantiles
 * and "share of the mass below this value" are binary searches.
 */
export class SortedHistogram {
  readonly total: number;
  private readonly indexes: Int32Array;
  /** cumulative[i]: mass of buckets 0..i. */
  private readonly cumulative: Float64Array;

  constructor(buckets: ReadonlyMap<number, number>) {
    const entries = [...buckets].filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
    this.indexes = Int32Array.from(entries, ([i]) => i);
    this.cumulative = new Float64Array(entries.length);
    let sum = 0;
    entries.forEach(([, w], i) => {
      sum += w;
      this.cumulative[i] = sum;
    });
    this.total = sum;
  }

  get empty(): boolean {
    return this.total <= 0;
  }

  /** The value (ms) at quantile q in [0, 1]; 0 for an empty histogram. */
  quantile(q: number): number {
    if (this.empty) return 0;
    const target = Math.min(1, Math.max(0, q)) * this.total;
    let lo = 0;
    let hi = this.indexes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] >= target) hi = mid;
      else lo = mid + 1;
    }
    return bucketValue(this.indexes[lo]);
  }

  /** Mass in buckets below `index`. */
  massBelow(index: number): number {
    let lo = 0;
    let hi = this.indexes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.indexes[mid] < index) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : this.cumulative[lo - 1];
  }

  /** Mass in bucket `index` itself. */
  massAt(index: number): number {
    return this.massBelow(index + 1) - this.massBelow(index);
  }

  /** Buckets with their mass, in index order. */
  *entries(): IterableIterator<[index: number, mass: number]> {
    let previous = 0;
    for (let i = 0; i < this.indexes.length; i++) {
      yield [this.indexes[i], this.cumulative[i] - previous];
      previous = this.cumulative[i];
    }
  }
}
