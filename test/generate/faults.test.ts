import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFaultSpec } from '../../src/generate/faults.js';
import { runGenerate } from '../../src/generate/index.js';
import { GenerateUsageError } from '../../src/generate/usage-error.js';
import type { FlatSpan, ManifestLine } from './otlp-reader.js';
import { generateToFile, scratchDir, START_MS, type FileRun } from './run-to-file.js';

const { dir, cleanup } = scratchDir();
afterAll(cleanup);

const options = { scenario: 'shop', rate: 40, durationSeconds: 20, seed: 99, startMs: START_MS };
const START_NS = BigInt(START_MS) * 1_000_000n;
const duration = (s: FlatSpan) => s.endNs - s.startNs;
const inWindow = (s: FlatSpan, from: number, to: number) =>
  s.startNs >= START_NS + BigInt(from * 1e9) && s.startNs < START_NS + BigInt(to * 1e9);

let baseline: FileRun;
beforeAll(async () => {
  baseline = await generateToFile(dir, 'baseline', options);
});

/** The same run with faults, paired span by span with the baseline (ids do not change). */
async function withFaults(name: string, faults: string[]) {
  const run = await generateToFile(dir, name, { ...options, faults: faults.map(parseFaultSpec) });
  const base = new Map(baseline.spans.map((s) => [s.spanId, s]));
  expect(run.spans).toHaveLength(baseline.spans.length);
  const pairs = run.spans.map((span) => ({ span, base: base.get(span.spanId) as FlatSpan }));
  expect(pairs.every((p) => p.base !== undefined && p.base.name === p.span.name)).toBe(true);
  return { run, pairs, manifest: new Map(run.manifest.map((m) => [m.traceId, m])) };
}

/** Span ids of every ancestor of the given spans. */
function ancestorsOf(spans: readonly FlatSpan[], all: readonly FlatSpan[]): Set<string> {
  const byId = new Map(all.map((s) => [s.spanId, s]));
  const out = new Set<string>();
  for (const span of spans) {
    for (let p = byId.get(span.parentSpanId); p; p = byId.get(p.parentSpanId)) out.add(p.spanId);
  }
  return out;
}

describe('latency faults', () => {
  it('slow down every span of the service inside the window, stretch their ancestors, and nothing else', async () => {
    const label = 'payment:latency=x5@5-12';
    const { run, pairs, manifest } = await withFaults('latency', [label]);
    const hit = pairs.filter((p) => p.span.service === 'payment' && inWindow(p.span, 5, 12));
    expect(hit.length).toBeGreaterThan(20);
    for (const { span, base } of hit) {
      expect(duration(span) > duration(base)).toBe(true);
      // The call to the payment processor has no children: its whole duration is its own work.
      if (span.name === 'POST') expect(duration(span)).toBe(5n * duration(base));
    }
    const stretched = ancestorsOf(
      hit.map((p) => p.span),
      run.spans,
    );
    for (const { span, base } of pairs) {
      if (hit.some((h) => h.span === span)) continue;
      if (stretched.has(span.spanId)) expect(duration(span) >= duration(base)).toBe(true);
      else expect(duration(span)).toBe(duration(base));
    }
    // Children stay inside parents even though the payment spans grew.
    for (const { span } of hit) {
      const parent = run.spans.find((s) => s.spanId === span.parentSpanId) as FlatSpan;
      expect(span.startNs >= parent.startNs && span.endNs <= parent.endNs).toBe(true);
    }
    const touched = new Set(hit.map((p) => p.span.traceId));
    for (const [traceId, entry] of manifest) {
      expect(entry.faults).toEqual(touched.has(traceId) ? [label] : []);
    }
    const before = new Map(baseline.manifest.map((m) => [m.traceId, m]));
    for (const traceId of touched) {
      expect(manifest.get(traceId)?.durationMs).toBeGreaterThan((before.get(traceId) as ManifestLine).durationMs);
    }
  });

  it('touch only the given share of the service spans in the window', async () => {
    const label = 'currency:latency=x3@5-15:share=0.3';
    const { pairs, manifest } = await withFaults('latency-share', [label]);
    const changed = pairs.filter((p) => duration(p.span) !== duration(p.base) && p.span.service === 'currency');
    for (const { span, base } of changed) {
      expect(inWindow(span, 5, 15)).toBe(true);
      // Convert does only its own work, so it is exactly three times slower.
      expect(duration(span)).toBe(3n * duration(base));
    }
    const candidates = pairs.filter((p) => p.span.service === 'currency' && inWindow(p.span, 5, 15));
    expect(candidates.length).toBeGreaterThan(300);
    const share = changed.length / candidates.length;
    const sd = Math.sqrt((0.3 * 0.7) / candidates.length);
    expect(share).toBeGreaterThan(0.3 - 5 * sd);
    expect(share).toBeLessThan(0.3 + 5 * sd);
    const touched = new Set(changed.map((p) => p.span.traceId));
    for (const [traceId, entry] of manifest) expect(entry.faults).toEqual(touched.has(traceId) ? [label] : []);
  });
});

describe('error faults', () => {
  it('fail the given share of the service spans inside the window, with an exception event', async () => {
    const label = 'product-catalog:errors=0.2@8-16';
    const { pairs, manifest } = await withFaults('errors', [label]);
    const changed = pairs.filter((p) => p.span.statusCode !== p.base.statusCode);
    expect(changed.length).toBeGreaterThan(0);
    for (const { span } of changed) {
      expect(span.service).toBe('product-catalog');
      expect(inWindow(span, 8, 16)).toBe(true);
      expect(span.statusCode).toBe(2);
      expect(span.events.map((e) => e.name)).toContain('exception');
      expect(span.attributes['error.type']).toEqual(expect.any(String));
    }
    // Timing is untouched by an error fault.
    for (const { span, base } of pairs) expect(duration(span)).toBe(duration(base));

    const candidates = pairs.filter((p) => p.span.service === 'product-catalog' && inWindow(p.span, 8, 16) && p.base.statusCode !== 2);
    const share = changed.length / candidates.length;
    const sd = Math.sqrt((0.2 * 0.8) / candidates.length);
    expect(candidates.length).toBeGreaterThan(300);
    expect(share).toBeGreaterThan(0.2 - 5 * sd);
    expect(share).toBeLessThan(0.2 + 5 * sd);

    for (const { span } of changed) {
      const entry = manifest.get(span.traceId) as ManifestLine;
      expect(entry.faults).toEqual([label]);
      expect(entry.hasError).toBe(true);
    }
    const traceStarts = new Map(pairs.filter((p) => p.span.parentSpanId === '').map((p) => [p.span.traceId, p.span]));
    for (const [traceId, entry] of manifest) {
      if (entry.faults.length === 0) continue;
      // A labelled trace has product-catalog work inside the window (traces start before their spans).
      expect((traceStarts.get(traceId) as FlatSpan).startNs < START_NS + 16_000_000_000n).toBe(true);
    }
  });

  it('refuse a new dependency the scenario already has', async () => {
    await expect(
      runGenerate({ ...options, target: `file:${dir}/never.jsonl`, faults: [parseFaultSpec('checkout:dependency=payment@0-1')] }),
    ).rejects.toThrow('scenario shop already has a service payment');
  });

  it('refuses a fault on a service the scenario does not have', async () => {
    await expect(
      runGenerate({ ...options, target: `file:${dir}/never.jsonl`, faults: [parseFaultSpec('llm-inference:errors=0.5@0-1')] }),
    ).rejects.toThrow(GenerateUsageError);
    await expect(
      runGenerate({ ...options, target: `file:${dir}/never.jsonl`, faults: [parseFaultSpec('llm-inference:errors=0.5@0-1')] }),
    ).rejects.toThrow('scenario shop has no service llm-inference');
  });
});

describe('new dependency faults', () => {
  it('make a share of the traces call a new service from the named one, slower by about the latency, and keep every other span id', async () => {
    const label = 'payment:dependency=fraud-check/score@5-15:latency=300ms:share=0.5';
    const run = await generateToFile(dir, 'dependency', { ...options, faults: [parseFaultSpec(label)] });
    const added = run.spans.filter((s) => s.service === 'fraud-check');
    expect(added.length).toBeGreaterThan(20);
    const byId = new Map(run.spans.map((s) => [s.spanId, s]));
    for (const server of added) {
      expect(server.name).toBe('POST /score');
      expect(inWindow(server, 5, 15)).toBe(true);
      const client = byId.get(server.parentSpanId) as FlatSpan;
      expect(client.service).toBe('payment');
      expect(client.attributes['url.full']).toBe('http://fraud-check:8080/score');
      // The client's parent is the payment service's first span: the server span of the request.
      expect((byId.get(client.parentSpanId) as FlatSpan).service).toBe('payment');
    }
    // Every span of the scenario keeps its id, so runs with and without the fault pair up.
    const baseIds = new Set(baseline.spans.map((s) => s.spanId));
    expect(run.spans.length).toBe(baseline.spans.length + 2 * added.length);
    expect(run.spans.filter((s) => !baseIds.has(s.spanId))).toHaveLength(2 * added.length);

    const hitTraces = new Set(added.map((s) => s.traceId));
    const before = new Map(baseline.manifest.map((m) => [m.traceId, m]));
    const reachedInWindow = new Set(
      baseline.spans.filter((s) => s.service === 'payment' && inWindow(s, 5, 15)).map((s) => s.traceId),
    );
    const share = hitTraces.size / reachedInWindow.size;
    const sd = Math.sqrt((0.5 * 0.5) / reachedInWindow.size);
    expect(share).toBeGreaterThan(0.5 - 5 * sd);
    expect(share).toBeLessThan(0.5 + 5 * sd);
    for (const entry of run.manifest) {
      expect(entry.faults).toEqual(hitTraces.has(entry.traceId) ? [label] : []);
      const base = before.get(entry.traceId) as ManifestLine;
      if (hitTraces.has(entry.traceId)) expect(entry.durationMs).toBeGreaterThan(base.durationMs + 50);
      else expect(entry.durationMs).toBe(base.durationMs);
    }
  });
});
