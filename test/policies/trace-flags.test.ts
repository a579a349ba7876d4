import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policies/evaluator.js';
import { TraceFlagsEvaluator } from '../../src/policies/trace-flags.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

describe('trace_flags', () => {
  it.each<[string, number[], Decision]>([
    ['a span with the sampled flag', [0x01], 'sampled'],
    ['no span with it', [0x00, 0x00], 'not_sampled'],
    ['one of several spans with it', [0x00, 0x01], 'sampled'],
    ['the flag with OTLP\'s remote-parent bits set', [0x301], 'sampled'],
    ['only bits above the W3C byte', [0x300], 'not_sampled'],
    ['other W3C flag bits but not sampled', [0x02], 'not_sampled'],
  ])('%s: %s', (_, flags, expected) => {
    expect(new TraceFlagsEvaluator().evaluate(makeTrace(flags.map((f) => ({ flags: f }))), { nowMs: TEST_BASE_MS })).toBe(expected);
  });
});
