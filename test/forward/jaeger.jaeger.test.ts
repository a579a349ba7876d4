import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type HrTime, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { POLICY_ATTRIBUTE } from '../../src/policies/decision-attributes.js';
import { eventually, startEngine, type RunningEngine } from '../support/engine-process.js';
import { JAEGER_BUILD_LIMIT_MS, startJaeger, type JaegerServer } from '../support/jaeger-server.js';
import { localServices, uniquePrefix } from '../support/services.js';

/**
 * tailsift in front of a real Jaeger v2 all-in-one (built from its Go module on first use):
 * SDK spans go into `tailsift run`, the kept traces go to Jaeger over OTLP/HTTP or through a
 * Kafka topic Jaeger's kafka receiver reads, and Jaeger's query API must return each kept
 * trace whole, with the policy that kept it, and nothing of the dropped one.
 */

// The first run builds Jaeger (minutes); later runs find the cached binary.
const SETUP_LIMIT_MS = JAEGER_BUILD_LIMIT_MS + 180_000;

const POLICIES = [
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
].join('\n');

interface KeptTrace {
  readonly policy: string;
  readonly spans: readonly ReadableSpan[];
}

interface Traffic {
  readonly kept: ReadonlyMap<string, KeptTrace>;
  readonly droppedTraceId: string;
  /** Wall-clock ms before the earliest span start. */
  readonly startMs: number;
}

/**
 * Two services instrumented with the SDK send one trace that errors, one that is slow and one
 * that is neither, each span in its own export request, as SimpleSpanProcessor sends them.
 */
async function sendTraffic(receiverUrl: string): Promise<Traffic> {
  const recorded = new InMemorySpanExporter();
  const providers = ['checkout', 'payments'].map(
    (service) =>
      new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': service, 'service.version': '3.1.4', 'deployment.environment.name': 'test' }),
        spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${receiverUrl}/v1/traces` })), new SimpleSpanProcessor(recorded)],
      }),
  );
  const [checkout, payments] = providers.map((p) => p.getTracer('jaeger-test', '1.2.0')) as [Tracer, Tracer];
  const t0 = Date.now() - 30_000;
  const child = (tracer: Tracer, parent: Span, name: string, kind: SpanKind, attributes: Attributes, startMs: number): Span =>
    tracer.startSpan(name, { kind, attributes, startTime: startMs }, trace.setSpan(ROOT_CONTEXT, parent));

  const errRoot = checkout.startSpan('POST /checkout', { kind: SpanKind.SERVER, attributes: { 'http.route': '/checkout', 'http.response.status_code': 500 }, startTime: t0 });
  const charge = child(payments, errRoot, 'charge card', SpanKind.CLIENT, { 'payment.provider': 'acme', 'payment.amount': 12.5, 'payment.retried': true }, t0 + 5);
  charge.addEvent('card declined', { 'decline.code': 'insufficient_funds' }, t0 + 30);
  charge.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  charge.end(t0 + 40);
  errRoot.setStatus({ code: SpanStatusCode.ERROR });
  errRoot.end(t0 + 50);

  const slowRoot = checkout.startSpan('GET /cart', { kind: SpanKind.SERVER, attributes: { 'http.route': '/cart', 'cart.items': ['book', 'lamp'] }, startTime: t0 });
  child(checkout, slowRoot, 'load cart', SpanKind.INTERNAL, { 'cache.hit': false }, t0 + 10).end(t0 + 800);
  child(payments, slowRoot, 'price cart', SpanKind.CLIENT, { 'db.system': 'postgresql', rows: 3 }, t0 + 810).end(t0 + 900);
  slowRoot.end(t0 + 950);

  const okRoot = checkout.startSpan('GET /products', { kind: SpanKind.SERVER, startTime: t0 });
  child(checkout, okRoot, 'query catalog', SpanKind.CLIENT, {}, t0 + 1).end(t0 + 20);
  okRoot.end(t0 + 30);

  for (const p of providers) await p.forceFlush();
  // Read before shutdown, which empties the in-memory exporter.
  const spans = recorded.getFinishedSpans();
  await Promise.all(providers.map((p) => p.shutdown()));
  const ofTrace = (root: Span): ReadableSpan[] => spans.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
  return {
    kept: new Map([
      [errRoot.spanContext().traceId, { policy: 'errors', spans: ofTrace(errRoot) }],
      [slowRoot.spanContext().traceId, { policy: 'slow', spans: ofTrace(slowRoot) }],
    ]),
    droppedTraceId: okRoot.spanContext().traceId,
    startMs: t0 - 1_000,
  };
}

// ----- Jaeger's query API: /api/v3 returns OTLP/JSON (hex ids, int64 as strings), /api the v1 model.

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpKeyValue[];
  events?: { name: string; timeUnixNano: string; attributes?: OtlpKeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface OtlpTraces {
  resourceSpans?: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[] }[];
}
interface StoredSpan {
  readonly span: OtlpSpan;
  readonly resource: Record<string, unknown>;
  readonly scope: { name?: string; version?: string };
}

function plain(value: OtlpAnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(plain);
  return undefined;
}

function attributeMap(attributes: readonly OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((attributes ?? []).map((a) => [a.key, plain(a.value)]));
}

function nanos(t: HrTime): string {
  return (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
}

/** The spans Jaeger returns for a trace through /api/v3 (404 → none). */
async function readTraceV3(jaeger: JaegerServer, traceId: string): Promise<StoredSpan[]> {
  const response = await fetch(`${jaeger.queryUrl}/api/v3/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) });
  if (response.status === 404) {
    await response.arrayBuffer();
    return [];
  }
  if (!response.ok) throw new Error(`GET /api/v3/traces/${traceId}: HTTP ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { result?: OtlpTraces };
  return (body.result?.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((span) => ({ span, resource: attributeMap(rs.resource?.attributes), scope: ss.scope ?? {} }))),
  );
}

interface V1Trace {
  traceID: string;
  spans: { traceID: string; spanID: string; operationName: string; processID: string; tags: { key: string; value: unknown }[] }[];
  processes: Record<string, { serviceName: string }>;
}

async function readTraceV1(jaeger: JaegerServer, traceId: string): Promise<V1Trace> {
  const response = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET /api/traces/${traceId}: HTTP ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { data?: V1Trace[] };
  expect(body.data).toHaveLength(1);
  return body.data![0]!;
}

/** Waits until Jaeger holds every span of every kept trace, then checks each span field by field. */
async function expectKeptTracesWhole(jaeger: JaegerServer, traffic: Traffic): Promise<void> {
  expect([...traffic.kept.values()].map((t) => t.spans.length)).toEqual([2, 3]);
  for (const [traceId, expected] of traffic.kept) {
    const stored = await eventually(
      async () => {
        const spans = await readTraceV3(jaeger, traceId);
        return spans.length >= expected.spans.length ? spans : undefined;
      },
      30_000,
      `all ${expected.spans.length} spans of trace ${traceId} in Jaeger`,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last Jaeger log lines:\n${jaeger.logTail()}`);
    });
    expect(stored.map((s) => s.span.spanId).sort()).toEqual(expected.spans.map((s) => s.spanContext().spanId).sort());
    const byId = new Map(stored.map((s) => [s.span.spanId, s]));
    for (const sdk of expected.spans) {
      const got = byId.get(sdk.spanContext().spanId)!;
      expect(got.span.traceId).toBe(traceId);
      expect(got.span.name).toBe(sdk.name);
      expect(got.span.parentSpanId || undefined).toBe(sdk.parentSpanContext?.spanId);
      // OTLP span kinds are the SDK's plus one.
      expect(got.span.kind).toBe(sdk.kind + 1);
      expect(got.span.startTimeUnixNano).toBe(nanos(sdk.startTime));
      expect(got.span.endTimeUnixNano).toBe(nanos(sdk.endTime));
      expect(got.span.status?.code ?? 0).toBe(sdk.status.code);
      expect(got.span.status?.message || undefined).toBe(sdk.status.message);
      expect(got.resource).toMatchObject(sdk.resource.attributes);
      expect(got.scope).toMatchObject({ name: 'jaeger-test', version: '1.2.0' });
      expect(attributeMap(got.span.attributes)).toEqual({ ...sdk.attributes, [POLICY_ATTRIBUTE]: expected.policy });
      expect((got.span.events ?? []).map((e) => ({ name: e.name, time: e.timeUnixNano, attributes: attributeMap(e.attributes) }))).toEqual(
        sdk.events.map((e) => ({ name: e.name, time: nanos(e.time), attributes: e.attributes ?? {} })),
      );
    }

    // The v1 API, which Jaeger's UI reads, shows the same trace.
    const v1 = await readTraceV1(jaeger, traceId);
    expect(v1.spans.map((s) => s.spanID).sort()).toEqual(expected.spans.map((s) => s.spanContext().spanId).sort());
    for (const span of v1.spans) {
      const sdk = expected.spans.find((s) => s.spanContext().spanId === span.spanID)!;
      expect(span.operationName).toBe(sdk.name);
      expect(v1.processes[span.processID]?.serviceName).toBe(sdk.resource.attributes['service.name']);
      expect(span.tags).toContainEqual(expect.objectContaining({ key: POLICY_ATTRIBUTE, value: expected.policy }));
    }
  }
}

/**
 * Jaeger's search (the v1 API its UI uses) finds kept traces by the policy that kept them:
 * both kept traces involve `payments`, only one was kept by `errors`.
 */
async function expectSearchByPolicy(jaeger: JaegerServer, traffic: Traffic): Promise<void> {
  for (const [traceId, expected] of traffic.kept) {
    const query = new URLSearchParams({
      service: 'payments',
      tags: JSON.stringify({ [POLICY_ATTRIBUTE]: expected.policy }),
      start: String(traffic.startMs * 1_000),
      end: String((Date.now() + 60_000) * 1_000),
      limit: '20',
    });
    const response = await fetch(`${jaeger.queryUrl}/api/traces?${query}`, { signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(200);
    const found = ((await response.json()) as { data: V1Trace[] }).data.map((t) => t.traceID);
    expect(found, `search for ${POLICY_ATTRIBUTE}=${expected.policy}`).toEqual([traceId]);
  }
}

/** The dropped trace is decided (so it is not merely late) and absent from Jaeger. */
async function expectDroppedTraceAbsent(jaeger: JaegerServer, engine: RunningEngine, traffic: Traffic): Promise<void> {
  await eventually(
    async () => {
      const status = (await (await fetch(`${engine.adminUrl}/status`)).json()) as { traces: { dropped: Record<string, number> } };
      return Object.values(status.traces.dropped).reduce((a, b) => a + b, 0) === 1 ? true : undefined;
    },
    15_000,
    'the fast trace to be dropped',
  );
  expect(await readTraceV3(jaeger, traffic.droppedTraceId)).toEqual([]);
}

async function writeEngineConfig(dir: string, sink: string): Promise<string> {
  await writeFile(join(dir, 'policies.yaml'), POLICIES);
  const path = join(dir, 'tailsift.yaml');
  await writeFile(
    path,
    ['source: { type: otlp-http, host: 127.0.0.1, port: 0 }', 'buffer: { type: memory }', 'policies: policies.yaml', 'sinks:', `  - ${sink}`, 'admin: { host: 127.0.0.1, port: 0 }', ''].join('\n'),
  );
  return path;
}

describe('tailsift → OTLP/HTTP → Jaeger v2', () => {
  let jaeger: JaegerServer | undefined;
  let engine: RunningEngine | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    jaeger = await startJaeger();
    dir = await mkdtemp(join(tmpdir(), 'tailsift-jaeger-otlp-'));
    engine = await startEngine(await writeEngineConfig(dir, `{ type: otlp-http, endpoint: "${jaeger.otlpHttpUrl}/v1/traces", encoding: protobuf }`));
  }, SETUP_LIMIT_MS);

  afterAll(async () => {
    if (engine !== undefined && engine.child.exitCode === null) await engine.stop('SIGKILL');
    await jaeger?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('stores every span of each kept trace, with the keeping policy, and not the dropped trace', async () => {
    const traffic = await sendTraffic(engine!.receiverUrl);
    await expectKeptTracesWhole(jaeger!, traffic);
    await expectSearchByPolicy(jaeger!, traffic);
    await expectDroppedTraceAbsent(jaeger!, engine!, traffic);
    expect(await engine!.stop('SIGTERM')).toBe(0);
  });
});

describe('tailsift → Kafka topic (otlp_proto, keyed by trace id) → Jaeger v2 kafka receiver', () => {
  let jaeger: JaegerServer | undefined;
  let engine: RunningEngine | undefined;
  let dir: string | undefined;
  let kafka: Kafka | undefined;
  const topic = uniquePrefix('jaeger-spans');
  const groupId = uniquePrefix('jaeger');

  beforeAll(async () => {
    const brokers = (await localServices()).kafkaBrokers.split(',');
    kafka = new Kafka({ clientId: 'jaeger-test', brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Several partitions: each trace's one record still reaches Jaeger whole.
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    jaeger = await startJaeger({ kafka: { brokers, topic, groupId, encoding: 'otlp_proto' } });
    dir = await mkdtemp(join(tmpdir(), 'tailsift-jaeger-kafka-'));
    engine = await startEngine(await writeEngineConfig(dir, `{ type: kafka, brokers: ${JSON.stringify(brokers)}, topic: ${topic}, encoding: otlp_proto }`));
  }, SETUP_LIMIT_MS);

  afterAll(async () => {
    if (engine !== undefined && engine.child.exitCode === null) await engine.stop('SIGKILL');
    await jaeger?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    if (kafka !== undefined) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    }
  }, 30_000);

  it('Jaeger reads the kept traces from the topic and returns them whole; the dropped trace never arrives', async () => {
    const traffic = await sendTraffic(engine!.receiverUrl);
    await expectKeptTracesWhole(jaeger!, traffic);
    await expectSearchByPolicy(jaeger!, traffic);
    await expectDroppedTraceAbsent(jaeger!, engine!, traffic);
    expect(await engine!.stop('SIGTERM')).toBe(0);
    // One record per kept trace: the dropped one never reached the topic.
    const admin = kafka!.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    expect(offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(traffic.kept.size);
  });
});
