import { describe, expect, it } from 'vitest';
import type { Baselines } from '../../src/baselines/baselines.js';
import type { OperationTraffic } from './synthetic-traffic.js';
import { memoryBaselines, rngFor, runTraffic, span, T0 } from './synthetic-traffic.js';

const MIN = 60_000;
const WARM = 20 * MIN;

/** Scores every span made between `from` and `to` alone; returns the share scoring >= threshold. */
function flaggedShare(b: Baselines, ops: readonly OperationTraffic[], from: number, to: number, seed: number, threshold = 3, skipMs = 0): number {
  let flagged = 0;
  let total = 0;
  runTraffic(b, rngFor(seed, 'score'), ops, from, to, (s, t) => {
    if (t < from + skipMs) return;
    total += 1;
    if (b.scoreTrace([s], t).score >= threshold) flagged += 1;
  });
  return flagged / total;
}

const NOISE_LEVELS = [
  { sigma: 0.3, tailShare: 0 },
  { sigma: 0.6, tailShare: 0.03 },
  { sigma: 1.0, tailShare: 0.03 },
];

describe('latency detector', () => {
  for (const { sigma, tailShare } of NOISE_LEVELS) {
    const op: OperationTraffic = { service: 'llm-inference', name: 'chat', latency: { medianMs: 400, sigma, tailShare, tailAlpha: 1.5 }, rate: 20 };

    it(`does not flag noise (sigma ${sigma}, tail ${tailShare}): few spans score 3 and no departure in 10 minutes`, () => {
      const b = memoryBaselines();
      runTraffic(b, rngFor(7, `warm-${sigma}`), [op], T0, T0 + WARM);
      const departures: string[] = [];
      let flagged = 0;
      let total = 0;
      runTraffic(b, rngFor(8, `noise-${sigma}`), [op], T0 + WARM, T0 + WARM + 10 * MIN, (s, t) => {
        total += 1;
        if (b.scoreTrace([s], t).score >= 3) flagged += 1;
        for (const d of b.departures(t)) departures.push(d.summary);
      });
      expect(departures).toEqual([]);
      expect(flagged / total).toBeLessThan(0.005);
    });

    it(`detects a 5x shift (sigma ${sigma}, tail ${tailShare}): a departure, and most shifted spans score 3`, () => {
      const b = memoryBaselines();
      runTraffic(b, rngFor(7, `warm-${sigma}`), [op], T0, T0 + WARM);
      const start = T0 + WARM;
      const share = flaggedShare(b, [{ ...op, slowdown: () => 5 }], start, start + 2 * MIN, 9, 3, 20_000);
      const departures = b.departures(start + 2 * MIN);
      expect(departures.map((d) => `${d.service}/${d.operation}/${d.kind}`)).toEqual(['llm-inference/chat/latency']);
      expect(departures[0].observed.p50Ms).toBeGreaterThan(3 * departures[0].baseline.p50Ms);
      expect(share).toBeGreaterThan(sigma < 1 ? 0.85 : 0.65);
    });
  }

  it('names the span, its duration and the baseline in the reason', () => {
    const b = memoryBaselines();
    const op: OperationTraffic = { service: 'llm-inference', name: 'chat', latency: { medianMs: 410, sigma: 0.2, tailShare: 0 }, rate: 20 };
    runTraffic(b, rngFor(1, 'reason'), [op], T0, T0 + WARM);
    const now = T0 + WARM;
    const anomaly = b.scoreTrace([span('llm-inference', 'chat', 2400, { startMs: now - 2400 })], now);
    expect(anomaly.score).toBeGreaterThan(5);
    expect(anomaly.top?.kind).toBe('latency');
    expect(anomaly.top?.reason).toMatch(/^llm-inference "chat" 2\.4s; baseline p50 4\d\dms p99 [67]\d\dms$/);
  });

  it('judges nothing before an operation has min_samples spans (warm-up)', () => {
    const b = memoryBaselines({ minSamples: 200 });
    const op: OperationTraffic = { service: 'api', name: 'GET /x', latency: { medianMs: 50, sigma: 0.3, tailShare: 0 }, rate: 1 };
    // 150 spans in the baseline after 3 minutes at 1/s, less the recent window.
    runTraffic(b, rngFor(2, 'warmup'), [op], T0, T0 + 3 * MIN);
    const now = T0 + 3 * MIN;
    expect(b.baseline('api', 'GET /x', now)?.spans).toBeLessThan(200);
    expect(b.scoreTrace([span('api', 'GET /x', 5000)], now).score).toBe(0);
    // Once past it, the same span is far outside.
    runTraffic(b, rngFor(3, 'warmup'), [op], now, now + 3 * MIN);
    expect(b.baseline('api', 'GET /x', now + 3 * MIN)?.spans).toBeGreaterThanOrEqual(200);
    expect(b.scoreTrace([span('api', 'GET /x', 5000)], now + 3 * MIN).score).toBeGreaterThan(3);
  });

  it('keeps anomalous spans out of the baseline', () => {
    const op: OperationTraffic = { service: 'db', name: 'SELECT', latency: { medianMs: 20, sigma: 0.3, tailShare: 0 }, rate: 50 };
    const burst: OperationTraffic = { ...op, slowdown: () => 20 };
    const run = (guard: boolean) => {
      const b = memoryBaselines(guard ? {} : { absorbThreshold: 1000, departure: { latencyZ: 1e9 } });
      runTraffic(b, rngFor(4, 'absorb'), [op], T0, T0 + WARM);
      const before = b.baseline('db', 'SELECT', T0 + WARM);
      // A burst of 20x spans as large as a tenth of the baseline, then a minute of normal traffic.
      runTraffic(b, rngFor(5, 'absorb'), [burst], T0 + WARM, T0 + WARM + MIN);
      runTraffic(b, rngFor(6, 'absorb'), [op], T0 + WARM + MIN, T0 + WARM + 2 * MIN);
      return { before, after: b.baseline('db', 'SELECT', T0 + WARM + 2 * MIN), keptOut: b.counters.spansKeptOut };
    };
    const guarded = run(true);
    expect(guarded.after?.p99Ms).toBeLessThan((guarded.before?.p99Ms ?? 0) * 1.1);
    expect(guarded.keptOut).toBeGreaterThan(2_900);
    // With the guard off (nothing scores 1000, no departure is ever found), the same burst drags the p99 up.
    const unguarded = run(false);
    expect(unguarded.after?.p99Ms).toBeGreaterThan((unguarded.before?.p99Ms ?? 0) * 5);
  });
});

describe('error detector', () => {
  for (const baseRate of [0.0005, 0.002]) {
    const op: OperationTraffic = { service: 'payments', name: 'POST /charge', latency: { medianMs: 80, sigma: 0.4, tailShare: 0 }, rate: 30, errorRate: baseRate };

    it(`does not call the usual errors a spike (base rate ${baseRate})`, () => {
      const b = memoryBaselines();
      runTraffic(b, rngFor(10, `e${baseRate}`), [op], T0, T0 + WARM);
      const found: string[] = [];
      runTraffic(b, rngFor(11, `e${baseRate}`), [op], T0 + WARM, T0 + WARM + 10 * MIN, (_s, t) => {
        for (const d of b.departures(t)) found.push(d.summary);
      });
      expect(found).toEqual([]);
    });

    it(`detects a 20% error burst (base rate ${baseRate}) and flags its errors`, () => {
      const b = memoryBaselines();
      runTraffic(b, rngFor(10, `e${baseRate}`), [op], T0, T0 + WARM);
      const start = T0 + WARM;
      let errors = 0;
      let flagged = 0;
      runTraffic(b, rngFor(12, `e${baseRate}`), [{ ...op, errorRate: 0.2 }], start, start + MIN, (s, t) => {
        if (s.statusCode !== 2 || t < start + 20_000) return;
        errors += 1;
        if (b.scoreTrace([s], t).score >= 3) flagged += 1;
      });
      const departures = b.departures(start + MIN);
      expect(departures.map((d) => d.kind)).toEqual(['error_rate']);
      expect(departures[0].observed.errorRate).toBeGreaterThan(0.1);
      expect(flagged / errors).toBeGreaterThan(0.99);
    });
  }

  it('scores an error high where errors are rare, low where they are common', () => {
    const rare = memoryBaselines();
    const common = memoryBaselines();
    const op = (errorRate: number): OperationTraffic => ({ service: 'svc', name: 'op', latency: { medianMs: 10, sigma: 0.3, tailShare: 0 }, rate: 20, errorRate });
    runTraffic(rare, rngFor(13, 'rare'), [op(0)], T0, T0 + WARM);
    runTraffic(common, rngFor(13, 'common'), [op(0.05)], T0, T0 + WARM);
    const failed = span('svc', 'op', 10, { error: true, startMs: T0 + WARM - 10 });
    const r = rare.scoreTrace([failed], T0 + WARM);
    expect(r.score).toBeGreaterThan(3);
    expect(r.top?.reason).toMatch(/^svc "op" failed; baseline error rate 0\.00\d% of \d+ spans$/);
    expect(common.scoreTrace([failed], T0 + WARM).score).toBeLessThan(2);
  });
});

describe('new operations and call edges', () => {
  const known: OperationTraffic[] = [
    { service: 'api-gateway', name: 'POST /ask', latency: { medianMs: 900, sigma: 0.3, tailShare: 0 }, rate: 5 },
    { service: 'llm-inference', name: 'chat', latency: { medianMs: 700, sigma: 0.3, tailShare: 0 }, rate: 5 },
  ];

  function trace(id: string, nowMs: number, child: [service: string, name: string]): ReturnType<typeof span>[] {
    const traceId = id.padStart(32, '0');
    return [
      span('api-gateway', 'POST /ask', 900, { traceId, spanId: '000000000000000a', startMs: nowMs - 900 }),
      span(child[0], child[1], 700, { traceId, spanId: '000000000000000b', parentSpanId: '000000000000000a', startMs: nowMs - 800 }),
    ];
  }

  it('flags an operation first seen after the warm-up, not one seen during it', () => {
    const b = memoryBaselines({ warmup: '5m' });
    runTraffic(b, rngFor(20, 'new'), known, T0, T0 + 10 * MIN);
    const during = memoryBaselines({ warmup: '5m' });
    runTraffic(during, rngFor(20, 'new'), known, T0, T0 + MIN);
    const early = trace('1', T0 + MIN, ['vector-search', 'POST /search']);
    during.observe(early, T0 + MIN);
    const duringWarmup = during.scoreTrace(early, T0 + MIN);
    expect(duringWarmup.score).toBeLessThan(3);
    expect(duringWarmup.top?.kind).not.toBe('new_operation');

    const now = T0 + 10 * MIN;
    const late = trace('2', now, ['vector-search', 'POST /search']);
    b.observe(late, now);
    const anomaly = b.scoreTrace(late, now);
    expect(anomaly.top?.kind).toBe('new_operation');
    expect(anomaly.score).toBeGreaterThanOrEqual(3);
    expect(anomaly.top?.reason).toMatch(/^(vector-search "POST \/search" is new \(first seen 0ms ago\)|new call api-gateway → vector-search \(first seen 0ms ago\))$/);
    // Judged only for the kinds asked for.
    expect(b.scoreTrace(late, now, { kinds: ['latency', 'error'] }).score).toBe(0);
  });

  it('flags a call edge first seen after the warm-up between operations already known', () => {
    const b = memoryBaselines({ warmup: '5m' });
    // Both services are known, but llm-inference is never called from api-gateway here.
    runTraffic(b, rngFor(21, 'edge'), [...known, { service: 'vector-search', name: 'POST /search', latency: { medianMs: 20, sigma: 0.3, tailShare: 0 }, rate: 5 }], T0, T0 + 10 * MIN);
    const now = T0 + 10 * MIN;
    const usual = trace('3', now, ['llm-inference', 'chat']);
    // The first trace with the edge after the warm-up teaches it and is flagged.
    const anomaly = b.scoreTrace(usual, now);
    expect(anomaly.top?.reason).toBe('new call api-gateway → llm-inference (first seen 0ms ago)');
  });
});

describe('cardinality cap and RED series', () => {
  it('counts spans past the cap as overflow and keeps RED totals whole', () => {
    const b = memoryBaselines({ maxOperations: 3 });
    const spans = Array.from({ length: 10 }, (_, i) => span('svc', `GET /items/${i}`, 5, { error: i === 9 }));
    b.observe(spans, T0);
    expect(b.operationCount).toBe(3);
    expect(b.counters.spansOverflow).toBe(7);
    const series = b.redSeries();
    expect(series.map((s) => s.operation)).toEqual(['GET /items/0', 'GET /items/1', 'GET /items/2', '~overflow']);
    const overflow = series[3];
    expect(overflow.requests).toBe(7);
    expect(overflow.errors).toBe(1);
    expect(series.reduce((n, s) => n + s.requests, 0)).toBe(10);
    // 5 ms falls under the first bound (5 ms), so every bucket holds it.
    expect(series[0].durationBuckets).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
});
