import { describe, expect, it } from 'vitest';
import { DropEvaluator } from '../../src/policies/drop.js';
import type { PolicyEvaluator } from '../../src/policies/evaluator.js';
import { LatencyEvaluator } from '../../src/policies/latency.js';
import { OrderedPolicySet } from '../../src/policies/policy-set.js';
import type { NamedPolicy } from '../../src/policies/policy-set.js';
import { StatusCodeEvaluator } from '../../src/policies/status-code.js';
import { StringAttributeEvaluator } from '../../src/policies/string-attribute.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

const errors: NamedPolicy = { name: 'errors', evaluator: new StatusCodeEvaluator(['ERROR']), isDrop: false };
const slow: NamedPolicy = { name: 'slow', evaluator: new LatencyEvaluator(1000), isDrop: false };
const dropHealth: NamedPolicy = {
  name: 'drop-health',
  evaluator: new DropEvaluator([new StringAttributeEvaluator({ key: 'url.path', values: ['/healthz'] })]),
  isDrop: true,
};
const throwing: NamedPolicy = {
  name: 'broken',
  evaluator: {
    evaluate: () => {
      throw new Error('bad span data');
    },
  },
  isDrop: false,
};

describe('OrderedPolicySet.evaluateEach', () => {
  it('gives every policy its own decision, in file order', () => {
    const set = new OrderedPolicySet([errors, slow, dropHealth]);
    const trace = makeTrace([{ statusCode: 2, durationMs: 5000 }]);
    expect(set.evaluateEach(trace, ctx)).toEqual([
      { policy: 'errors', decision: 'sampled' },
      { policy: 'slow', decision: 'sampled' },
      { policy: 'drop-health', decision: 'not_sampled' },
    ]);
  });

  it('goes on past a drop and past the first match with sample_on_first_match', () => {
    const set = new OrderedPolicySet([errors, slow, dropHealth], { sampleOnFirstMatch: true });
    const trace = makeTrace([{ statusCode: 2, durationMs: 5000, attributes: { 'url.path': '/healthz' } }]);
    expect(set.decide(trace, ctx)).toEqual({ keep: false, policy: 'drop-health' });
    expect(set.evaluateEach(trace, ctx).map((o) => o.decision)).toEqual(['sampled', 'sampled', 'dropped']);
  });

  it('evaluates policies that sample_on_first_match would skip exactly once each', () => {
    let calls = 0;
    const counting: PolicyEvaluator = {
      evaluate: () => {
        calls++;
        return 'not_sampled';
      },
    };
    const set = new OrderedPolicySet([errors, { name: 'counting', evaluator: counting, isDrop: false }], { sampleOnFirstMatch: true });
    set.evaluateEach(makeTrace([{ statusCode: 2 }]), ctx);
    expect(calls).toBe(1);
  });

  it('reports a policy that throws as an error and still evaluates the others', () => {
    const set = new OrderedPolicySet([throwing, errors]);
    expect(set.evaluateEach(makeTrace([{ statusCode: 2 }]), ctx)).toEqual([
      { policy: 'broken', decision: 'error' },
      { policy: 'errors', decision: 'sampled' },
    ]);
  });

  it('ignores maximum_trace_size_bytes, which only limits what is kept', () => {
    const set = new OrderedPolicySet([errors], { maxTraceSizeBytes: 10 });
    const trace = makeTrace([{ statusCode: 2 }], { byteSize: 1000 });
    expect(set.decide(trace, ctx).keep).toBe(false);
    expect(set.evaluateEach(trace, ctx)).toEqual([{ policy: 'errors', decision: 'sampled' }]);
  });
});
