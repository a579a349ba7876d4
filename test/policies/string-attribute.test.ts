import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/otlp/types.js';
import type { Decision } from '../../src/policies/evaluator.js';
import { StringAttributeEvaluator } from '../../src/policies/string-attribute.js';
import type { StringAttributeOptions } from '../../src/policies/string-attribute.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

type Where = { span?: Record<string, AttrValue>; resource?: Record<string, AttrValue> };

function decide(options: StringAttributeOptions, spans: Where[]): Decision {
  return new StringAttributeEvaluator(options).evaluate(makeTrace(spans.map((s) => ({ attributes: s.span, resource: s.resource }))), ctx);
}

const exact: StringAttributeOptions = { key: 'http.route', values: ['/checkout', '/cart'] };

describe('string_attribute: exact values', () => {
  it.each<[string, Where[], Decision]>([
    ['a span attribute equal to a value', [{ span: { 'http.route': '/cart' } }], 'sampled'],
    ['a resource attribute equal to a value', [{ resource: { 'http.route': '/checkout' } }], 'sampled'],
    ['one matching span among others', [{ span: { 'http.route': '/home' } }, { span: { 'http.route': '/cart' } }], 'sampled'],
    ['a different value', [{ span: { 'http.route': '/home' } }], 'not_sampled'],
    ['a longer value (no prefix match)', [{ span: { 'http.route': '/cart/items' } }], 'not_sampled'],
    ['a value in another case', [{ span: { 'http.route': '/CART' } }], 'not_sampled'],
    ['the value under another key', [{ span: { 'url.path': '/cart' } }], 'not_sampled'],
    ['no attributes', [{}], 'not_sampled'],
    ['a non-string attribute', [{ span: { 'http.route': 42 } }], 'not_sampled'],
  ])('%s: %s', (_, spans, expected) => {
    expect(decide(exact, spans)).toBe(expected);
  });

  it('ignores an empty value, as the Collector does', () => {
    expect(decide({ key: 'k', values: [''] }, [{ span: { k: '' } }, { resource: { k: '' } }])).toBe('not_sampled');
  });
});

describe('string_attribute: regex values', () => {
  const regex = (values: string[], extra: Partial<StringAttributeOptions> = {}): StringAttributeOptions => ({
    key: 'url.path',
    values,
    enabledRegexMatching: true,
    ...extra,
  });

  it.each<[string, string[], string, Decision]>([
    ['a pattern matching the whole value', ['/v1/name/.+'], '/v1/name/42', 'sampled'],
    ['a pattern matching inside the value (unanchored, like Go)', ['health'], '/api/healthz', 'sampled'],
    ['an anchored pattern against a longer value', ['^/health$'], '/api/health', 'not_sampled'],
    ['an anchored pattern against the exact value', ['^/health$'], '/health', 'sampled'],
    ['the second of two patterns', ['^/a$', '^/b/\\d+$'], '/b/17', 'sampled'],
    ['no pattern', ['^/a$', '^/b/\\d+$'], '/b/x', 'not_sampled'],
    ['a case-insensitive flag', ['(?i)^/HEALTH$'], '/health', 'sampled'],
  ])('%s', (_, values, value, expected) => {
    expect(decide(regex(values), [{ span: { 'url.path': value } }])).toBe(expected);
  });

  it('matches regexes against resource attributes too', () => {
    expect(decide(regex(['^checkout-']), [{ resource: { 'url.path': 'checkout-eu' } }])).toBe('sampled');
  });

  it('reads a non-string resource attribute as "" (matched only by a regex that matches "")', () => {
    expect(decide(regex(['.*']), [{ resource: { 'url.path': 7 } }])).toBe('sampled');
    expect(decide(regex(['.+']), [{ resource: { 'url.path': 7 } }])).toBe('not_sampled');
    // A span attribute must be a non-empty string to be matched at all.
    expect(decide(regex(['.*']), [{ span: { 'url.path': 7 } }])).toBe('not_sampled');
  });

  it('stays correct when its result cache evicts', () => {
    const evaluator = new StringAttributeEvaluator(regex(['^/a'], { cacheMaxSize: 1 }));
    const sequence: [string, Decision][] = [['/a1', 'sampled'], ['/b', 'not_sampled'], ['/a1', 'sampled'], ['/a2', 'sampled'], ['/b', 'not_sampled']];
    for (const [value, expected] of sequence) {
      expect(evaluator.evaluate(makeTrace([{ attributes: { 'url.path': value } }]), ctx)).toBe(expected);
    }
  });

  it('runs a pattern that backtracking engines blow up on', () => {
    // (a+)+$ against "aaaa…b" takes exponential time with backtracking; RE2 answers in one pass.
    const value = `${'a'.repeat(5000)}b`;
    expect(decide(regex(['(a+)+$']), [{ span: { 'url.path': value } }])).toBe('not_sampled');
    expect(decide(regex(['(a+)+b$']), [{ span: { 'url.path': value } }])).toBe('sampled');
  });
});

describe('string_attribute: invert_match', () => {
  const inverted: StringAttributeOptions = { key: 'service.name', values: ['frontend'], invertMatch: true };

  it.each<[string, Where[], Decision]>([
    ['the key absent everywhere', [{}], 'sampled'],
    ['only other values', [{ resource: { 'service.name': 'cart' } }, { span: { 'service.name': 'db' } }], 'sampled'],
    ['the value on one resource', [{ resource: { 'service.name': 'cart' } }, { resource: { 'service.name': 'frontend' } }], 'not_sampled'],
    ['the value on one span', [{ span: { 'service.name': 'frontend' } }], 'not_sampled'],
  ])('%s: %s', (_, spans, expected) => {
    expect(decide(inverted, spans)).toBe(expected);
  });

  it('inverts regex matches too', () => {
    const options: StringAttributeOptions = { key: 'url.path', values: ['^/v1/name/.+'], enabledRegexMatching: true, invertMatch: true };
    expect(decide(options, [{ span: { 'url.path': '/v1/name/1' } }])).toBe('not_sampled');
    expect(decide(options, [{ span: { 'url.path': '/v1/other' } }])).toBe('sampled');
  });
});
