import { describe, expect, it } from 'vitest';
import { RateLimitingEvaluator } from '../../src/policies/rate-limiting.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const spans = (count: number) => makeTrace(Array.from({ length: count }, () => ({})));
const at = (offsetMs: number) => ({ nowMs: TEST_BASE_MS + offsetMs });

describe('rate_limiting', () => {
  it('samples while the span budget lasts, then refills at spans_per_second', () => {
    const policy = new RateLimitingEvaluator(10); // bucket of 20 spans, full at start
    const steps: [number, number, string][] = [
      [0, 15, 'sampled'], // 20 → 5
      [0, 6, 'not_sampled'], // 5 < 6; nothing taken
      [0, 5, 'sampled'], // 5 → 0
      [0, 1, 'not_sampled'],
      [500, 5, 'sampled'], // +5 in half a second
      [500, 1, 'not_sampled'],
      [60_000, 20, 'sampled'], // refilled to the burst, not beyond
      [60_000, 1, 'not_sampled'],
    ];
    for (const [offset, count, expected] of steps) expect(policy.evaluate(spans(count), at(offset))).toBe(expected);
  });

  it('never samples a trace larger than the burst', () => {
    const policy = new RateLimitingEvaluator(10);
    expect(policy.evaluate(spans(21), at(0))).toBe('not_sampled');
    expect(policy.evaluate(spans(21), at(3_600_000))).toBe('not_sampled');
    expect(policy.evaluate(spans(20), at(3_600_000))).toBe('sampled');
  });

  it('takes burst_capacity when given', () => {
    const policy = new RateLimitingEvaluator(10, 100);
    expect(policy.evaluate(spans(100), at(0))).toBe('sampled');
    expect(policy.evaluate(spans(1), at(0))).toBe('not_sampled');
  });

  it('refills nothing when time goes backwards', () => {
    const policy = new RateLimitingEvaluator(10, 10);
    expect(policy.evaluate(spans(10), at(10_000))).toBe('sampled');
    expect(policy.evaluate(spans(1), at(0))).toBe('not_sampled');
    expect(policy.evaluate(spans(1), at(10_100))).toBe('sampled');
  });
});
