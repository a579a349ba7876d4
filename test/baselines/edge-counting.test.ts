import { describe, expect, it } from 'vitest';
import type { SpanView } from '../../src/otlp/types.js';
import { T0, memoryBaselines, span } from './synthetic-traffic.js';

/** A trace whose frontend span calls currency: the call edge frontend → currency. */
function callTrace(traceId: string, atMs: number): SpanView[] {
  return [
    span('frontend', 'GET /', 20, { traceId, spanId: '1000000000000001', startMs: atMs }),
    span('currency', 'convert', 5, { traceId, spanId: '1000000000000002', parentSpanId: '1000000000000001', startMs: atMs + 5 }),
  ];
}

describe('call edges are counted once per trace', () => {
  it('keeps a new edge new for min_samples traces however often each trace is scored', () => {
    const baselines = memoryBaselines({ warmup: '1s', newFor: '500ms' });
    baselines.observe([span('frontend', 'GET /', 20)], T0);
    const options = { kinds: ['new_operation' as const], minSamples: 2 };
    const at = T0 + 5_000;
    // The first trace with the edge, scored by two policies (or a replay's per-policy pass).
    expect(baselines.scoreTrace(callTrace('a'.repeat(32), at), at, options).top?.kind).toBe('new_operation');
    expect(baselines.scoreTrace(callTrace('a'.repeat(32), at), at, options).top?.kind).toBe('new_operation');
    // Past newFor, the second trace is still among the first two that had the edge; the third is not.
    expect(baselines.scoreTrace(callTrace('b'.repeat(32), at + 1000), at + 1000, options).top?.kind).toBe('new_operation');
    expect(baselines.scoreTrace(callTrace('c'.repeat(32), at + 2000), at + 2000, options).top).toBeUndefined();
  });

  it('keeps a new edge new for newFor, however many traces have it', () => {
    const baselines = memoryBaselines({ warmup: '1s', newFor: '10m' });
    baselines.observe([span('frontend', 'GET /', 20)], T0);
    const options = { kinds: ['new_operation' as const], minSamples: 2 };
    const at = T0 + 5_000;
    for (let i = 0; i < 50; i++) {
      const trace = callTrace(i.toString(16).padStart(32, '0'), at + i * 10_000);
      expect(baselines.scoreTrace(trace, at + i * 10_000, options).top?.reason).toMatch(/^new call frontend → currency \(first seen \S+ ago\)$/);
    }
    // Ten minutes after it was first seen, the edge is an ordinary one.
    expect(baselines.scoreTrace(callTrace('f'.repeat(32), at + 10 * 60_000), at + 10 * 60_000, options).top).toBeUndefined();
  });
});
