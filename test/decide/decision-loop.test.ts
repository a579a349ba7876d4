import { describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import { DecisionLoop } from '../../src/decide/decision-loop.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { concatRequests } from '../../src/otlp/concat.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import type { PolicySet } from '../../src/policies/evaluator.js';
import type { KeptBatch, TraceSink } from '../../src/forward/sink.js';
import { SinkError } from '../../src/errors.js';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';

/** Keeps a trace when any span has an error status (makeSdkSpans gives one to the third span). */
const keepErrors: PolicySet = {
  policyNames: ['errors'],
  decide: (trace) =>
    trace.spans.some((s) => s.statusCode === 2) ? { keep: true, policy: 'errors' } : { keep: false, policy: undefined },
};

class RecordingSink implements TraceSink {
  readonly name = 'recording';
  readonly received: DecodedRequest[] = [];
  readonly batches: KeptBatch[] = [];
  failures: SinkError[] = [];
  async send(batch: KeptBatch): Promise<void> {
    const err = this.failures.shift();
    if (err) throw err;
    const d = decodeProtobufRequest(batch.request);
    if (!d.ok) throw d.error;
    this.received.push(d.value);
    this.batches.push(batch);
  }
  async close(): Promise<void> {}
  spanIds(): string[] {
    return this.received.flatMap((r) => r.spans.map((s) => s.spanId)).sort();
  }
}

function request(traces: number, spansPerTrace: number): DecodedRequest {
  const bytes = ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces, spansPerTrace }));
  const d = decodeProtobufRequest(bytes!);
  if (!d.ok) throw d.error;
  return d.value;
}

function setup(sink: RecordingSink) {
  const buffer = new MemoryTraceBuffer({
    decisionWaitMs: 1_000,
    decisionWaitAfterRootMs: undefined,
    maxSpansPerTrace: 1_000,
    maxTraces: 100,
    sampledCacheSize: 100,
    nonSampledCacheSize: 100,
  });
  const stats = new EngineStats();
  let now = 1_000_000;
  const loop = new DecisionLoop({
    buffer,
    policies: () => keepErrors,
    sinks: [sink],
    clock: { now: () => now },
    stats,
    logger: silentLogger,
    retryDelayMs: 5_000,
  });
  return { buffer, stats, loop, at: (ms: number) => (now = ms) };
}

describe('DecisionLoop', () => {
  it('forwards kept traces whole, drops the rest, and records every span', async () => {
    const sink = new RecordingSink();
    const { buffer, stats, loop } = setup(sink);
    const withErrors = request(2, 3);
    const withoutErrors = request(3, 2);
    await buffer.append(withErrors.fragments, 1_000_000);
    await buffer.append(withoutErrors.fragments, 1_000_000);

    expect(await loop.runDue(1_000_999)).toBe(0);
    expect(await loop.runDue(1_001_000)).toBe(5);
    expect(sink.spanIds()).toEqual(withErrors.spans.map((s) => s.spanId).sort());
    expect(Object.fromEntries(stats.tracesKept)).toEqual({ errors: 2 });
    expect(Object.fromEntries(stats.tracesDropped)).toEqual({ [EngineStats.NO_MATCH]: 3 });
    expect(stats.spansKept + stats.spansDropped).toBe(12);
    expect(await buffer.pending()).toEqual({ traces: 0, spans: 0 });
  });

  it('keeps traces buffered while a sink fails retriably, then forwards them once', async () => {
    const sink = new RecordingSink();
    const { buffer, stats, loop } = setup(sink);
    sink.failures.push(new SinkError('recording', '503', { retriable: true }));
    const req = request(1, 3);
    await buffer.append(req.fragments, 1_000_000);

    await loop.runDue(1_001_000);
    expect(sink.received).toHaveLength(0);
    expect(await buffer.pending()).toEqual({ traces: 1, spans: 3 });
    expect(stats.tracesRetried).toBe(1);
    // Not before the retry delay.
    await loop.runDue(1_005_999);
    expect(sink.received).toHaveLength(0);
    await loop.runDue(1_006_000);
    expect(sink.spanIds()).toEqual(req.spans.map((s) => s.spanId).sort());
    expect(await buffer.pending()).toEqual({ traces: 0, spans: 0 });
    expect(stats.forwardErrors.get('recording')).toBe(1);
  });

  it('does not retry a permanent refusal forever: counted, logged, trace released from the buffer', async () => {
    const sink = new RecordingSink();
    const { buffer, stats, loop } = setup(sink);
    sink.failures.push(new SinkError('recording', '400 bad request', { retriable: false }));
    await buffer.append(request(1, 3).fragments, 1_000_000);
    await loop.runDue(1_001_000);
    expect(await buffer.pending()).toEqual({ traces: 0, spans: 0 });
    expect(stats.forwardErrors.get('recording')).toBe(1);
    expect(stats.tracesRetried).toBe(0);
  });

  it('forwards late spans of a kept trace and counts late spans of a dropped one', async () => {
    const sink = new RecordingSink();
    const { buffer, stats, loop } = setup(sink);
    const kept = request(1, 3);
    const dropped = request(1, 2);
    await buffer.append([...kept.fragments, ...dropped.fragments], 1_000_000);
    await loop.runDue(1_001_000);
    expect(sink.received).toHaveLength(1);

    // The same fragments again are late spans now.
    const out = await buffer.append([...kept.fragments, ...dropped.fragments], 1_002_000);
    if (out.status !== 'accepted') throw new Error('expected accepted');
    loop.acceptLate(out.late);
    await loop.runDue(1_002_100);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1].spans.map((s) => s.spanId).sort()).toEqual(kept.spans.map((s) => s.spanId).sort());
    expect(stats.lateSpansKept).toBe(3);
    expect(stats.lateSpansDropped).toBe(2);
  });

  it('splits every batch by trace for sinks, late spans joining their trace', async () => {
    const sink = new RecordingSink();
    const { buffer, loop } = setup(sink);
    const kept = request(2, 3);
    await buffer.append(kept.fragments, 1_000_000);
    await loop.runDue(1_001_000);
    const late = await buffer.append(kept.fragments, 1_002_000);
    if (late.status !== 'accepted') throw new Error('expected accepted');
    loop.acceptLate(late.late);
    loop.acceptLate(late.late);
    await loop.runDue(1_002_100);

    expect(sink.batches).toHaveLength(2);
    for (const [i, batch] of sink.batches.entries()) {
      const traces = batch.traces ?? [];
      expect(new Set(traces.map((t) => t.traceId)).size).toBe(traces.length);
      const fromRequest = new Map<string, string[]>();
      for (const span of sink.received[i].spans) fromRequest.set(span.traceId, [...(fromRequest.get(span.traceId) ?? []), span.spanId]);
      const byTrace = new Map<string, string[]>();
      for (const t of traces) {
        const d = decodeProtobufRequest(concatRequests(t.fragments));
        if (!d.ok) throw d.error;
        expect(d.value.spanCount).toBe(t.spanCount);
        expect(new Set(d.value.spans.map((s) => s.traceId))).toEqual(new Set([t.traceId]));
        byTrace.set(t.traceId, d.value.spans.map((s) => s.spanId));
      }
      expect(byTrace).toEqual(fromRequest);
    }
    // The second batch holds only late spans, each trace's twice (accepted twice above), in one entry.
    expect(sink.batches[1].traceCount).toBe(0);
    expect(sink.batches[1].traces?.map((t) => t.spanCount)).toEqual([6, 6]);
  });

  it('forwards a redelivered request once and counts its spans as duplicates', async () => {
    const sink = new RecordingSink();
    const { buffer, stats, loop } = setup(sink);
    const req = request(2, 3);
    // At-least-once: the same request buffered twice before its traces are due.
    await buffer.append(req.fragments, 1_000_000);
    await buffer.append(req.fragments, 1_000_500);
    await loop.runDue(1_001_000);
    expect(sink.spanIds()).toEqual(req.spans.map((s) => s.spanId).sort());
    expect(stats.duplicateSpans).toBe(6);
    expect(stats.spansKept).toBe(6);
  });

  it('drain decides every pending trace whatever its due time', async () => {
    const sink = new RecordingSink();
    const { buffer, stats, loop } = setup(sink);
    await buffer.append(request(3, 3).fragments, 1_000_000);
    expect(await loop.drain()).toEqual({ left: 0 });
    expect(stats.sum(stats.tracesKept)).toBe(3);
    expect(sink.received.flatMap((r) => r.spans)).toHaveLength(9);
  });

  it('drain stops and reports what is left when the sink stays down', async () => {
    const sink = new RecordingSink();
    const { buffer, loop } = setup(sink);
    for (let i = 0; i < 5; i++) sink.failures.push(new SinkError('recording', 'down', { retriable: true }));
    await buffer.append(request(2, 3).fragments, 1_000_000);
    expect(await loop.drain()).toEqual({ left: 2 });
  });
});
