import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/otlp/types.js';
import { BooleanAttributeEvaluator } from '../../src/policies/boolean-attribute.js';
import type { Decision } from '../../src/policies/evaluator.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

function decide(value: boolean, invertMatch: boolean, spans: { span?: Record<string, AttrValue>; resource?: Record<string, AttrValue> }[]): Decision {
  const evaluator = new BooleanAttributeEvaluator({ key: 'app.force_sample', value, invertMatch });
  return evaluator.evaluate(makeTrace(spans.map((s) => ({ attributes: s.span, resource: s.resource }))), ctx);
}

describe('boolean_attribute', () => {
  it.each<[string, boolean, { span?: Record<string, AttrValue>; resource?: Record<string, AttrValue> }[], Decision]>([
    ['true on a span, looking for true', true, [{ span: { 'app.force_sample': true } }], 'sampled'],
    ['true on a resource, looking for true', true, [{ resource: { 'app.force_sample': true } }], 'sampled'],
    ['false, looking for true', true, [{ span: { 'app.force_sample': false } }], 'not_sampled'],
    ['false, looking for false', false, [{ span: { 'app.force_sample': false } }], 'sampled'],
    ['absent, looking for false', false, [{}], 'not_sampled'],
    ['the string "true", looking for true (a string is not a bool)', true, [{ span: { 'app.force_sample': 'true' } }], 'not_sampled'],
    ['a string, looking for false (the Collector reads it as false)', false, [{ span: { 'app.force_sample': 'yes' } }], 'sampled'],
  ])('%s', (_, value, spans, expected) => {
    expect(decide(value, false, spans)).toBe(expected);
  });

  it.each<[string, { span?: Record<string, AttrValue>; resource?: Record<string, AttrValue> }[], Decision]>([
    ['absent everywhere', [{}], 'sampled'],
    ['false everywhere', [{ span: { 'app.force_sample': false } }], 'sampled'],
    ['true on one span', [{ span: { 'app.force_sample': false } }, { span: { 'app.force_sample': true } }], 'not_sampled'],
    ['true on a resource', [{ resource: { 'app.force_sample': true } }], 'not_sampled'],
  ])('with invert_match looking for true, %s: %s', (_, spans, expected) => {
    expect(decide(true, true, spans)).toBe(expected);
  });
});
