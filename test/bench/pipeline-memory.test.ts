import { describe, expect, it } from 'vitest';
import { QUICK_PIPELINE, benchPipelineMemory } from '../../bench/pipeline-memory-bench.js';

/**
 * The memory pipeline benchmark in its quick form, for correctness only: the generator in its
 * own process sends the bench scenario over OTLP/HTTP to the engine's receiver, the decision
 * loop keeps and drops, the file sink writes. Timings are printed by the benchmark, never
 * asserted here.
 */
describe('pipeline benchmark: generator → OTLP/HTTP → memory buffer → decide → file sink', () => {
  it('accounts for every span and writes every kept trace whole', async () => {
    const r = await benchPipelineMemory({ ...QUICK_PIPELINE, seed: 7 });

    expect(r.traces).toBeGreaterThan(0);
    expect(r.spansSent).toBeGreaterThan(r.traces);
    expect(r.generatorFailedSpans).toBe(0);
    // The policy set both keeps and drops, so both paths were exercised.
    expect(r.tracesKept).toBeGreaterThan(0);
    expect(r.tracesDropped).toBeGreaterThan(0);
    expect(r.tracesKept + r.tracesDropped).toBe(r.traces);
    expect(r.undecidedTraces).toBe(0);

    expect(r.lostSpans).toBe(0);
    expect(r.spansKept + r.spansDropped).toBe(r.spansSent);
    expect(r.duplicateSpans).toBe(0);
    expect(r.keptTracesNotWhole).toBe(0);
    expect(r.spansOfDroppedTracesInSink).toBe(0);
  }, 90_000);
});
