import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { TraceStateEvaluator, parseTraceState } from '../../src/policies/trace-state.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };
const evaluator = new TraceStateEvaluator('example', ['value', 'value2']);

describe('trace_state', () => {
  it.each<[string, string, Decision]>([
    ['the key with a listed value', 'example=value', 'sampled'],
    ['the key with another listed value', 'example=value2', 'sampled'],
    ['the key among other members', 'rojo=00f067aa0ba902b7, example=value ,congo=t61rcWkgMzE', 'sampled'],
    ['another key with the value', 'other=value', 'not_sampled'],
    ['the key with an unlisted value', 'example=valu', 'not_sampled'],
    ['a value with a leading space (part of the value)', 'example= value', 'not_sampled'],
    ['no tracestate', '', 'not_sampled'],
    ['an invalid tracestate: a duplicate key', 'example=value,example=value2', 'not_sampled'],
    ['an invalid tracestate: an upper-case key elsewhere', 'Rojo=1,example=value', 'not_sampled'],
    ['an invalid tracestate: a member without "="', 'rojo,example=value', 'not_sampled'],
    ['empty members skipped', ',,example=value,', 'sampled'],
  ])('%s: %s', (_, traceState, expected) => {
    expect(evaluator.evaluate(makeTrace([{ traceState }]), ctx)).toBe(expected);
  });

  it('matches when any span of the trace has it', () => {
    expect(evaluator.evaluate(makeTrace([{ traceState: 'other=1' }, { traceState: 'example=value' }]), ctx)).toBe('sampled');
  });

  it('matches multi-tenant keys', () => {
    const tenant = new TraceStateEvaluator('acme@vendor', ['on']);
    expect(tenant.evaluate(makeTrace([{ traceState: 'acme@vendor=on' }]), ctx)).toBe('sampled');
  });

  it('ignores values too long to appear with the key, and empty values', () => {
    const long = 'x'.repeat(250);
    const filter = new TraceStateEvaluator('example', [long, '']);
    expect(filter.evaluate(makeTrace([{ traceState: `example=${long}` }]), ctx)).toBe('not_sampled');
  });
});

describe('parseTraceState', () => {
  it('reads members with optional whitespace around them', () => {
    expect(parseTraceState(' a=1 ,\tb@c=x y')).toEqual(new Map([['a', '1'], ['b@c', 'x y']]));
  });

  it.each([
    ['a key starting with a digit', '1a=x'],
    ['a key with an upper-case letter', 'aB=x'],
    ['a value with "="', 'a=x=y'],
    ['an empty value', 'a='],
    ['a non-ASCII value', 'a=é'],
    ['a system id over 14 characters', 'acme@abcdefghijklmno=x'],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ])('refuses %s', (_, header) => {
    expect(parseTraceState(header)).toBeUndefined();
  });

  it('accepts 32 members', () => {
    expect(parseTraceState(Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(','))?.size).toBe(32);
  });
});
