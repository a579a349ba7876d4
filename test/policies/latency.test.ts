import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { LatencyEvaluator } from '../../src/policies/latency.js';
import { TEST_BASE_MS, makeTrace, traceWithDuration } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

describe('latency', () => {
  // The Collector: without an upper bound, duration >= threshold_ms; with one,
  // threshold_ms < duration <= upper_threshold_ms. Durations are whole milliseconds, truncated.
  it.each<[string, number, number, number, Decision]>([
    ['shorter than the threshold', 5000, 0, 4999, 'not_sampled'],
    ['equal to the threshold (inclusive without an upper bound)', 5000, 0, 5000, 'sampled'],
    ['longer than the threshold', 5000, 0, 5001, 'sampled'],
    ['a fraction below the threshold (truncated)', 1000, 0, 999.9, 'not_sampled'],
    ['a fraction above the threshold', 1000, 0, 1000.9, 'sampled'],
    ['zero long with threshold 0', 0, 0, 0, 'sampled'],
    ['equal to the lower bound of a range (exclusive)', 5000, 10000, 5000, 'not_sampled'],
    ['just inside the range', 5000, 10000, 5001, 'sampled'],
    ['equal to the upper bound (inclusive)', 5000, 10000, 10000, 'sampled'],
    ['above the upper bound', 5000, 10000, 10001, 'not_sampled'],
  ])('a trace %s', (_, threshold, upper, durationMs, expected) => {
    expect(new LatencyEvaluator(threshold, upper).evaluate(traceWithDuration(durationMs), ctx)).toBe(expected);
  });

  it('measures from the earliest start to the latest end of the whole trace', () => {
    // No single span lasts more than 10 ms; the trace spans 5 s.
    const trace = makeTrace([
      { startMs: TEST_BASE_MS + 3000, endMs: TEST_BASE_MS + 3010 },
      { startMs: TEST_BASE_MS, endMs: TEST_BASE_MS + 10, parentSpanId: '1111111111111111' },
      { startMs: TEST_BASE_MS + 4990, endMs: TEST_BASE_MS + 5000, parentSpanId: '1111111111111111' },
    ]);
    expect(new LatencyEvaluator(5000).evaluate(trace, ctx)).toBe('sampled');
    expect(new LatencyEvaluator(5001).evaluate(trace, ctx)).toBe('not_sampled');
  });

  it('judges the whole trace against an upper bound, not the first spans', () => {
    // The first span alone (2 s) is in range; the trace (20 s) is not.
    const trace = makeTrace([
      { startMs: TEST_BASE_MS, endMs: TEST_BASE_MS + 2000 },
      { startMs: TEST_BASE_MS, endMs: TEST_BASE_MS + 20_000, parentSpanId: '1111111111111111' },
    ]);
    expect(new LatencyEvaluator(1000, 10_000).evaluate(trace, ctx)).toBe('not_sampled');
  });

  it('is not fooled by float error in span times', () => {
    // 0.1 + 0.2-style error: the end is 1000 ms after the start, but not exactly in floating point.
    const start = TEST_BASE_MS + 0.123456;
    const trace = makeTrace([{ startMs: start, endMs: start + 999.9999999 }]);
    expect(new LatencyEvaluator(1000).evaluate(trace, ctx)).toBe('sampled');
  });

  it('does not sample an empty trace', () => {
    expect(new LatencyEvaluator(0).evaluate(makeTrace([]), ctx)).toBe('not_sampled');
  });
});
