import { describe, expect, it } from 'vitest';
import { probit } from 'simple-statistics';
import { anomalyAttributes, ANOMALY_REASON_ATTRIBUTE } from '../../src/baselines/anomaly-attributes.js';
import { normalUpperTail, traceScore } from '../../src/baselines/anomaly-scores.js';
import type { Baselines } from '../../src/baselines/baselines.js';
import { drawLatencyMs } from '../../src/generate/latency.js';
import type { Prng } from '../../src/generate/prng.js';
import type { SpanView } from '../../src/otlp/types.js';
import { memoryBaselines, rngFor, runTraffic, span, T0, type OperationTraffic } from './synthetic-traffic.js';

const MIN = 60_000;
const SPANS_PER_TRACE = 25;
const THRESHOLD = 3;

describe('normalUpperTail', () => {
  it('matches known standard normal tail probabilities, far into the tail', () => {
    for (const [z, p] of [
      [0, 0.5],
      [1, 0.158655254],
      [3, 1.349898e-3],
      [5, 2.866516e-7],
      [8, 6.220961e-16],
      [-2, 0.977249868],
    ]) {
      expect(Math.abs(normalUpperTail(z) - p) / p).toBeLessThan(1e-5);
    }
  });
});

describe('traceScore', () => {
  it('keeps the score of a trace with a single judged span', () => {
    expect(traceScore([3.2], 1)).toBe(3.2);
    expect(traceScore([], 5)).toBe(0);
  });

  it('corrects one span for the number judged, as rare as a single span would have to be', () => {
    // 1 in 740 among 25 spans happens by chance in about one trace in 30.
    expect(traceScore([3], 25)).toBeLessThan(2);
    // 25 × P(Z >= 4.5) is still rarer than 1 in 740.
    expect(traceScore([4.5], 25)).toBeGreaterThan(3.3);
    expect(traceScore([4.5], 25)).toBeLessThan(4.5);
    // More spans judged, more correction.
    expect(traceScore([4], 100)).toBeLessThan(traceScore([4], 10));
  });

  it('lets several spans out at once reach what none of them reaches alone', () => {
    const alone = traceScore([3.5], 25);
    const together = traceScore([3.5, 3.5, 3.5, 3.5, 3.5], 25);
    expect(alone).toBeLessThan(THRESHOLD);
    expect(together).toBeGreaterThanOrEqual(THRESHOLD);
    // Spans with nothing unusual (score 0) and the order the scores come in change nothing.
    expect(traceScore([0, 3.5, 0, 3.5, 3.5, 3.5, 3.5], 25)).toBeCloseTo(together, 12);
  });

  it('does not correct when every judged span is out', () => {
    expect(traceScore([3.1, 3.1], 2)).toBeCloseTo(3.1, 12);
    expect(traceScore([3.1], 2)).toBeLessThan(3.1);
  });
});

/**
 * Operations of different speeds and spreads, log-normal (the latency score is calibrated on
 * that body; a heavy tail the baseline keeps out is another matter): a trace touches each once.
 */
const OPS: readonly OperationTraffic[] = Array.from({ length: SPANS_PER_TRACE }, (_, i) => ({
  service: `svc-${i % 5}`,
  name: `op-${i}`,
  latency: { medianMs: 5 + 40 * (i % 7), sigma: 0.2 + 0.1 * (i % 4), tailShare: 0 },
  rate: 3,
}));

function traceOf(rng: Prng, index: number, nowMs: number, durationOf: (op: OperationTraffic, drawn: number) => number = (_op, drawn) => drawn): SpanView[] {
  const traceId = (index + 1).toString(16).padStart(32, '0');
  return OPS.map((op, i) => {
    const ms = durationOf(op, drawLatencyMs(rng, op.latency));
    return span(op.service, op.name, ms, { traceId, spanId: (i + 1).toString(16).padStart(16, '0'), startMs: nowMs - ms });
  });
}

/** The duration whose latency score against the operation's baseline is `z` (the score read backwards). */
function scoring(baselines: Baselines, op: OperationTraffic, nowMs: number, z: number): number {
  const baseline = baselines.baseline(op.service, op.name, nowMs);
  if (baseline === undefined) throw new Error(`no baseline for ${op.name}`);
  const spread = Math.max(Math.log(baseline.p99Ms / baseline.p50Ms), Math.log(1.5));
  return baseline.p50Ms * Math.exp((z * spread) / probit(0.99));
}

function warmedUp(): { baselines: Baselines; now: number } {
  const baselines = memoryBaselines({ minSamples: 200 });
  runTraffic(baselines, rngFor(51, 'trace-score'), OPS, T0, T0 + 15 * MIN);
  return { baselines, now: T0 + 15 * MIN };
}

describe('trace score on synthetic traffic', () => {
  it(`keeps clean traces of ${SPANS_PER_TRACE} spans about as rarely as the threshold says, not ${SPANS_PER_TRACE} times as often`, () => {
    const { baselines, now } = warmedUp();
    const rng = rngFor(52, 'clean traces');
    const traces = 4000;
    let kept = 0;
    let someSpanAtThreshold = 0;
    for (let i = 0; i < traces; i++) {
      const anomaly = baselines.scoreTrace(traceOf(rng, i, now), now, { threshold: THRESHOLD });
      expect(anomaly.judgedSpans).toBe(SPANS_PER_TRACE);
      if (anomaly.anomalousSpans > 0) someSpanAtThreshold += 1;
      if (anomaly.score >= THRESHOLD) kept += 1;
    }
    const nominal = normalUpperTail(THRESHOLD);
    // Judged by their highest span score these traces would be kept many times the nominal rate.
    expect(someSpanAtThreshold / traces).toBeGreaterThan(5 * nominal);
    expect(kept / traces).toBeLessThanOrEqual(2 * nominal);
  });

  it('keeps a trace with one span far out, and one with several moderately out', () => {
    const { baselines, now } = warmedUp();
    const rng = rngFor(53, 'departing traces');
    const far = traceOf(rng, 1, now, (op, drawn) => (op === OPS[4] ? scoring(baselines, op, now, 7) : drawn));
    const farAnomaly = baselines.scoreTrace(far, now, { threshold: THRESHOLD });
    expect(farAnomaly.score).toBeGreaterThanOrEqual(THRESHOLD);
    expect(farAnomaly.top?.operation).toBe('op-4');

    // Five spans each scoring 3.6: alone, one is not enough for a trace of 25 spans (1 in 6,300,
    // about one trace in 250 by chance); five together are.
    const moderate = new Set([OPS[1], OPS[2], OPS[4], OPS[5], OPS[7]]);
    const oneModerate = baselines.scoreTrace(traceOf(rng, 2, now, (op, drawn) => (op === OPS[1] ? scoring(baselines, op, now, 3.6) : drawn)), now, { threshold: THRESHOLD });
    expect(oneModerate.score).toBeLessThan(THRESHOLD);
    const several = baselines.scoreTrace(traceOf(rng, 3, now, (op, drawn) => (moderate.has(op) ? scoring(baselines, op, now, 3.6) : drawn)), now, { threshold: THRESHOLD });
    expect(several.anomalousSpans).toBeGreaterThanOrEqual(5);
    expect(several.score).toBeGreaterThanOrEqual(THRESHOLD);
  });

  it('does not correct a span taking part in a departure: the departure was tested once, for its operation', () => {
    const { baselines, now } = warmedUp();
    const slowed = OPS.map((op) => (op === OPS[1] ? { ...op, slowdown: () => 2 } : op));
    runTraffic(baselines, rngFor(55, 'departure'), slowed, now, now + 2 * MIN);
    const later = now + 2 * MIN;
    const departure = baselines.departures(later).find((d) => d.operation === 'op-1' && d.kind === 'latency');
    expect(departure).toBeDefined();
    const rng = rngFor(56, 'in departure');
    const trace = traceOf(rng, 1, later, (op, drawn) => (op === OPS[1] ? 2 * op.latency.medianMs : drawn));
    const anomaly = baselines.scoreTrace(trace, later, { threshold: THRESHOLD });
    expect(anomaly.top?.operation).toBe('op-1');
    expect(anomaly.top?.reason).toMatch(/latency shifted/);
    expect(anomaly.score).toBeCloseTo(Math.min(departure?.z ?? 0, 8), 12);
    expect(anomaly.score).toBeGreaterThanOrEqual(THRESHOLD);
  });

  it('says in the reason how many spans the score was corrected for', () => {
    const { baselines, now } = warmedUp();
    const rng = rngFor(54, 'reason');
    const anomaly = baselines.scoreTrace(traceOf(rng, 1, now, (op, drawn) => (op === OPS[4] ? scoring(baselines, op, now, 7) : drawn)), now, { threshold: THRESHOLD });
    const reason = anomalyAttributes(anomaly).find((a) => a.key === ANOMALY_REASON_ATTRIBUTE)?.value;
    expect(reason).toMatch(/^svc-4 "op-4" \S+; baseline p50 \S+ p99 \S+; most unusual of 25 judged spans$/);
  });
});
