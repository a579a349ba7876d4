import { describe, expect, it } from 'vitest';
import { BooleanAttributeEvaluator } from '../../src/policies/boolean-attribute.js';
import { DropEvaluator } from '../../src/policies/drop.js';
import type { Decision } from '../../src/policies/evaluator.js';
import { NotEvaluator } from '../../src/policies/not.js';
import { StatusCodeEvaluator } from '../../src/policies/status-code.js';
import { StringAttributeEvaluator } from '../../src/policies/string-attribute.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

describe('drop', () => {
  const healthChecks = new DropEvaluator([new StringAttributeEvaluator({ key: 'url.path', values: ['^/healthz$'], enabledRegexMatching: true })]);

  it.each<[string, string, Decision]>([
    ['a health check', '/healthz', 'dropped'],
    ['another path', '/checkout', 'not_sampled'],
  ])('%s: %s', (_, path, expected) => {
    expect(healthChecks.evaluate(makeTrace([{ attributes: { 'url.path': path } }]), ctx)).toBe(expected);
  });

  it('drops only when every sub-policy matches', () => {
    // Drop successful health checks; keep failing ones visible to other policies.
    const drop = new DropEvaluator([
      new StringAttributeEvaluator({ key: 'url.path', values: ['/healthz'] }),
      new NotEvaluator(new StatusCodeEvaluator(['ERROR'])),
    ]);
    expect(drop.evaluate(makeTrace([{ attributes: { 'url.path': '/healthz' }, statusCode: 1 }]), ctx)).toBe('dropped');
    expect(drop.evaluate(makeTrace([{ attributes: { 'url.path': '/healthz' }, statusCode: 2 }]), ctx)).toBe('not_sampled');
  });

  it('drops on a boolean flag as the README\'s do-not-sample rule does', () => {
    const doNotSample = new DropEvaluator([new BooleanAttributeEvaluator({ key: 'app.do_not_sample', value: true })]);
    expect(doNotSample.evaluate(makeTrace([{ attributes: { 'app.do_not_sample': true } }]), ctx)).toBe('dropped');
    expect(doNotSample.evaluate(makeTrace([{}]), ctx)).toBe('not_sampled');
  });
});
