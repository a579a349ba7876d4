import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import { DecisionLoop } from '../../src/decide/decision-loop.js';
import type { KeptBatch, TraceSink } from '../../src/forward/sink.js';
import { decodeProtobufRequest, jsonRequestToProtobuf } from '../../src/otlp/index.js';
import { loadPolicyFile, toCompletionSettings } from '../../src/policies/policy-file.js';
import { buildSummary } from '../../src/replay/replay-summary.js';
import { runReplay, type ReplayOutcome } from '../../src/replay/run-replay.js';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { START_MS, scratch, spansOfJsonLines, writePolicy } from './replay-fixtures.js';

const POLICY = `decision_wait: 10s
decision_wait_after_root_received: 2s
policies:
  - { name: everything, type: always_sample }
`;

// Span ids start with their trace's letter: a1 is a span of X.
const X = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const Y = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const W = 'cccccccccccccccccccccccccccccccc';
const Z = 'dddddddddddddddddddddddddddddddd';

interface SpanSpec {
  readonly trace: string;
  readonly id: string;
  readonly parent?: string;
  /** Seconds after START_MS. */
  readonly start: number;
  readonly end: number;
}

function request(...spans: SpanSpec[]): string {
  const ns = (seconds: number): string => (BigInt(START_MS + seconds * 1000) * 1_000_000n).toString();
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: spans.map((s) => ({
              traceId: s.trace,
              spanId: s.id.padStart(16, '0'),
              ...(s.parent ? { parentSpanId: s.parent.padStart(16, '0') } : {}),
              name: s.parent ? 'child' : 'root',
              kind: 2,
              startTimeUnixNano: ns(s.start),
              endTimeUnixNano: ns(s.end),
            })),
          },
        ],
      },
    ],
  });
}

/**
 * Four traces over 40 s of event time, one request per line, each line in the order an
 * exporter would send it (when its last span ended), except W's root, which shows up after a
 * later request: a capture slightly out of order.
 */
const LINES = [
  request({ trace: X, id: 'a1', parent: 'a0', start: 0, end: 1 }), // X first seen at 1 s: due 11 s
  request({ trace: X, id: 'a2', parent: 'a0', start: 2, end: 6 }),
  request({ trace: Y, id: 'b0', start: 11, end: 12 }), // Y's root at 12 s: due 14 s
  request({ trace: W, id: 'c0', start: 4, end: 5 }), // ended at 5 s, read after 12 s: arrives at 12 s
  request({ trace: X, id: 'a3', parent: 'a0', start: 15, end: 20 }), // X decided at 11 s: late
  request({ trace: Z, id: 'd1', parent: 'd0', start: 22, end: 25 }), // Z first seen at 25 s: due 35 s
  request({ trace: Z, id: 'd0', start: 21, end: 28 }), // Z's root at 28 s: due 30 s
  request({ trace: Z, id: 'd2', parent: 'd0', start: 29, end: 31 }, { trace: X, id: 'a0', start: 0, end: 40 }), // both late
];

const seconds = (ms: number): number => Math.round((ms - START_MS) / 10) / 100;

describe('replay in event time', () => {
  const { dir, cleanup } = scratch();
  const input = join(dir, 'spread.jsonl');
  const kept = join(dir, 'kept.jsonl');
  let policies: string;
  let outcome: ReplayOutcome;

  beforeAll(async () => {
    writeFileSync(input, `${LINES.join('\n')}\n`);
    policies = writePolicy(dir, 'all.yaml', POLICY);
    outcome = await runReplay({ policies, inputs: [input], out: kept });
  });
  afterAll(cleanup);

  // The test's time limit is shorter than the 40 s the traffic spans: replay must not wait.
  it('decides each trace at first span + decision_wait, or root + decision_wait_after_root_received', { timeout: 20_000 }, () => {
    const decided = new Map(outcome.primary.recorder.examples.map((t) => [t.traceId, t]));
    expect(seconds(decided.get(X)!.decidedAtMs)).toBe(11); // first span at 1 s + 10 s; no root by then
    expect(seconds(decided.get(Y)!.decidedAtMs)).toBe(14); // root at 12 s + 2 s
    expect(seconds(decided.get(W)!.decidedAtMs)).toBe(14); // arrived at the watermark, 12 s, + 2 s
    expect(seconds(decided.get(Z)!.decidedAtMs)).toBe(30); // root at 28 s + 2 s, before 25 s + 10 s
    expect(decided.get(X)!.spans).toBe(2);
    expect(decided.get(Z)!.spans).toBe(2);
  });

  it('sends spans that arrive after their decision on as late spans, following it', () => {
    const summary = buildSummary(outcome);
    expect(summary.traces).toEqual({ total: 4, kept: 4 });
    expect(summary.spans).toEqual({ total: 9, kept: 9, late_kept: 3, late_dropped: 0, duplicate: 0 });

    // Each line of the kept file is one forward; group span ids by line.
    const lines = new Map<number, string[]>();
    for (const span of spansOfJsonLines(kept)) lines.set(span.request, [...(lines.get(span.request) ?? []), span.spanId.replace(/^0+/, '')]);
    const batches = [...lines.values()].map((ids) => ids.sort().join(' '));
    expect(batches).toEqual(['a1 a2', 'b0 c0', 'a3', 'd0 d1', 'a0 d2']);
  });

  it('splits and decides the traffic as a live engine receiving each request at its end time does', async () => {
    const live = await liveDecisions(policies, LINES);
    const replayed = spansOfJsonLines(kept);
    const replayBatches = new Map<number, string[]>();
    for (const span of replayed) replayBatches.set(span.request, [...(replayBatches.get(span.request) ?? []), span.spanId]);
    expect([...replayBatches.values()].map((ids) => ids.sort())).toEqual(live);
  });
});

/**
 * The live engine's parts on a simulated wall clock: each request is appended when its last
 * span ended (in file order, never earlier than the previous one), and the decision loop runs
 * every 100 ms as it does live. Returns the span ids of each forwarded batch.
 */
async function liveDecisions(policyFile: string, lines: readonly string[]): Promise<string[][]> {
  const loaded = await loadPolicyFile(policyFile);
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  const batches: string[][] = [];
  const sink: TraceSink = {
    name: 'recording',
    async send(batch: KeptBatch) {
      const d = decodeProtobufRequest(batch.request);
      if (!d.ok) throw d.error;
      batches.push(d.value.spans.map((s) => s.spanId).sort());
    },
    async close() {},
  };
  const buffer = new MemoryTraceBuffer(toCompletionSettings(loaded.settings));
  let now = START_MS;
  const loop = new DecisionLoop({ buffer, policies: () => loaded.policySet, sinks: [sink], clock: { now: () => now }, stats: new EngineStats(), logger: silentLogger });
  const arrivals = lines.map((line) => {
    const decoded = decodeProtobufRequest(jsonRequestToProtobuf(JSON.parse(line)));
    if (!decoded.ok) throw decoded.error;
    return { decoded: decoded.value, atMs: Math.max(...decoded.value.spans.map((s) => s.endMs)) };
  });
  let next = 0;
  for (let tick = START_MS; tick <= START_MS + 60_000; tick += 100) {
    while (next < arrivals.length && Math.max(arrivals[next].atMs, now) <= tick) {
      now = Math.max(arrivals[next].atMs, now);
      const outcome = await buffer.append(arrivals[next].decoded.fragments, now);
      if (outcome.status !== 'accepted') throw new Error('buffer full');
      loop.acceptLate(outcome.late);
      next++;
    }
    now = tick;
    await loop.runDue(now);
  }
  return batches;
}
