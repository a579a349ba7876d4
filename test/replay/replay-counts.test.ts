import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildSummary, type ReplaySummary } from '../../src/replay/replay-summary.js';
import { runReplay, type ReplayOutcome } from '../../src/replay/run-replay.js';
import {
  KEEP_ERRORS,
  fragmentBytesByTrace,
  generateShopTraffic,
  lengthPrefixed,
  protobufRequests,
  scratch,
  spansOfJsonLines,
  writePolicy,
  type GeneratedInput,
} from './replay-fixtures.js';

describe('replay counts', () => {
  const { dir, cleanup } = scratch();
  let input: GeneratedInput;
  let outcome: ReplayOutcome;
  let summary: ReplaySummary;
  let policies: string;
  const kept = join(dir, 'kept.jsonl');

  beforeAll(async () => {
    input = await generateShopTraffic(dir);
    policies = writePolicy(dir, 'errors.yaml', KEEP_ERRORS);
    outcome = await runReplay({ policies, inputs: [input.path], out: kept });
    summary = buildSummary(outcome);
  });
  afterAll(cleanup);

  it('keeps exactly the traces the manifest says failed, each one whole', () => {
    const errorTraces = input.manifest.filter((t) => t.hasError);
    expect(errorTraces.length).toBeGreaterThan(10);
    expect(errorTraces.length).toBeLessThan(input.manifest.length);

    const keptSpans = spansOfJsonLines(kept);
    const byTrace = new Map<string, number>();
    for (const span of keptSpans) byTrace.set(span.traceId, (byTrace.get(span.traceId) ?? 0) + 1);
    expect([...byTrace.keys()].sort()).toEqual(errorTraces.map((t) => t.traceId).sort());
    for (const t of errorTraces) expect(byTrace.get(t.traceId)).toBe(t.spans);
    // The live engine writes why a trace was kept on its spans; so does replay.
    expect(new Set(keptSpans.map((s) => s.attributes['tailsampling.policy']))).toEqual(new Set(['errors']));
    expect(new Set(keptSpans.map((s) => s.spanId)).size).toBe(keptSpans.length);
  });

  it('counts every span and trace of the input, and the kept ones as written', () => {
    const inputSpans = spansOfJsonLines(input.path);
    const errorTraces = input.manifest.filter((t) => t.hasError);
    expect(summary.spans.total).toBe(inputSpans.length);
    expect(summary.inputs.requests).toBe(input.lines.length);
    expect(summary.traces.total).toBe(input.manifest.length);
    expect(summary.traces.kept).toBe(errorTraces.length);
    expect(summary.spans.kept).toBe(spansOfJsonLines(kept).length);
    expect(summary.spans.late_kept + summary.spans.late_dropped + summary.spans.duplicate).toBe(0);
    expect(summary.policies.errors).toMatchObject({ kept_first: errorTraces.length, kept_any: errorTraces.length, sampled: errorTraces.length, dropped: 0 });
  });

  it('adds up bytes: total is every trace as buffered, kept is the kept traces', () => {
    const bytes = fragmentBytesByTrace(protobufRequests(input.lines));
    const total = [...bytes.values()].reduce((a, b) => a + b, 0);
    const keptBytes = input.manifest.filter((t) => t.hasError).reduce((n, t) => n + (bytes.get(t.traceId) ?? 0), 0);
    expect(summary.bytes.total).toBe(total);
    expect(summary.bytes.kept).toBe(keptBytes);
    expect(summary.policies.errors.bytes_kept_first).toBe(keptBytes);
  });

  it('splits totals by service so that they add up to the input', () => {
    const inputSpans = spansOfJsonLines(input.path);
    const services = Object.values(summary.services);
    expect(services.reduce((n, s) => n + s.spans.total, 0)).toBe(summary.spans.total);
    expect(services.reduce((n, s) => n + s.spans.kept, 0)).toBe(summary.spans.kept);
    const payment = inputSpans.filter((s) => s.service === 'payment');
    expect(summary.services.payment.spans.total).toBe(payment.length);
    expect(summary.services.payment.traces.total).toBe(new Set(payment.map((s) => s.traceId)).size);
    // Every trace of the shop scenario starts at the frontend.
    expect(summary.services.frontend.traces).toEqual({ total: summary.traces.total, kept: summary.traces.kept });
  });

  it('reports the event time range of the input', () => {
    const inputSpans = spansOfJsonLines(input.path);
    const first = Math.min(...inputSpans.map((s) => Number(s.startNs / 1000n) / 1000));
    const last = Math.max(...inputSpans.map((s) => Number(s.endNs / 1000n) / 1000));
    expect(summary.time_range?.first_ms).toBeCloseTo(first, 2);
    expect(summary.time_range?.last_ms).toBeCloseTo(last, 2);
    // Seconds of traffic are too few for baselines to judge anything.
    expect(summary.alerts).toEqual({ count: 0, firing: 0, resolved: 0, source: expect.stringContaining('baselines') });
  });

  it('reads the same traffic as OTLP protobuf, in every framing and gzip, with the same result', async () => {
    const requests = protobufRequests(input.lines);
    const single = join(dir, 'single');
    mkdirSync(join(single, 'a'), { recursive: true });
    mkdirSync(join(single, 'b'), { recursive: true });
    // One request per file, spread over nested folders; names sort in time order.
    requests.forEach((r, i) => writeFileSync(join(single, i < 10 ? 'a' : 'b', `${String(i).padStart(5, '0')}.pb`), r));
    writeFileSync(join(dir, 'framed.pb'), lengthPrefixed(requests, 'uint32-be'));
    writeFileSync(join(dir, 'delimited.bin.gz'), gzipSync(lengthPrefixed(requests, 'varint')));
    writeFileSync(join(dir, 'traffic.jsonl.gz'), gzipSync(input.lines.join('\n')));

    const expected = comparable(summary);
    for (const inputs of [[single], [join(dir, 'framed.pb')], [join(dir, 'delimited.bin.gz')], [join(dir, 'traffic.jsonl.gz')]]) {
      const other = await runReplay({ policies, inputs });
      expect(comparable(buildSummary(other)), inputs[0]).toEqual(expected);
    }
  });
});

/** The parts of a summary that depend on the traffic and the policies only. */
function comparable(s: ReplaySummary): unknown {
  return { traces: s.traces, spans: s.spans, bytes: s.bytes, policies: s.policies, services: s.services, time_range: s.time_range, requests: s.inputs.requests };
}
