import { gammaln, probit } from 'simple-statistics';
import { bucketOf } from './log-histogram.js';
import type { OperationBaseline, RecentWindow } from './operation-baseline.js';

/**
 * The statistics behind anomaly scores. Every score is on one scale, standard deviations of a
 * normal distribution (a tail probability p becomes probit(1 - p)), so one threshold reads the
 * same for latency and errors: 3 means "about as rare as 1 in 740".
 */

/** probit(0.99): where the 99th percentile sits on that scale. */
const Z_P99 = probit(0.99);

/**
 * Latency spread in log space is taken as at least p99 = 1.5 × p50: an operation that always
 * takes the same time would otherwise call every jitter anomalous.
 */
const MIN_LOG_SPREAD = Math.log(1.5);

/** A span has to exceed the baseline's p99 by at least this much to score above the p99. */
const MIN_EXCESS_MS = 1;

/**
 * Where the baseline itself has at least this much mass at or above a duration, its empirical
 * tail is trusted over the log-normal reading of it.
 */
const EMPIRICAL_TAIL_MASS = 5;

/** Scores are capped: beyond this a tail probability is below what floating point resolves. */
export const MAX_SCORE = 8;

/**
 * How unusual a duration is for its operation: a z-score in log space whose scale comes from
 * the baseline's own tail (p50 → 0, p99 → 2.33). Latency is right-skewed and long-tailed, so a
 * normal fit to the mean and standard deviation would call the tail anomalous; calibrating on
 * the p99 keeps a real tail normal while a span several times its usual duration still stands
 * out. Where the baseline has enough spans at or above the duration, the share of them
 * bounds the score: a heavy tail seen often enough is normal, whatever the log-normal reading
 * says. 0 for durations at or below the median.
 */
export function latencyScore(baseline: OperationBaseline, ms: number): number {
  if (!(ms > baseline.p50Ms) || baseline.p50Ms <= 0) return 0;
  const spread = Math.max(Math.log(baseline.p99Ms / baseline.p50Ms), MIN_LOG_SPREAD);
  let z = Math.min(MAX_SCORE, (Z_P99 * Math.log(ms / baseline.p50Ms)) / spread);
  if (ms - baseline.p99Ms < MIN_EXCESS_MS) z = Math.min(z, Z_P99);
  const h = baseline.histogram;
  const atOrAbove = h.total - h.massBelow(bucketOf(ms));
  if (atOrAbove >= EMPIRICAL_TAIL_MASS) z = Math.min(z, tailProbabilityScore(atOrAbove / h.total));
  return z;
}

/** How unusual one error is for an operation: the error rate's tail probability on the z scale. */
export function errorScore(baseline: OperationBaseline): number {
  return tailProbabilityScore(baseline.errorRate);
}

/** A tail probability as a z-score, 0 for p >= 0.5, capped at MAX_SCORE. */
export function tailProbabilityScore(p: number): number {
  if (!(p < 0.5)) return 0;
  if (p <= 0) return MAX_SCORE;
  return Math.min(MAX_SCORE, -probit(p));
}

/**
 * P(Z >= z) for a standard normal Z. Through the complementary error function's Chebyshev
 * fit (fractional error below 1.2e-7 everywhere), so far-tail probabilities keep their
 * relative precision, which `1 - cdf` would lose.
 */
export function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(-x * x + poly);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * One score for a trace from the scores of the spans judged in it, so that a trace is as rare
 * under "nothing is wrong" as its score says, however many spans it has. Each span is its own
 * test: a trace of 25 spans each judged at 3 (1 in 740) has about one chance in 30 that some
 * span reaches 3 by chance alone, so the highest span score overstates how unusual the trace
 * is. Simes' test corrects for that: with the span tail probabilities sorted p(1) <= p(2) <= ...
 * among `judged` spans, the trace's tail probability is min over i of judged × p(i) / i. One
 * span far out counts like a Bonferroni correction (judged × p(1)); several spans out at once
 * need less each (i of them at judged × p(i) / i). The rate of clean traces reaching a threshold
 * is then about the threshold's tail probability, not judged times it (Simes holds exactly
 * for independent spans and stays valid when slow spans go together, as callers and callees do).
 *
 * `scores` are the spans' scores (on the z scale; 0 for spans with nothing unusual may be left
 * out); `judged` is how many spans were judged, at least the number of scores. A trace of one
 * judged span keeps that span's score.
 */
export function traceScore(scores: readonly number[], judged: number): number {
  const sorted = scores.filter((s) => s > 0).sort((a, b) => b - a);
  const m = Math.max(judged, sorted.length);
  let best = 0;
  for (let i = 1; i <= sorted.length; i++) {
    const score = sorted[i - 1];
    // When every judged span is this far out no correction applies: the score is exact.
    const corrected = i >= m ? score : tailProbabilityScore((m / i) * normalUpperTail(score));
    if (corrected > best) best = corrected;
  }
  return best;
}

/**
 * Rank test of the recent latencies against the baseline's: the probability that a recent span
 * is slower than a baseline span (the Mann-Whitney AUC, ties counting half), computed bucket by
 * bucket from the two histograms, with its z-score under "same distribution".
 */
export function latencyShift(recent: RecentWindow, baseline: OperationBaseline): { auc: number; z: number } {
  const b = baseline.histogram;
  const r = recent.histogram;
  if (b.empty || r.empty) return { auc: 0.5, z: 0 };
  let sum = 0;
  for (const [index, mass] of r.entries()) {
    sum += mass * (b.massBelow(index) + b.massAt(index) / 2);
  }
  const auc = sum / (r.total * b.total);
  const nR = r.total;
  const nB = Math.max(1, baseline.spans);
  const sd = Math.sqrt((nR + nB + 1) / (12 * nR * nB));
  return { auc, z: (auc - 0.5) / sd };
}

/** Half-width, in buckets, of the neighbourhood whose densities `shiftMembership` compares (about ±50%). */
const DENSITY_HALF_WIDTH = 10;

/**
 * Whether a duration looks like part of a latency shift: slower than the baseline's median,
 * and more likely to come from the shifted spans than from the usual ones. The recent window
 * is a mix, a share s of shifted spans and 1 - s as usual; a span at x belongs to the shifted
 * ones with probability 1 - (1 - s) f_B(x) / f_R(x), which is at least a half when the recent
 * density is at least 2 (1 - s) times the baseline's. Densities are compared over a
 * neighbourhood of about ±50% around x; s is estimated from how much of the recent window is
 * still below the baseline's median (half of it, when nothing moved).
 */
export function shiftMembership(recent: RecentWindow, baseline: OperationBaseline, ms: number): boolean {
  if (!(ms > baseline.p50Ms)) return false;
  const r = recent.histogram;
  const b = baseline.histogram;
  if (r.empty || b.empty) return false;
  const index = bucketOf(ms);
  const inRecent = r.massBelow(index + DENSITY_HALF_WIDTH + 1) - r.massBelow(index - DENSITY_HALF_WIDTH);
  if (inRecent < 3) return false;
  // Half a span of prior mass, so a region the baseline never reached still has a finite density.
  const inBaseline = b.massBelow(index + DENSITY_HALF_WIDTH + 1) - b.massBelow(index - DENSITY_HALF_WIDTH) + 0.5;
  const shiftedShare = Math.min(1, Math.max(0, 1 - (2 * r.massBelow(bucketOf(baseline.p50Ms))) / r.total));
  return inRecent / r.total >= (2 * (1 - shiftedShare) * inBaseline) / b.total;
}

/**
 * Binomial test of `errors` among `spans` against a baseline error rate: P(X >= errors) for
 * X ~ Binomial(spans, rate), as a z-score.
 */
export function errorSpikeScore(errors: number, spans: number, rate: number): number {
  // At or below the expected count the tail probability is at least about a half: no spike.
  if (errors <= 0 || spans <= 0 || errors <= spans * rate) return 0;
  return tailProbabilityScore(binomialUpperTail(errors, spans, rate));
}

/** P(X >= k) for X ~ Binomial(n, p), summed in log space from k up until the terms vanish. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const logNFact = gammaln(n + 1);
  let total = 0;
  for (let i = k; i <= n; i++) {
    const term = Math.exp(logNFact - gammaln(i + 1) - gammaln(n - i + 1) + i * logP + (n - i) * logQ);
    total += term;
    // Past the mode the terms only shrink; stop once they no longer matter.
    if (i > n * p && term < total * 1e-12) break;
  }
  return Math.min(1, total);
}
