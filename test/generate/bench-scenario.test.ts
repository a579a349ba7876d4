import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_SHARE, SLOW_SHARE, SLOW_THRESHOLD_MS, TRACE_SIZES } from '../../src/generate/scenarios/bench.js';
import { byTrace } from './otlp-reader.js';
import { generateToFile, scratchDir, START_MS, type FileRun } from './run-to-file.js';

const { dir, cleanup } = scratchDir();
afterAll(cleanup);

let run: FileRun;
beforeAll(async () => {
  run = await generateToFile(dir, 'bench', { scenario: 'bench', rate: 300, durationSeconds: 12, seed: 5, startMs: START_MS });
});

/** Bounds for a share `p` over `n` draws: five standard deviations either side. */
function tolerance(p: number, n: number): [number, number] {
  const sd = Math.sqrt((p * (1 - p)) / n);
  return [p - 5 * sd, p + 5 * sd];
}

describe('bench scenario', () => {
  it('draws trace sizes evenly from 1/2/4/8/16/48 spans', () => {
    const n = run.manifest.length;
    expect(n).toBeGreaterThan(3000);
    const counts = new Map<number, number>();
    for (const entry of run.manifest) counts.set(entry.spans, (counts.get(entry.spans) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([...TRACE_SIZES]);
    const [low, high] = tolerance(1 / TRACE_SIZES.length, n);
    for (const size of TRACE_SIZES) {
      const share = (counts.get(size) ?? 0) / n;
      expect(share, `share of ${size}-span traces`).toBeGreaterThan(low);
      expect(share, `share of ${size}-span traces`).toBeLessThan(high);
    }
    // The spans actually sent agree with the manifest.
    const traces = byTrace(run.spans);
    for (const entry of run.manifest) expect(traces.get(entry.traceId)).toHaveLength(entry.spans);
  });

  it('makes about 10% of traces slow, with a clear gap to the rest', () => {
    const n = run.manifest.length;
    const slow = run.manifest.filter((m) => m.durationMs >= SLOW_THRESHOLD_MS).length;
    const [low, high] = tolerance(SLOW_SHARE, n);
    expect(slow / n).toBeGreaterThan(low);
    expect(slow / n).toBeLessThan(high);
    const fastest = Math.max(...run.manifest.filter((m) => m.durationMs < SLOW_THRESHOLD_MS).map((m) => m.durationMs));
    expect(fastest).toBeLessThan(SLOW_THRESHOLD_MS / 2);
  });

  it('gives about 5% of traces an error, visible in the spans', () => {
    const n = run.manifest.length;
    const failed = run.manifest.filter((m) => m.hasError);
    const [low, high] = tolerance(ERROR_SHARE, n);
    expect(failed.length / n).toBeGreaterThan(low);
    expect(failed.length / n).toBeLessThan(high);
    const traces = byTrace(run.spans);
    for (const entry of run.manifest) {
      expect(traces.get(entry.traceId)?.some((s) => s.statusCode === 2)).toBe(entry.hasError);
    }
  });

  it('runs 4 services with 14 resource attributes each', () => {
    const resources = new Map(run.spans.map((s) => [s.service, s.resource]));
    expect(resources.size).toBe(4);
    for (const resource of resources.values()) expect(Object.keys(resource)).toHaveLength(14);
  });
});
