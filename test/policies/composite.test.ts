import { describe, expect, it } from 'vitest';
import { AlwaysSampleEvaluator } from '../../src/policies/always-sample.js';
import { CompositeEvaluator, compositeAllocations } from '../../src/policies/composite.js';
import { StringAttributeEvaluator } from '../../src/policies/string-attribute.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const serviceTrace = (service: string, count: number) => makeTrace(Array.from({ length: count }, () => ({ resource: { 'service.name': service } })));
const at = (offsetMs: number) => ({ nowMs: TEST_BASE_MS + offsetMs });

describe('composite', () => {
  const build = () =>
    new CompositeEvaluator(100, [
      { name: 'checkout', evaluator: new StringAttributeEvaluator({ key: 'service.name', values: ['checkout'] }), spansPerSecond: 50 },
      { name: 'rest', evaluator: new AlwaysSampleEvaluator(), spansPerSecond: 25 },
    ]);

  it('gives each sub-policy its share of spans per second', () => {
    const policy = build();
    expect(policy.evaluate(serviceTrace('checkout', 30), at(0))).toBe('sampled');
    // 30 + 30 > 50: the first sub-policy that samples decides, so `rest` is not asked.
    expect(policy.evaluate(serviceTrace('checkout', 30), at(100))).toBe('not_sampled');
    // A smaller trace still fits: a refusal does not use up the share.
    expect(policy.evaluate(serviceTrace('checkout', 20), at(200))).toBe('sampled');
    expect(policy.evaluate(serviceTrace('cart', 20), at(300))).toBe('sampled');
    expect(policy.evaluate(serviceTrace('cart', 10), at(400))).toBe('not_sampled');
  });

  it('restarts the counters every second', () => {
    const policy = build();
    expect(policy.evaluate(serviceTrace('cart', 25), at(0))).toBe('sampled');
    expect(policy.evaluate(serviceTrace('cart', 1), at(999))).toBe('not_sampled');
    expect(policy.evaluate(serviceTrace('cart', 25), at(1000))).toBe('sampled');
  });

  it('samples nothing that no sub-policy samples', () => {
    const policy = new CompositeEvaluator(100, [
      { name: 'checkout', evaluator: new StringAttributeEvaluator({ key: 'service.name', values: ['checkout'] }), spansPerSecond: 100 },
    ]);
    expect(policy.evaluate(serviceTrace('cart', 1), at(0))).toBe('not_sampled');
  });

  it('never lets one sub-policy exceed the total', () => {
    const policy = new CompositeEvaluator(10, [{ name: 'all', evaluator: new AlwaysSampleEvaluator(), spansPerSecond: 50 }]);
    expect(policy.evaluate(serviceTrace('a', 11), at(0))).toBe('not_sampled');
    expect(policy.evaluate(serviceTrace('a', 10), at(0))).toBe('sampled');
  });
});

describe('compositeAllocations', () => {
  it.each([
    ['a percent of the total', 1000, ['a', 'b'], [{ policy: 'a', percent: 50 }, { policy: 'b', percent: 25 }], [500, 250]],
    ['an equal share for percent 0', 100, ['a', 'b', 'c'], [{ policy: 'a', percent: 50 }, { policy: 'b', percent: 0 }], [50, 33, 0]],
    ['nothing for a sub-policy without an allocation', 100, ['a', 'b'], [{ policy: 'a', percent: 10 }], [10, 0]],
  ])('gives %s', (_, total, names, allocation, expected) => {
    expect(compositeAllocations(total, names, allocation)).toEqual(expected);
  });
});
