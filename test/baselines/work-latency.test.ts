import { describe, expect, it } from 'vitest';
import type { Baselines } from '../../src/baselines/baselines.js';
import { formatPerUnit, workUnit } from '../../src/baselines/anomaly-reasons.js';
import { drawLatencyMs } from '../../src/generate/latency.js';
import type { Prng } from '../../src/generate/prng.js';
import type { SpanView } from '../../src/otlp/types.js';
import { memoryBaselines, rngFor, span, T0 } from './synthetic-traffic.js';

const MIN = 60_000;
const WARM = 20 * MIN;
const TOKENS = 'gen_ai.usage.output_tokens';

/** How a model answers: time to the first token, then a time per output token. */
interface ChatTraffic {
  /** Median output length in tokens; the spread is wide, as answers are. */
  readonly medianTokens: number;
  readonly tokenSigma: number;
  /** Multiplies every call's duration (a slow provider). */
  readonly slowdown: number;
  /** Leaves the work attribute off, as a span without usage data would be. */
  readonly withoutTokens?: boolean;
}

const USUAL: ChatTraffic = { medianTokens: 220, tokenSigma: 0.9, slowdown: 1 };

/** As a `max_tokens` setting would cap them. */
const MAX_TOKENS = 2047;

function chatSpan(rng: Prng, traffic: ChatTraffic, nowMs: number): SpanView {
  const tokens = Math.max(1, Math.round(drawLatencyMs(rng, { medianMs: traffic.medianTokens, sigma: traffic.tokenSigma, tailShare: 0.02, capMs: MAX_TOKENS })));
  const firstTokenMs = drawLatencyMs(rng, { medianMs: 350, sigma: 0.5, tailShare: 0.04, tailAlpha: 1.5, capMs: 20_000 });
  const ms = (firstTokenMs + tokens * 9 * rng.between(0.85, 1.15)) * traffic.slowdown;
  return span('llm-inference', 'chat', ms, { startMs: nowMs - ms, attributes: traffic.withoutTokens === true ? {} : { [TOKENS]: tokens } });
}

/**
 * Feeds chat spans at 20/s from `fromMs` to `toMs` in 100 ms batches, scoring each span alone
 * right after it was observed; returns the share scoring at least 3 and the departures seen.
 */
function run(b: Baselines, rng: Prng, traffic: ChatTraffic, fromMs: number, toMs: number, score = false): { flagged: number; departures: Set<string> } {
  let flagged = 0;
  let total = 0;
  const departures = new Set<string>();
  for (let t = fromMs; t < toMs; t += 100) {
    const nowMs = t + 100;
    const batch = [chatSpan(rng, traffic, nowMs), chatSpan(rng, traffic, nowMs)];
    b.observe(batch, nowMs);
    if (!score) continue;
    for (const s of batch) {
      total += 1;
      if (b.scoreTrace([s], nowMs).score >= 3) flagged += 1;
    }
    for (const d of b.departures(nowMs)) departures.add(d.key);
  }
  return { flagged: total === 0 ? 0 : flagged / total, departures };
}

function warmed(overrides: Record<string, unknown> = {}, seed = 1): Baselines {
  const b = memoryBaselines(overrides);
  run(b, rngFor(seed, 'warm'), USUAL, T0, T0 + WARM);
  return b;
}

describe('latency per unit of work', () => {
  it('does not flag the usual spread of output lengths and first-token times', () => {
    const b = warmed();
    const { flagged } = run(b, rngFor(2, 'noise'), USUAL, T0 + WARM, T0 + WARM + 10 * MIN, true);
    // Rare work classes have too few spans for their empirical tail to bound the score: about 0.5%.
    expect(flagged).toBeLessThan(0.01);
  });

  it('flags calls slowed five-fold, far more of them than plain latency with its wide spread does', () => {
    const perWork = warmed();
    const slow = { ...USUAL, slowdown: 5 };
    const withWork = run(perWork, rngFor(3, 'slow'), slow, T0 + WARM, T0 + WARM + MIN, true);
    const plain = warmed({ workAttributes: [] });
    // Judged on its first 20 s only, before a departure of the window would carry plain latency.
    const withoutWork = run(plain, rngFor(3, 'slow'), slow, T0 + WARM, T0 + WARM + 20_000, true);
    expect(withWork.flagged).toBeGreaterThan(0.9);
    expect(withWork.flagged - withoutWork.flagged).toBeGreaterThan(0.2);
  });

  it('once the slowdown has lasted a recent window, flags nearly every slowed call and says the time per unit shifted', () => {
    const b = warmed();
    const slow = { ...USUAL, slowdown: 5 };
    run(b, rngFor(8, 'slow'), slow, T0 + WARM, T0 + WARM + MIN);
    const later = run(b, rngFor(9, 'slow'), slow, T0 + WARM + MIN, T0 + WARM + 3 * MIN, true);
    expect(later.flagged).toBeGreaterThan(0.98);
    const now = T0 + WARM + 3 * MIN;
    // 13 ms/token is a usual call; 45 ms/token is like the shifted ones.
    const usual = b.scoreTrace([span('llm-inference', 'chat', 2600, { startMs: now - 2600, attributes: { [TOKENS]: 200 } })], now);
    expect(usual.score).toBeLessThan(3);
    const slowed = b.scoreTrace([span('llm-inference', 'chat', 9000, { startMs: now - 9000, attributes: { [TOKENS]: 200 } })], now);
    expect(slowed.score).toBeGreaterThanOrEqual(5);
    expect(slowed.top?.reason).toMatch(/ms\/token\); baseline for 128 to 255 output tokens p50 .* ms\/token; shifted \(recent p50 \d+ ms\/token p99 \d+ ms\/token\)$/);
  });

  it('does not flag answers that are merely longer, which plain latency calls a shift', () => {
    const longer = { ...USUAL, medianTokens: 660 };
    const perWork = warmed();
    const withWork = run(perWork, rngFor(4, 'longer'), longer, T0 + WARM, T0 + WARM + 3 * MIN, true);
    expect(withWork.flagged).toBeLessThan(0.01);
    const plain = warmed({ workAttributes: [] });
    const withoutWork = run(plain, rngFor(4, 'longer'), longer, T0 + WARM, T0 + WARM + 3 * MIN, true);
    expect(withoutWork.departures).toContain('llm-inference/chat/latency');
    expect(withoutWork.flagged).toBeGreaterThan(0.3);
  });

  it('judges spans without the attribute by their plain latency', () => {
    const b = warmed();
    const now = T0 + WARM;
    const bare = span('llm-inference', 'chat', 45_000, { startMs: now - 45_000 });
    const anomaly = b.scoreTrace([bare], now);
    expect(anomaly.top?.reason).toMatch(/^llm-inference "chat" 45s; baseline p50 \S+ p99 \S+$/);
  });

  it('names the duration, the work, the time per unit and the baseline per unit in the reason', () => {
    const b = warmed();
    const now = T0 + WARM;
    const anomaly = b.scoreTrace([span('llm-inference', 'chat', 9000, { startMs: now - 9000, attributes: { [TOKENS]: 180 } })], now);
    expect(anomaly.top?.kind).toBe('latency');
    expect(anomaly.score).toBeGreaterThan(3);
    expect(anomaly.top?.reason).toMatch(/^llm-inference "chat" 9s for 180 output tokens \(50 ms\/token\); baseline for 128 to 255 output tokens p50 1\d ms\/token p99 \d+(\.\d+)? ms\/token$/);
  });

  it('judges nothing per unit before the baseline has min_samples spans', () => {
    const b = memoryBaselines({ minSamples: 200 });
    // 5 s at 20/s: 100 spans, all still in the recent window.
    run(b, rngFor(5, 'early'), USUAL, T0, T0 + 5_000);
    const now = T0 + 5_000;
    expect(b.scoreTrace([span('llm-inference', 'chat', 90_000, { startMs: now - 90_000, attributes: { [TOKENS]: 10 } })], now).score).toBe(0);
  });

  it('keeps spans that are anomalous per unit out of the per-unit baseline', () => {
    const b = warmed();
    const before = b.workBaseline('llm-inference', 'chat', TOKENS, 200, T0 + WARM);
    run(b, rngFor(6, 'burst'), { ...USUAL, slowdown: 5 }, T0 + WARM, T0 + WARM + MIN);
    run(b, rngFor(7, 'after'), USUAL, T0 + WARM + MIN, T0 + WARM + 2 * MIN);
    const after = b.workBaseline('llm-inference', 'chat', TOKENS, 200, T0 + WARM + 2 * MIN);
    expect(before?.spans).toBeGreaterThan(1000);
    expect(after?.p99Ms).toBeLessThan((before?.p99Ms ?? 0) * 1.1);
    expect(after?.p50Ms).toBeLessThan((before?.p50Ms ?? 0) * 1.1);
  });

  it('stops decoding attributes of operations whose spans carry no work attribute', () => {
    const b = memoryBaselines();
    let reads = 0;
    const counted = (s: SpanView): SpanView => ({
      ...s,
      attribute: (key) => {
        reads += 1;
        return s.attribute(key);
      },
    });
    for (let i = 0; i < 500; i++) b.observe([counted(span('checkout', 'POST /pay', 20, { startMs: T0 + i * 100 }))], T0 + i * 100 + 20);
    expect(reads).toBeLessThan(100);
    expect(b.workBaseline('checkout', 'POST /pay', TOKENS, 1, T0 + 60_000)).toBeUndefined();
  });
});

describe('work units in reasons', () => {
  it.each([
    ['gen_ai.usage.output_tokens', 'output tokens', 'token'],
    ['app.rows', 'rows', 'row'],
  ])('names %s as %s, one %s', (attribute, plural, singular) => {
    expect(workUnit(attribute)).toEqual({ plural, singular });
  });

  it('writes a duration per unit with a space before the unit of time', () => {
    expect(formatPerUnit(24.4, 'token')).toBe('24 ms/token');
    expect(formatPerUnit(1.25, 'row')).toBe('1.25 ms/row');
    expect(formatPerUnit(2400, 'page')).toBe('2.4 s/page');
  });
});
