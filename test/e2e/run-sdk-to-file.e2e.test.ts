import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { eventually, startEngine, type RunningEngine } from '../support/engine-process.js';

/**
 * The walking skeleton end to end: the OpenTelemetry JS SDK exports real traces over
 * OTLP/HTTP to `tailsift run`; the file sink must hold the error and slow traces whole, and
 * nothing else.
 */
interface KeptSpan {
  traceId: string;
  spanId: string;
  name: string;
  line: number;
}

async function readKept(path: string): Promise<KeptSpan[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: KeptSpan[] = [];
  text.split('\n').filter(Boolean).forEach((line, i) => {
    const req = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string; name: string }[] }[] }[] };
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) out.push({ traceId: s.traceId, spanId: s.spanId, name: s.name, line: i });
  });
  return out;
}

describe('tailsift run: SDK → OTLP/HTTP → memory buffer → policies → file sink', () => {
  let dir: string;
  let engine: RunningEngine;
  let provider: BasicTracerProvider;
  let tracer: Tracer;
  const t0 = Date.now() - 60_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-e2e-'));
    await writeFile(
      join(dir, 'policies.yaml'),
      [
        'decision_wait: 1500ms',
        'decision_wait_after_root_received: 300ms',
        'policies:',
        '  - name: errors',
        '    type: status_code',
        '    status_code: { status_codes: [ERROR] }',
        '  - name: slow',
        '    type: latency',
        '    latency: { threshold_ms: 500 }',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'tailsift.yaml'),
      [
        'source: { type: otlp-http, host: 127.0.0.1, port: 0 }',
        'buffer: { type: memory }',
        'policies: policies.yaml',
        'sinks:',
        '  - { type: file, path: kept.jsonl }',
        'admin: { host: 127.0.0.1, port: 0 }',
        '',
      ].join('\n'),
    );
    engine = await startEngine(join(dir, 'tailsift.yaml'));
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'deployment.environment.name': 'test' }),
      // One export request per span, so every trace arrives in several requests.
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${engine.receiverUrl}/v1/traces` }))],
    });
    tracer = provider.getTracer('e2e');
  });

  afterAll(async () => {
    await provider?.shutdown();
    if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function span(name: string, startMs: number, endMs: number, parent?: Span, error = false): Span {
    const ctx = parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const s = tracer.startSpan(name, { startTime: startMs }, ctx);
    if (error) s.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    s.end(endMs);
    return s;
  }

  it('keeps error and slow traces whole, drops the rest, and decides a split trace once', async () => {
    const health = await fetch(`${engine.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${engine.adminUrl}/readyz`);
    expect(ready.status).toBe(200);

    // An error in a child span; the root ends last, as in real services.
    const errRoot = tracer.startSpan('POST /checkout', { startTime: t0 }, ROOT_CONTEXT);
    span('charge card', t0 + 5, t0 + 40, errRoot, true);
    errRoot.end(t0 + 50);

    // Slow: 800 ms from the earliest start to the latest end.
    const slowRoot = tracer.startSpan('GET /cart', { startTime: t0 }, ROOT_CONTEXT);
    span('load cart', t0 + 10, t0 + 800, slowRoot);
    slowRoot.end(t0 + 120);

    // Fast and fine: dropped.
    const okRoot = tracer.startSpan('GET /products', { startTime: t0 }, ROOT_CONTEXT);
    span('query catalog', t0 + 1, t0 + 20, okRoot);
    okRoot.end(t0 + 30);

    // A trace whose spans come in two requests far apart: the child first, the root later.
    const splitRoot = tracer.startSpan('POST /pay', { startTime: t0 }, ROOT_CONTEXT);
    span('fraud check', t0 + 2, t0 + 10, splitRoot, true);
    await new Promise((r) => setTimeout(r, 700));
    splitRoot.end(t0 + 15);
    await provider.forceFlush();

    const ids = {
      err: errRoot.spanContext().traceId,
      slow: slowRoot.spanContext().traceId,
      ok: okRoot.spanContext().traceId,
      split: splitRoot.spanContext().traceId,
    };
    const keptPath = join(dir, 'kept.jsonl');
    const kept = await eventually(
      async () => {
        const k = await readKept(keptPath);
        const traces = new Set(k.map((s) => s.traceId));
        return [ids.err, ids.slow, ids.split].every((id) => traces.has(id)) ? k : undefined;
      },
      15_000,
      'kept traces in the file sink',
    );

    const byTrace = (id: string) => kept.filter((s) => s.traceId === id);
    expect(byTrace(ids.err).map((s) => s.name).sort()).toEqual(['POST /checkout', 'charge card']);
    expect(byTrace(ids.slow).map((s) => s.name).sort()).toEqual(['GET /cart', 'load cart']);
    expect(byTrace(ids.ok)).toEqual([]);
    // Decided once: both spans, each exactly once, forwarded together.
    const split = byTrace(ids.split);
    expect(split.map((s) => s.name).sort()).toEqual(['POST /pay', 'fraud check']);
    expect(new Set(split.map((s) => s.line)).size).toBe(1);

    const status = (await (await fetch(`${engine.adminUrl}/status`)).json()) as { spans: { received: number } };
    expect(status.spans.received).toBe(8);

    expect(await engine.stop('SIGTERM')).toBe(0);
    // The fast trace was dropped, not lost: the engine counted it before exiting.
    const finalStatus = engine.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('spans in')).pop();
    expect(finalStatus?.msg).toMatch(/dropped 1 traces/);
    expect(finalStatus?.msg).toMatch(/kept 3 traces \[errors 2, slow 1\]/);
  });

  it('decides pending traces on SIGTERM instead of losing them', async () => {
    const d2 = await mkdtemp(join(tmpdir(), 'tailsift-e2e-term-'));
    try {
      await writeFile(join(d2, 'policies.yaml'), 'decision_wait: 1h\npolicies:\n  - { name: all, type: always_sample }\n');
      await writeFile(
        join(d2, 'tailsift.yaml'),
        'source: { type: otlp-http, port: 0 }\npolicies: policies.yaml\nsinks: [{ type: file, path: kept.jsonl }]\nadmin: { port: 0 }\n',
      );
      const e2 = await startEngine(join(d2, 'tailsift.yaml'));
      const p2 = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'cart' }),
        spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${e2.receiverUrl}/v1/traces` }))],
      });
      const root = p2.getTracer('e2e').startSpan('GET /cart', { startTime: t0 }, ROOT_CONTEXT);
      root.end(t0 + 5);
      await p2.forceFlush();
      await p2.shutdown();
      // decision_wait is an hour: only the shutdown drain can decide this trace.
      expect(await e2.stop('SIGTERM')).toBe(0);
      const kept = await readKept(join(d2, 'kept.jsonl'));
      expect(kept.map((s) => s.traceId)).toEqual([root.spanContext().traceId]);
    } finally {
      await rm(d2, { recursive: true, force: true });
    }
  });
});
