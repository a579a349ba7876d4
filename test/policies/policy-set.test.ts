import { describe, expect, it } from 'vitest';
import { AlwaysSampleEvaluator } from '../../src/policies/always-sample.js';
import { AndEvaluator } from '../../src/policies/and.js';
import { DropEvaluator } from '../../src/policies/drop.js';
import type { PolicyEvaluator } from '../../src/policies/evaluator.js';
import { LatencyEvaluator } from '../../src/policies/latency.js';
import { OrderedPolicySet } from '../../src/policies/policy-set.js';
import type { NamedPolicy } from '../../src/policies/policy-set.js';
import { ProbabilisticEvaluator } from '../../src/policies/probabilistic.js';
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

function counting(name: string, decision: 'sampled' | 'not_sampled'): NamedPolicy & { calls: () => number } {
  let calls = 0;
  const evaluator: PolicyEvaluator = {
    evaluate: () => {
      calls++;
      return decision;
    },
  };
  return { name, evaluator, isDrop: false, calls: () => calls };
}

describe('OrderedPolicySet', () => {
  const set = new OrderedPolicySet([errors, slow, dropHealth]);

  it.each([
    ['an error trace is kept by the first policy that sampled it', [{ statusCode: 2, durationMs: 5000 }], { keep: true, policy: 'errors' }],
    ['a slow trace is kept by the latency policy', [{ durationMs: 5000 }], { keep: true, policy: 'slow' }],
    ['a trace no policy samples is not kept, and no policy is named', [{ durationMs: 5 }], { keep: false, policy: undefined }],
    [
      'a drop wins over every policy that sampled, even one listed before it',
      [{ statusCode: 2, durationMs: 5000, attributes: { 'url.path': '/healthz' } }],
      { keep: false, policy: 'drop-health' },
    ],
  ])('%s', (_, spans, expected) => {
    expect(set.decide(makeTrace(spans), ctx)).toEqual(expected);
  });

  it('names its policies in file order', () => {
    expect(set.policyNames).toEqual(['errors', 'slow', 'drop-health']);
  });

  it('evaluates every policy by default', () => {
    const first = counting('first', 'sampled');
    const second = counting('second', 'sampled');
    const decision = new OrderedPolicySet([first, second]).decide(makeTrace([{}]), ctx);
    expect(decision).toEqual({ keep: true, policy: 'first' });
    expect([first.calls(), second.calls()]).toEqual([1, 1]);
  });

  it('stops at the first sampling policy with sample_on_first_match', () => {
    const before = counting('before', 'not_sampled');
    const first = counting('first', 'sampled');
    const after = counting('after', 'sampled');
    const decision = new OrderedPolicySet([before, first, after], { sampleOnFirstMatch: true }).decide(makeTrace([{}]), ctx);
    expect(decision).toEqual({ keep: true, policy: 'first' });
    expect([before.calls(), first.calls(), after.calls()]).toEqual([1, 1, 0]);
  });

  it('still lets a drop policy listed last win with sample_on_first_match', () => {
    const first = counting('first', 'sampled');
    const decision = new OrderedPolicySet([first, dropHealth], { sampleOnFirstMatch: true }).decide(
      makeTrace([{ attributes: { 'url.path': '/healthz' } }]),
      ctx,
    );
    expect(decision).toEqual({ keep: false, policy: 'drop-health' });
    expect(first.calls()).toBe(0);
  });

  it('stops at the first drop', () => {
    const after = counting('after', 'sampled');
    new OrderedPolicySet([after, dropHealth]).decide(makeTrace([{ attributes: { 'url.path': '/healthz' } }]), ctx);
    expect(after.calls()).toBe(0);
  });

  it('reports the sample rate of a probabilistic keep', () => {
    const baseline = (percentage: number): NamedPolicy => ({ name: 'baseline', evaluator: new ProbabilisticEvaluator(percentage), isDrop: false });
    // The default-salt hash of this id is 1711019809656077869, 9.28% of the range: inside 25%.
    const traceId = 'ffffffffffffffffffffffffffffffff';
    expect(new OrderedPolicySet([baseline(25)]).decide(makeTrace([{}], { traceId }), ctx)).toEqual({ keep: true, policy: 'baseline', sampleRate: 4 });
    expect(new OrderedPolicySet([baseline(100)]).decide(makeTrace([{}], { traceId }), ctx)).toEqual({ keep: true, policy: 'baseline', sampleRate: 1 });
    // Kept by `errors` first: not a random keep, so no sample rate.
    expect(new OrderedPolicySet([errors, baseline(25)]).decide(makeTrace([{ statusCode: 2 }], { traceId }), ctx)).toEqual({ keep: true, policy: 'errors' });
  });

  it('reports the sample rate of an and holding a probabilistic share', () => {
    const set = new OrderedPolicySet([
      { name: 'errors-half', evaluator: new AndEvaluator([new StatusCodeEvaluator(['ERROR']), new ProbabilisticEvaluator(50)]), isDrop: false },
    ]);
    // Hash 1711019809656077869 is below half the range.
    expect(set.decide(makeTrace([{ statusCode: 2 }], { traceId: 'ffffffffffffffffffffffffffffffff' }), ctx)).toEqual({
      keep: true,
      policy: 'errors-half',
      sampleRate: 2,
    });
  });

  it('skips a policy that throws and lets the others decide', () => {
    const broken: NamedPolicy = {
      name: 'broken',
      evaluator: {
        evaluate: () => {
          throw new Error('corrupt attribute bytes');
        },
      },
      isDrop: false,
    };
    const set = new OrderedPolicySet([broken, { name: 'all', evaluator: new AlwaysSampleEvaluator(), isDrop: false }]);
    expect(set.decide(makeTrace([{}]), ctx)).toEqual({ keep: true, policy: 'all' });
    expect(set.decide(makeTrace([{}]), ctx)).toEqual({ keep: true, policy: 'all' });
    expect(set.evaluationErrors().get('broken')).toBe(2);
  });

  it('does not keep a trace over maximum_trace_size_bytes', () => {
    const set = new OrderedPolicySet([{ name: 'all', evaluator: new AlwaysSampleEvaluator(), isDrop: false }], { maxTraceSizeBytes: 1000 });
    expect(set.decide(makeTrace([{}], { byteSize: 1000 }), ctx)).toEqual({ keep: true, policy: 'all' });
    expect(set.decide(makeTrace([{}], { byteSize: 1001 }), ctx)).toEqual({ keep: false, policy: undefined });
  });
});
