import { describe, expect, it } from 'vitest';
import { BytesLimitingEvaluator } from '../../src/policies/bytes-limiting.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const sized = (byteSize: number) => makeTrace([{}], { byteSize });
const at = (offsetMs: number) => ({ nowMs: TEST_BASE_MS + offsetMs });

describe('bytes_limiting', () => {
  it('samples while the byte budget lasts, then refills at bytes_per_second', () => {
    const policy = new BytesLimitingEvaluator(1000); // bucket of 2000 bytes, full at start
    expect(policy.evaluate(sized(1500), at(0))).toBe('sampled');
    expect(policy.evaluate(sized(600), at(0))).toBe('not_sampled');
    expect(policy.evaluate(sized(500), at(0))).toBe('sampled');
    expect(policy.evaluate(sized(100), at(99))).toBe('not_sampled');
    expect(policy.evaluate(sized(100), at(100))).toBe('sampled');
  });

  it('never samples a trace larger than burst_capacity', () => {
    const policy = new BytesLimitingEvaluator(1_048_576, 5_242_880);
    expect(policy.evaluate(sized(5_242_881), at(0))).toBe('not_sampled');
    expect(policy.evaluate(sized(5_242_880), at(0))).toBe('sampled');
  });
});
