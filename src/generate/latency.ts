import type { Prng } from './prng.js';

/**
 * How long one piece of work takes. Real service latencies are right-skewed with a long
 * tail: most requests sit near the median, a few take many times longer. A log-normal body
 * models the first part; a Pareto tail above the body's 95th percentile models the second.
 */
export interface LatencyProfile {
  /** Median of the log-normal body, in milliseconds. */
  readonly medianMs: number;
  /** Standard deviation of ln(latency) in the body; 0.3 is tight, 1.0 is very spread. Default 0.5. */
  readonly sigma?: number;
  /** Share of draws taken from the Pareto tail instead of the body. Default 0.02. */
  readonly tailShare?: number;
  /** Pareto shape of the tail; smaller is heavier (1.5 heavy, 3 mild). Default 2. */
  readonly tailAlpha?: number;
  /** Upper bound in milliseconds, so one draw cannot stall a run. Default 200 × median. */
  readonly capMs?: number;
}

/** z-score of the 95th percentile of a standard normal. */
const Z95 = 1.6448536269514722;

/** Draws a latency in milliseconds. */
export function drawLatencyMs(rng: Prng, profile: LatencyProfile): number {
  const sigma = profile.sigma ?? 0.5;
  const tailShare = profile.tailShare ?? 0.02;
  const cap = profile.capMs ?? profile.medianMs * 200;
  let value: number;
  if (rng.chance(tailShare)) {
    const scale = profile.medianMs * Math.exp(sigma * Z95);
    value = scale / Math.pow(1 - rng.float(), 1 / (profile.tailAlpha ?? 2));
  } else {
    value = profile.medianMs * Math.exp(sigma * rng.normal());
  }
  return Math.min(value, cap);
}

/** Draws a latency as whole nanoseconds (at least 1 µs), the unit of trace layout. */
export function drawLatencyNs(rng: Prng, profile: LatencyProfile): number {
  return Math.max(1_000, Math.round(drawLatencyMs(rng, profile) * 1e6));
}

export function msToNs(ms: number): number {
  return Math.round(ms * 1e6);
}
