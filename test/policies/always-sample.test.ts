import { describe, expect, it } from 'vitest';
import { AlwaysSampleEvaluator } from '../../src/policies/always-sample.js';
import type { PolicyEvaluator } from '../../src/policies/evaluator.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

describe('always_sample', () => {
  it.each([
    ['an empty trace', 0, 0],
    ['a single ok span', 1, 1],
    ['many failing spans', 7, 2],
  ])('samples %s', (_, count, statusCode) => {
    const evaluator: PolicyEvaluator = new AlwaysSampleEvaluator();
    const trace = makeTrace(Array.from({ length: count }, () => ({ statusCode })));
    expect(evaluator.evaluate(trace, { nowMs: TEST_BASE_MS })).toBe('sampled');
  });
});
