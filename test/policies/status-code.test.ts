import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { StatusCodeEvaluator } from '../../src/policies/status-code.js';
import type { StatusCodeName } from '../../src/policies/status-code.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };
const UNSET = 0;
const OK = 1;
const ERROR = 2;

describe('status_code', () => {
  it.each<[string, StatusCodeName[], number[], Decision]>([
    ['one error among ok spans', ['ERROR'], [OK, ERROR, OK], 'sampled'],
    ['only ok spans', ['ERROR'], [OK, OK], 'not_sampled'],
    ['unset spans when looking for errors', ['ERROR'], [UNSET, UNSET], 'not_sampled'],
    ['unset spans when looking for unset', ['UNSET'], [UNSET], 'sampled'],
    ['ok spans when looking for ok', ['OK'], [OK], 'sampled'],
    ['an unset span when looking for errors or unset', ['ERROR', 'UNSET'], [OK, UNSET], 'sampled'],
    ['ok spans when looking for errors or unset', ['ERROR', 'UNSET'], [OK, OK], 'not_sampled'],
  ])('%s', (_, codes, spanCodes, expected) => {
    const trace = makeTrace(spanCodes.map((statusCode) => ({ statusCode })));
    expect(new StatusCodeEvaluator(codes).evaluate(trace, ctx)).toBe(expected);
  });
});
