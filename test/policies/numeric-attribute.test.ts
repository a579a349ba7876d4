import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/otlp/types.js';
import type { Decision } from '../../src/policies/evaluator.js';
import { NumericAttributeEvaluator } from '../../src/policies/numeric-attribute.js';
import type { NumericAttributeOptions } from '../../src/policies/numeric-attribute.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

function decide(options: NumericAttributeOptions, spans: { span?: Record<string, AttrValue>; resource?: Record<string, AttrValue> }[]): Decision {
  return new NumericAttributeEvaluator(options).evaluate(makeTrace(spans.map((s) => ({ attributes: s.span, resource: s.resource }))), ctx);
}

describe('numeric_attribute', () => {
  const range = { key: 'http.status_code', minValue: 400, maxValue: 499 };

  it.each<[string, NumericAttributeOptions, AttrValue, Decision]>([
    ['the lower bound (inclusive)', range, 400, 'sampled'],
    ['the upper bound (inclusive)', range, 499, 'sampled'],
    ['inside', range, 404, 'sampled'],
    ['below', range, 399, 'not_sampled'],
    ['above', range, 500, 'not_sampled'],
    ['min only', { key: 'http.status_code', minValue: 500 }, 1_000_000, 'sampled'],
    ['min only, below', { key: 'http.status_code', minValue: 500 }, 499, 'not_sampled'],
    ['max only', { key: 'http.status_code', maxValue: 10 }, -1_000_000, 'sampled'],
    ['a min of 0, which the Collector reads as no bound', { key: 'http.status_code', minValue: 0, maxValue: 10 }, -5, 'sampled'],
    ['a string value, read as 0', { key: 'http.status_code', minValue: -10, maxValue: 10 }, '404', 'sampled'],
    ['a string value, read as 0, outside', range, '404', 'not_sampled'],
    ['a boolean value, read as 0', { key: 'http.status_code', maxValue: 5 }, true, 'sampled'],
    ['a double value, compared by value', range, 450.5, 'sampled'],
  ])('%s', (_, options, value, expected) => {
    expect(decide(options, [{ span: { 'http.status_code': value } }])).toBe(expected);
  });

  it('matches resource attributes as well as span attributes', () => {
    expect(decide(range, [{ resource: { 'http.status_code': 418 } }])).toBe('sampled');
    expect(decide(range, [{ span: { other: 418 } }, { span: { 'http.status_code': 200 } }])).toBe('not_sampled');
    expect(decide(range, [{ span: { 'http.status_code': 200 } }, { span: { 'http.status_code': 404 } }])).toBe('sampled');
  });

  it.each<[string, { span?: Record<string, AttrValue>; resource?: Record<string, AttrValue> }[], Decision]>([
    ['the key absent everywhere', [{}], 'sampled'],
    ['every value outside the range', [{ span: { 'http.status_code': 200 } }, { resource: { 'http.status_code': 503 } }], 'sampled'],
    ['one span in range', [{ span: { 'http.status_code': 200 } }, { span: { 'http.status_code': 404 } }], 'not_sampled'],
    ['a resource in range', [{ resource: { 'http.status_code': 404 } }], 'not_sampled'],
  ])('with invert_match, %s: %s', (_, spans, expected) => {
    expect(decide({ ...range, invertMatch: true }, spans)).toBe(expected);
  });
});
