import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { eventually } from '../support/engine-process.js';
import { postSpans, readKeptSpans, startInProcess, type InProcessEngine } from '../telemetry/in-process-engine.js';
import { sampleValue, scrape } from '../telemetry/prometheus-text.js';

/**
 * What an SRE sees of a running engine: /metrics, /status, /readyz, and the limits, with real
 * OTLP from the OpenTelemetry SDK. Traces of three spans carry an error (kept by `errors`),
 * traces of two do not (dropped).
 */
const KEEP_ERRORS = [
  'decision_wait: 300ms',
  'decision_wait_after_root_received: 100ms',
  'policies:',
  '  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }',
  '',
].join('\n');

let running: InProcessEngine[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.dispose()));
  running = [];
});

async function start(options: Parameters<typeof startInProcess>[0]): Promise<InProcessEngine> {
  const r = await startInProcess(options);
  running.push(r);
  return r;
}

/** One trace of `spans` spans whose root carries a string attribute `payload` of `payloadLength` characters. */
function traceWithPayload(spans: number, payloadLength: number): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('ops');
  const root = tracer.startSpan('POST /order', { attributes: { payload: 'p'.repeat(payloadLength) } });
  for (let i = 1; i < spans; i++) tracer.startSpan(`step ${i}`, {}, trace.setSpan(context.active(), root)).end();
  root.end();
  return exporter.getFinishedSpans();
}

describe('GET /metrics', () => {
  it('counts spans in, decisions by policy, late spans, and delays, as traffic flows', async () => {
    const r = await start({ policy: KEEP_ERRORS });
    const before = await scrape(r.adminUrl);
    expect(sampleValue(before, 'tailsift_spans_received_total', { source: 'otlp-http' })).toBe(0);
    expect(sampleValue(before, 'tailsift_traces_pending')).toBe(0);
    expect(sampleValue(before, 'tailsift_buffer_reachable')).toBe(1);
    expect(sampleValue(before, 'tailsift_decision_delay_seconds_count')).toBe(0);
    expect(sampleValue(before, 'tailsift_build_info')).toBe(1);
    expect(before.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);

    const kept = makeSdkSpans({ traces: 2, spansPerTrace: 3 });
    const dropped = makeSdkSpans({ traces: 1, spansPerTrace: 2 });
    expect((await postSpans(r.receiverUrl, kept)).status).toBe(200);
    expect((await postSpans(r.receiverUrl, dropped)).status).toBe(200);

    const during = await scrape(r.adminUrl);
    expect(sampleValue(during, 'tailsift_spans_received_total', { source: 'otlp-http' })).toBe(8);
    expect(sampleValue(during, 'tailsift_http_requests_total', { outcome: 'accepted' })).toBe(2);

    const after = await eventually(async () => {
      const m = await scrape(r.adminUrl);
      return sampleValue(m, 'tailsift_traces_pending') === 0 && (sampleValue(m, 'tailsift_decision_delay_seconds_count') ?? 0) === 3 ? m : undefined;
    }, 10_000, 'three decided traces');
    expect(sampleValue(after, 'tailsift_traces_decided_total', { policy: 'errors', decision: 'keep' })).toBe(2);
    expect(sampleValue(after, 'tailsift_traces_decided_total', { policy: '(no policy matched)', decision: 'drop' })).toBe(1);
    expect(sampleValue(after, 'tailsift_spans_decided_total', { decision: 'keep' })).toBe(6);
    expect(sampleValue(after, 'tailsift_spans_decided_total', { decision: 'drop' })).toBe(2);
    expect(sampleValue(after, 'tailsift_policy_evaluation_seconds_count')).toBe(3);
    expect(sampleValue(after, 'tailsift_decision_delay_seconds_bucket', { le: '+Inf' })).toBe(3);
    const sink = `file ${join(r.dir, 'kept.jsonl')}`;
    expect(sampleValue(after, 'tailsift_sink_queue_spans', { sink })).toBe(0);
    expect(sampleValue(after, 'tailsift_forward_errors_total', { sink })).toBe(0);

    // The same spans again: their traces are decided, so they follow the recorded decisions.
    expect((await postSpans(r.receiverUrl, [...kept, ...dropped])).status).toBe(200);
    const late = await eventually(async () => {
      const m = await scrape(r.adminUrl);
      return sampleValue(m, 'tailsift_late_spans_total', { decision: 'keep' }) === 6 ? m : undefined;
    }, 10_000, 'late spans counted');
    expect(sampleValue(late, 'tailsift_late_spans_total', { decision: 'drop' })).toBe(2);
    expect(sampleValue(late, 'tailsift_spans_received_total', { source: 'otlp-http' })).toBe(16);
  });

  it('serves /healthz, and /readyz with its checks', async () => {
    const r = await start({ policy: KEEP_ERRORS });
    expect((await fetch(`${r.adminUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${r.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { source: 'ok', policies: 'ok (1 policies)', buffer: 'ok (0 traces pending)' } });
  });
});

describe('GET /status', () => {
  it('gives throughput, the keep rate per policy and each sink\'s queue', async () => {
    const r = await start({ policy: KEEP_ERRORS });
    await postSpans(r.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 3 }));
    await postSpans(r.receiverUrl, makeSdkSpans({ traces: 3, spansPerTrace: 2 }));
    type Status = {
      traces: { pending: number };
      throughput: { spansPerSec: number; tracesDecidedPerSec: number; keepRate: number; keepRateByPolicy: Record<string, number> };
      sinks: Record<string, { queuedSpans: number; errors: number }>;
      limits: { tracesOverLimit: Record<string, number>; attributeValuesTruncated: number };
    };
    const status = await eventually(async () => {
      const s = (await (await fetch(`${r.adminUrl}/status`)).json()) as Status;
      return s.traces.pending === 0 && s.throughput.tracesDecidedPerSec > 0 ? s : undefined;
    }, 10_000, 'decided traces in /status');
    expect(status.throughput.spansPerSec).toBeGreaterThan(0);
    expect(status.throughput.keepRate).toBe(0.25);
    expect(status.throughput.keepRateByPolicy).toEqual({ errors: 0.25 });
    expect(status.sinks).toEqual({ [`file ${join(r.dir, 'kept.jsonl')}`]: { queuedSpans: 0, errors: 0 } });
    expect(status.limits).toEqual({ tracesOverLimit: {}, attributeValuesTruncated: 0 });
    expect(status).not.toHaveProperty('kafka');
  });
});

describe('limits', () => {
  it('answers 413 over the body size limit and counts it', async () => {
    const r = await start({ policy: KEEP_ERRORS, config: ['source: { type: otlp-http, host: 127.0.0.1, port: 0, maxBodyBytes: 2000 }'] });
    const res = await postSpans(r.receiverUrl, traceWithPayload(1, 5000));
    expect(res.status).toBe(413);
    const m = await scrape(r.adminUrl);
    expect(sampleValue(m, 'tailsift_http_requests_rejected_total', { reason: 'too_large' })).toBe(1);
    expect(sampleValue(m, 'tailsift_http_requests_total', { outcome: 'rejected' })).toBe(1);
    expect(sampleValue(m, 'tailsift_spans_received_total', { source: 'otlp-http' })).toBe(0);
  });

  it('answers 503 with Retry-After at num_traces, counts the refused spans, and evicts nothing', async () => {
    const r = await start({ policy: 'decision_wait: 1h\nnum_traces: 2\npolicies:\n  - { name: all, type: always_sample }\n' });
    expect((await postSpans(r.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 2 }))).status).toBe(200);
    expect((await postSpans(r.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 2 }))).status).toBe(200);
    const refused = await postSpans(r.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 3 }));
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const m = await scrape(r.adminUrl);
    expect(sampleValue(m, 'tailsift_spans_rejected_total', { reason: 'buffer_full' })).toBe(3);
    expect(sampleValue(m, 'tailsift_http_requests_rejected_total', { reason: 'buffer_full' })).toBe(1);
    expect(sampleValue(m, 'tailsift_http_requests_total', { outcome: 'throttled' })).toBe(1);
    expect(sampleValue(m, 'tailsift_traces_pending')).toBe(2);
    // Full is a reason to slow senders down, not to stop being ready.
    expect((await fetch(`${r.adminUrl}/readyz`)).status).toBe(200);
  });

  it('decides a trace at once when it reaches max_spans_per_trace, and counts it', async () => {
    const r = await start({ policy: 'decision_wait: 1h\nmax_spans_per_trace: 3\npolicies:\n  - { name: all, type: always_sample }\n' });
    await postSpans(r.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 4 }));
    await postSpans(r.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 2 }));
    const m = await eventually(async () => {
      const s = await scrape(r.adminUrl);
      return sampleValue(s, 'tailsift_traces_decided_total', { policy: 'all', decision: 'keep' }) === 1 ? s : undefined;
    }, 10_000, 'the big trace decided before its decision_wait');
    expect(sampleValue(m, 'tailsift_traces_over_limit_total', { limit: 'max_spans_per_trace' })).toBe(1);
    expect(sampleValue(m, 'tailsift_traces_pending')).toBe(1);
  });

  it('drops a trace at once when it grows past maximum_trace_size_bytes, and its later spans with it', async () => {
    const r = await start({
      policy: 'decision_wait: 1h\nmaximum_trace_size_bytes: 2000\npolicies:\n  - { name: all, type: always_sample }\n',
      engine: { limitLogIntervalMs: 50 },
    });
    const big = traceWithPayload(2, 3000);
    await postSpans(r.receiverUrl, big);
    const m = await eventually(async () => {
      const s = await scrape(r.adminUrl);
      return sampleValue(s, 'tailsift_traces_over_limit_total', { limit: 'maximum_trace_size_bytes' }) === 1 ? s : undefined;
    }, 10_000, 'the oversized trace decided');
    expect(sampleValue(m, 'tailsift_traces_decided_total', { policy: '(no policy matched)', decision: 'drop' })).toBe(1);
    expect(sampleValue(m, 'tailsift_traces_pending')).toBe(0);
    await postSpans(r.receiverUrl, big);
    const late = await scrape(r.adminUrl);
    expect(sampleValue(late, 'tailsift_late_spans_total', { decision: 'drop' })).toBe(2);
    expect(await readKeptSpans(join(r.dir, 'kept.jsonl'))).toEqual([]);
    await eventually(() => r.logs.find((l) => String(l.msg).startsWith('limits reached')), 5_000, 'the aggregated limit line');
  });

  it('cuts long attribute values to limits.maxAttributeValueLength and counts them', async () => {
    const r = await start({
      policy: 'decision_wait: 100ms\npolicies:\n  - { name: all, type: always_sample }\n',
      config: ['limits: { maxAttributeValueLength: 16 }'],
    });
    expect((await postSpans(r.receiverUrl, traceWithPayload(2, 500))).status).toBe(200);
    const kept = await eventually(async () => {
      const spans = await readKeptSpans(join(r.dir, 'kept.jsonl'));
      return spans.length === 2 ? spans : undefined;
    }, 10_000, 'the kept trace');
    expect(kept.find((s) => s.name === 'POST /order')?.attributes.payload).toBe('p'.repeat(16));
    const m = await scrape(r.adminUrl);
    expect(sampleValue(m, 'tailsift_attribute_values_truncated_total')).toBe(1);
  });
});

describe('shutdown', () => {
  it('drops pending traces unevaluated with drop_pending_traces_on_shutdown', async () => {
    const r = await startInProcess({ policy: 'decision_wait: 1h\ndrop_pending_traces_on_shutdown: true\npolicies:\n  - { name: all, type: always_sample }\n' });
    try {
      await postSpans(r.receiverUrl, makeSdkSpans({ traces: 2, spansPerTrace: 2 }));
      await r.engine.stop();
      expect(Object.fromEntries(r.engine.stats.tracesDropped)).toEqual({ '(dropped on shutdown)': 2 });
      expect(await readKeptSpans(join(r.dir, 'kept.jsonl'))).toEqual([]);
    } finally {
      await r.dispose();
    }
  });

  it('says how many traces are lost when the memory buffer is told to leave them', async () => {
    const r = await startInProcess({
      policy: 'decision_wait: 1h\npolicies:\n  - { name: all, type: always_sample }\n',
      config: ['buffer: { type: memory, pendingOnShutdown: leave }'],
    });
    try {
      await postSpans(r.receiverUrl, makeSdkSpans({ traces: 3, spansPerTrace: 2 }));
      await r.engine.stop();
      const lost = r.logs.find((l) => String(l.msg).startsWith('undecided traces are lost'));
      expect(lost).toMatchObject({ traces: 3, spans: 6, level: 50 });
      expect(r.engine.stats.sum(r.engine.stats.tracesKept)).toBe(0);
    } finally {
      await r.dispose();
    }
  });

  it('refuses intake with 503 once stopping, counted as shutting_down', async () => {
    const r = await startInProcess({ policy: KEEP_ERRORS });
    try {
      const decoded = { spans: [], fragments: [], spanCount: 5 };
      await r.engine.stop();
      expect(await r.engine.intake(decoded)).toMatchObject({ status: 'full', reason: 'shutting down' });
      expect(r.engine.stats.spansRejected.get('shutting_down')).toBe(5);
    } finally {
      await r.dispose();
    }
  });
});
