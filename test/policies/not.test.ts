import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { LatencyEvaluator } from '../../src/policies/latency.js';
import { NotEvaluator } from '../../src/policies/not.js';
import { StringAttributeEvaluator } from '../../src/policies/string-attribute.js';
import { TEST_BASE_MS, makeTrace, traceWithDuration } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

describe('not', () => {
  it.each<[number, Decision]>([
    [999, 'sampled'],
    [1000, 'not_sampled'],
    [5000, 'not_sampled'],
  ])('not(latency >= 1000 ms) on a %i ms trace: %s', (durationMs, expected) => {
    expect(new NotEvaluator(new LatencyEvaluator(1000)).evaluate(traceWithDuration(durationMs), ctx)).toBe(expected);
  });

  it('flips an attribute match, including an inverted one', () => {
    const isFrontend = new StringAttributeEvaluator({ key: 'service.name', values: ['frontend'] });
    const isNotFrontend = new StringAttributeEvaluator({ key: 'service.name', values: ['frontend'], invertMatch: true });
    const frontend = makeTrace([{ resource: { 'service.name': 'frontend' } }]);
    const other = makeTrace([{ resource: { 'service.name': 'cart' } }]);
    expect(new NotEvaluator(isFrontend).evaluate(frontend, ctx)).toBe('not_sampled');
    expect(new NotEvaluator(isFrontend).evaluate(other, ctx)).toBe('sampled');
    // Inverted decisions are plain decisions now, so `not` flips them like any other.
    expect(new NotEvaluator(isNotFrontend).evaluate(frontend, ctx)).toBe('sampled');
    expect(new NotEvaluator(isNotFrontend).evaluate(other, ctx)).toBe('not_sampled');
  });
});
