import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { FlatSpan } from './otlp-reader.js';
import { generateToFile, scratchDir, START_MS } from './run-to-file.js';

const { dir, cleanup } = scratchDir();
const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
afterAll(cleanup);

/** Everything about a span except where the run sat on the wall clock. */
function shape(spans: readonly FlatSpan[]) {
  const origin = spans.reduce((min, s) => (s.startNs < min ? s.startNs : min), spans[0].startNs);
  return spans.map((s) => ({
    ...s,
    startNs: s.startNs - origin,
    endNs: s.endNs - origin,
    events: s.events.map((e) => e.name),
  }));
}

describe('determinism', () => {
  it.each(['shop', 'rag', 'bench'])('%s: same seed and --start give byte-identical output and manifest', async (scenario) => {
    const options = { scenario, rate: 40, durationSeconds: 3, seed: 1234, startMs: START_MS };
    const a = await generateToFile(dir, `${scenario}-a`, options);
    const b = await generateToFile(dir, `${scenario}-b`, options);
    expect(a.summary.traces).toBeGreaterThan(60);
    expect(readFileSync(b.out).length).toBeGreaterThan(0);
    expect(digest(b.out)).toBe(digest(a.out));
    expect(digest(b.manifestPath)).toBe(digest(a.manifestPath));
  });

  it('different seeds give different traces', async () => {
    const a = await generateToFile(dir, 'seed-1', { rate: 40, durationSeconds: 2, seed: 1, startMs: START_MS });
    const b = await generateToFile(dir, 'seed-2', { rate: 40, durationSeconds: 2, seed: 2, startMs: START_MS });
    const ids = (spans: readonly FlatSpan[]) => new Set(spans.map((s) => s.traceId));
    const shared = [...ids(a.spans)].filter((id) => ids(b.spans).has(id));
    expect(shared).toEqual([]);
    expect(a.manifest.map((m) => m.rootName)).not.toEqual(b.manifest.map((m) => m.rootName));
  });

  it('without --start only the wall-clock position differs: ids, structure, attributes, durations repeat', async () => {
    const a = await generateToFile(dir, 'clock-a', { scenario: 'rag', rate: 30, durationSeconds: 2, seed: 77 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const b = await generateToFile(dir, 'clock-b', { scenario: 'rag', rate: 30, durationSeconds: 2, seed: 77 });
    expect(a.spans[0].startNs).not.toBe(b.spans[0].startNs);
    expect(shape(b.spans)).toEqual(shape(a.spans));
    expect(b.manifest.map(({ startMs: _s, ...rest }) => rest)).toEqual(a.manifest.map(({ startMs: _s, ...rest }) => rest));
  });
});
