import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { OttlConditionEvaluator } from '../../src/policies/ottl-condition.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';
import type { SpanSpec } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

/** The Collector README's ottl_condition example. */
const readmeExample = new OttlConditionEvaluator(
  ['attributes["test_attr_key_1"] == "test_attr_val_1"', 'attributes["test_attr_key_2"] != "test_attr_val_1"'],
  ['name != "test_span_event_name"', 'attributes["test_event_attr_key_2"] != "test_event_attr_val_1"'],
);

describe('ottl_condition', () => {
  it.each<[string, SpanSpec[], Decision]>([
    ['the first span condition holds', [{ attributes: { test_attr_key_1: 'test_attr_val_1', test_attr_key_2: 'test_attr_val_1' } }], 'sampled'],
    ['the second span condition holds on a later span', [{ attributes: { test_attr_key_2: 'test_attr_val_1' } }, { attributes: { test_attr_key_2: 'x' } }], 'sampled'],
    [
      'an event condition holds',
      [{ attributes: { test_attr_key_2: 'test_attr_val_1' }, events: [{ name: 'other', timeMs: 0, attributes: new Map() }] }],
      'sampled',
    ],
    [
      'no condition holds',
      [
        {
          attributes: { test_attr_key_2: 'test_attr_val_1' },
          events: [{ name: 'test_span_event_name', timeMs: 0, attributes: new Map([['test_event_attr_key_2', 'test_event_attr_val_1']]) }],
        },
      ],
      'not_sampled',
    ],
    ['no condition holds and there are no events', [{ attributes: { test_attr_key_2: 'test_attr_val_1' } }], 'not_sampled'],
  ])('%s: %s', (_, spans, expected) => {
    expect(readmeExample.evaluate(makeTrace(spans), ctx)).toBe(expected);
  });

  it('samples on span conditions alone', () => {
    const errors = new OttlConditionEvaluator(['status.code == STATUS_CODE_ERROR and resource.attributes["service.name"] == "payments"'], []);
    expect(errors.evaluate(makeTrace([{ statusCode: 2, resource: { 'service.name': 'payments' } }]), ctx)).toBe('sampled');
    expect(errors.evaluate(makeTrace([{ statusCode: 2, resource: { 'service.name': 'cart' } }]), ctx)).toBe('not_sampled');
  });
});
