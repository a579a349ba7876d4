import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSummary } from '../../src/replay/replay-summary.js';
import { runReplay } from '../../src/replay/run-replay.js';
import { generateShopTraffic, scratch, spansOfJsonLines, writePolicy, type GeneratedInput } from './replay-fixtures.js';

describe('replay run', () => {
  const { dir, cleanup } = scratch();
  let input: GeneratedInput;

  beforeAll(async () => {
    input = await generateShopTraffic(dir, { rate: 30, durationSeconds: 10 });
  });
  afterAll(cleanup);

  it('counts each policy as first reason and as any reason, past sample_on_first_match and drops', async () => {
    const policies = writePolicy(
      dir,
      'layered.yaml',
      `decision_wait: 10s
sample_on_first_match: true
policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: slow
    type: latency
    latency: { threshold_ms: 12 }
  - name: no-ads
    type: drop
    drop:
      drop_sub_policy:
        - { name: ad, type: string_attribute, string_attribute: { key: service.name, values: [ad] } }
`,
    );
    const summary = buildSummary(await runReplay({ policies, inputs: [input.path] }));

    const traces = input.manifest;
    // The drop matches any trace with a span of the ad service.
    const dropped = new Set(spansOfJsonLines(input.path).filter((s) => s.service === 'ad').map((s) => s.traceId));
    const isSlow = (t: (typeof traces)[number]): boolean => t.durationMs >= 12;
    const keptTraces = traces.filter((t) => !dropped.has(t.traceId) && (t.hasError || isSlow(t)));
    expect(dropped.size).toBeGreaterThan(0);
    expect(traces.some((t) => t.hasError && isSlow(t) && !dropped.has(t.traceId))).toBe(true);

    expect(summary.traces.kept).toBe(keptTraces.length);
    expect(summary.policies.errors).toMatchObject({
      kept_first: keptTraces.filter((t) => t.hasError).length,
      kept_any: keptTraces.filter((t) => t.hasError).length,
      sampled: traces.filter((t) => t.hasError).length,
    });
    expect(summary.policies.slow).toMatchObject({
      kept_first: keptTraces.filter((t) => !t.hasError && isSlow(t)).length,
      kept_any: keptTraces.filter(isSlow).length,
      sampled: traces.filter(isSlow).length,
    });
    expect(summary.policies['no-ads']).toMatchObject({ kept_first: 0, kept_any: 0, dropped: dropped.size });
  });

  it('holds no more than num_traces undecided and makes a full buffer wait, losing nothing', async () => {
    const policies = writePolicy(dir, 'small.yaml', `decision_wait: 10s\nnum_traces: 40\npolicies:\n  - { name: all, type: always_sample }\n`);
    const summary = buildSummary(await runReplay({ policies, inputs: [input.path] }));
    expect(summary.buffer_full_waits).toBeGreaterThan(0);
    expect(summary.traces.kept).toBe(input.manifest.length);
    expect(summary.spans.kept).toBe(summary.spans.total);
  });

  it('forwards and counts a request captured twice once, as the live engine does', async () => {
    const policies = writePolicy(dir, 'all.yaml', `decision_wait: 10s\npolicies:\n  - { name: all, type: always_sample }\n`);
    const twice = join(dir, 'twice.jsonl');
    writeFileSync(twice, `${[input.lines[0], ...input.lines.slice(0, 5)].join('\n')}\n`);
    const kept = join(dir, 'twice-kept.jsonl');
    const summary = buildSummary(await runReplay({ policies, inputs: [twice], out: kept }));

    const once = spansOfJsonLines(twice).filter((s) => s.request > 0);
    const repeated = spansOfJsonLines(twice).filter((s) => s.request === 0).length;
    const keptSpans = spansOfJsonLines(kept);
    expect(summary.spans.total).toBe(once.length + repeated);
    expect(summary.spans.duplicate).toBe(repeated);
    expect(summary.spans.kept).toBe(once.length);
    expect(keptSpans.length).toBe(once.length);
    expect(new Set(keptSpans.map((s) => s.spanId)).size).toBe(once.length);
    expect(Object.values(summary.services).reduce((n, s) => n + s.spans.kept, 0)).toBe(once.length);
  });

  it('takes one request holding more new traces than num_traces into an empty buffer, as the live engine does', async () => {
    const policies = writePolicy(dir, 'tiny.yaml', `decision_wait: 10s\nnum_traces: 1\npolicies:\n  - { name: all, type: always_sample }\n`);
    const line = input.lines.findIndex((l) => new Set([...l.matchAll(/"traceId":"([0-9a-f]{32})"/g)].map((m) => m[1])).size > 1);
    expect(line).toBeGreaterThanOrEqual(0);
    const traceIds = new Set([...input.lines[line].matchAll(/"traceId":"([0-9a-f]{32})"/g)].map((m) => m[1]));
    const file = join(dir, 'many.jsonl');
    writeFileSync(file, `${input.lines[line]}\n`);
    const summary = buildSummary(await runReplay({ policies, inputs: [file] }));
    expect(summary.traces.total).toBe(traceIds.size);
    expect(summary.traces.kept).toBe(traceIds.size);
  });
});
