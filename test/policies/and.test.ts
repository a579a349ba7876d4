import { describe, expect, it } from 'vitest';
import { AndEvaluator } from '../../src/policies/and.js';
import type { Decision, PolicyEvaluator } from '../../src/policies/evaluator.js';
import { LatencyEvaluator } from '../../src/policies/latency.js';
import { ProbabilisticEvaluator } from '../../src/policies/probabilistic.js';
import { StatusCodeEvaluator } from '../../src/policies/status-code.js';
import { StringAttributeEvaluator } from '../../src/policies/string-attribute.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };
const checkoutErrors = new AndEvaluator([
  new StringAttributeEvaluator({ key: 'service.name', values: ['checkout'] }),
  new StatusCodeEvaluator(['ERROR']),
]);

describe('and', () => {
  it.each<[string, string, number, Decision]>([
    ['both conditions hold', 'checkout', 2, 'sampled'],
    ['only the service matches', 'checkout', 1, 'not_sampled'],
    ['only the status matches', 'cart', 2, 'not_sampled'],
    ['neither matches', 'cart', 1, 'not_sampled'],
  ])('%s: %s', (_, service, statusCode, expected) => {
    const trace = makeTrace([{ resource: { 'service.name': service }, statusCode }]);
    expect(checkoutErrors.evaluate(trace, ctx)).toBe(expected);
  });

  it('lets each condition hold on a different span', () => {
    // The Collector evaluates each sub-policy over the whole trace.
    const trace = makeTrace([{ resource: { 'service.name': 'checkout' } }, { resource: { 'service.name': 'db' }, statusCode: 2 }]);
    expect(checkoutErrors.evaluate(trace, ctx)).toBe('sampled');
  });

  it('stops at the first sub-policy that does not sample', () => {
    let laterCalls = 0;
    const counting: PolicyEvaluator = {
      evaluate: () => {
        laterCalls++;
        return 'sampled';
      },
    };
    const and = new AndEvaluator([new LatencyEvaluator(10_000), counting]);
    expect(and.evaluate(makeTrace([{ durationMs: 5 }]), ctx)).toBe('not_sampled');
    expect(laterCalls).toBe(0);
    expect(and.evaluate(makeTrace([{ durationMs: 20_000 }]), ctx)).toBe('sampled');
    expect(laterCalls).toBe(1);
  });

  it('carries the share of a probabilistic sub-policy', () => {
    expect(new AndEvaluator([new StatusCodeEvaluator(['ERROR']), new ProbabilisticEvaluator(10)]).keepProbability).toBeCloseTo(0.1);
    expect(new AndEvaluator([new ProbabilisticEvaluator(50), new ProbabilisticEvaluator(10, 'other')]).keepProbability).toBeCloseTo(0.05);
    expect(checkoutErrors.keepProbability).toBeUndefined();
  });
});
