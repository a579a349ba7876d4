import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { SpanCountEvaluator } from '../../src/policies/span-count.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

describe('span_count', () => {
  // The Collector: min_spans <= count <= max_spans, both inclusive; max_spans 0 is no upper bound.
  it.each<[number, number, number, Decision]>([
    [2, 5, 1, 'not_sampled'],
    [2, 5, 2, 'sampled'],
    [2, 5, 5, 'sampled'],
    [2, 5, 6, 'not_sampled'],
    [2, 0, 1, 'not_sampled'],
    [2, 0, 2, 'sampled'],
    [2, 0, 500, 'sampled'],
    [0, 0, 0, 'sampled'],
    [3, 3, 3, 'sampled'],
  ])('min %i, max %i, %i spans: %s', (min, max, count, expected) => {
    const trace = makeTrace(Array.from({ length: count }, () => ({})));
    expect(new SpanCountEvaluator(min, max).evaluate(trace, ctx)).toBe(expected);
  });
});
