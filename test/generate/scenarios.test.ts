import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../src/generate/index.js';
import { byTrace, projectDecoder, traceProblems, type FlatSpan } from './otlp-reader.js';
import { generateToFile, scratchDir, START_MS, type FileRun } from './run-to-file.js';

const { dir, cleanup } = scratchDir();
afterAll(cleanup);

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const STATUS_ERROR = 2;
/** OTLP span flags: the parent's is-remote bit is known (0x100) and set (0x200). */
const REMOTE_PARENT = 0x300;

const runs = new Map<string, FileRun>();
beforeAll(async () => {
  for (const scenario of SCENARIOS.keys()) {
    runs.set(scenario, await generateToFile(dir, scenario, { scenario, rate: 40, durationSeconds: 6, seed: 21, startMs: START_MS }));
  }
});

const run = (scenario: string): FileRun => runs.get(scenario) as FileRun;
const spansWhere = (scenario: string, test: (s: FlatSpan) => boolean) => run(scenario).spans.filter(test);

describe.each([...SCENARIOS.keys()])('scenario %s', (scenario) => {
  it('produces well-formed traces: one root, parents present, children inside their parents', () => {
    const traces = byTrace(run(scenario).spans);
    expect(traces.size).toBeGreaterThan(150);
    const problems = [...traces].flatMap(([id, spans]) => traceProblems(spans).map((p) => `${id}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('matches its manifest: every trace, its span count, root, duration and error flag', () => {
    const { manifest, spans } = run(scenario);
    const traces = byTrace(spans);
    expect(manifest.map((m) => m.traceId).sort()).toEqual([...traces.keys()].sort());
    for (const entry of manifest) {
      const trace = traces.get(entry.traceId) as FlatSpan[];
      const root = trace.find((s) => s.parentSpanId === '') as FlatSpan;
      expect(trace).toHaveLength(entry.spans);
      expect(root.service).toBe(entry.rootService);
      expect(root.name).toBe(entry.rootName);
      expect(Number(root.endNs - root.startNs) / 1e6).toBeCloseTo(entry.durationMs, 2);
      expect(Number(root.startNs) / 1e6).toBeCloseTo(entry.startMs, 2);
      expect(trace.some((s) => s.statusCode === STATUS_ERROR)).toBe(entry.hasError);
      expect(entry.faults).toEqual([]);
    }
  });

  it('uses every service of the scenario, each with one consistent resource', () => {
    const expected = SCENARIOS.get(scenario)?.services.map((s) => s.name) ?? [];
    const resources = new Map<string, string>();
    for (const span of run(scenario).spans) {
      const resource = JSON.stringify(span.resource);
      expect(resources.get(span.service) ?? resource).toBe(resource);
      resources.set(span.service, resource);
      for (const key of ['service.name', 'service.version', 'service.instance.id', 'host.name', 'telemetry.sdk.language']) {
        expect(span.resource[key], `${span.service} ${key}`).toBeDefined();
      }
    }
    expect([...resources.keys()].sort()).toEqual([...expected].sort());
  });

  it('links services through client/server pairs with remote parents', () => {
    const spans = run(scenario).spans;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    let crossings = 0;
    for (const span of spans) {
      const parent = byId.get(span.parentSpanId);
      if (!parent) continue;
      if (parent.service !== span.service) {
        crossings++;
        expect(span.kind).toBe(SERVER);
        expect(parent.kind).toBe(CLIENT);
        expect(span.flags & REMOTE_PARENT).toBe(REMOTE_PARENT);
      } else {
        expect(span.flags & REMOTE_PARENT).toBe(0x100);
      }
    }
    expect(crossings).toBeGreaterThan(100);
  });

  it('gives server, client and database spans their semantic-convention attributes', () => {
    for (const span of run(scenario).spans) {
      if (span.kind === SERVER && span.attributes['http.request.method'] !== undefined) {
        expect(span.attributes['http.route']).toEqual(expect.any(String));
        expect(span.attributes['http.response.status_code']).toEqual(span.statusCode === STATUS_ERROR ? 500 : 200);
      }
      if (span.kind === SERVER && span.attributes['rpc.system'] === 'grpc') {
        expect(span.attributes['rpc.service']).toEqual(expect.any(String));
        expect(span.attributes['rpc.grpc.status_code']).toEqual(span.statusCode === STATUS_ERROR ? 13 : 0);
      }
      if (span.attributes['db.system.name'] !== undefined) {
        expect(span.kind).toBe(CLIENT);
        expect(span.attributes['db.operation.name']).toEqual(expect.any(String));
        expect(span.attributes['server.address']).toEqual(expect.any(String));
      }
      if (span.statusCode === STATUS_ERROR) expect(span.attributes['error.type']).toEqual(expect.any(String));
      expect(Object.keys(span.attributes).length).toBeGreaterThanOrEqual(2);
    }
    expect(spansWhere(scenario, (s) => s.attributes['db.system.name'] !== undefined).length).toBeGreaterThan(50);
  });

  it('records an exception event where an error is raised', () => {
    const failed = spansWhere(scenario, (s) => s.statusCode === STATUS_ERROR);
    expect(failed.length).toBeGreaterThan(0);
    const raised = failed.filter((s) => s.events.some((e) => e.name === 'exception'));
    expect(raised.length).toBeGreaterThan(0);
    for (const span of raised) {
      const event = span.events.find((e) => e.name === 'exception');
      expect(event?.attributes['exception.type']).toEqual(expect.any(String));
      expect(event?.attributes['exception.message']).toEqual(expect.any(String));
    }
  });

  it('sends each trace over several requests, one resource per request, root usually last', () => {
    const { spans, requests } = run(scenario);
    const servicesPerRequest = new Map<number, Set<string>>();
    for (const span of spans) {
      const set = servicesPerRequest.get(span.request) ?? new Set();
      set.add(span.service);
      servicesPerRequest.set(span.request, set);
    }
    expect(servicesPerRequest.size).toBe(requests);
    for (const services of servicesPerRequest.values()) expect(services.size).toBe(1);

    let multiRequest = 0;
    let rootLast = 0;
    const traces = byTrace(spans);
    for (const trace of traces.values()) {
      const requestsOfTrace = new Set(trace.map((s) => s.request));
      if (requestsOfTrace.size > 1) multiRequest++;
      const root = trace.find((s) => s.parentSpanId === '') as FlatSpan;
      if (root.request === Math.max(...requestsOfTrace)) rootLast++;
    }
    if (scenario !== 'bench') expect(multiRequest / traces.size).toBeGreaterThan(0.9);
    else expect(multiRequest / traces.size).toBeGreaterThan(0.4);
    // Within one tick, services' exports go out in the order their latest spans ended, and a
    // tick can hold spans of many traces, so "last" holds for most traces, not all.
    expect(rootLast / traces.size).toBeGreaterThan(0.75);
  });

  it('keeps every timestamp within the run', () => {
    const { spans, summary } = run(scenario);
    const startNs = BigInt(START_MS) * 1_000_000n;
    const endNs = startNs + BigInt(Math.round(summary.simulatedSeconds * 1e9));
    for (const span of spans) {
      expect(span.startNs >= startNs).toBe(true);
      expect(span.endNs <= endNs).toBe(true);
    }
  });

  it('decodes the same with the project OTLP decoder, when it is present', async () => {
    const decoder = await projectDecoder();
    if (!decoder) return;
    const lines = readFileSync(run(scenario).out, 'utf8').split('\n').filter((l) => l !== '');
    const decoded = lines.flatMap((line) => decoder.json(line));
    const expected = run(scenario).spans;
    expect(decoded).toHaveLength(expected.length);
    expect(decoded.map((s) => [s.traceId, s.spanId, s.parentSpanId, s.name, s.serviceName, s.statusCode])).toEqual(
      expected.map((s) => [s.traceId, s.spanId, s.parentSpanId, s.name, s.service, s.statusCode]),
    );
  });
});

describe('scenario specifics', () => {
  it('rag: model calls carry gen_ai.* attributes and walk the whole pipeline', () => {
    const chats = spansWhere('rag', (s) => s.attributes['gen_ai.operation.name'] === 'chat');
    const embeddings = spansWhere('rag', (s) => s.attributes['gen_ai.operation.name'] === 'embeddings');
    expect(chats.length).toBeGreaterThan(150);
    expect(embeddings.length).toBeGreaterThan(150);
    for (const span of [...chats, ...embeddings]) {
      expect(span.kind).toBe(CLIENT);
      expect(span.attributes['gen_ai.system']).toBe('openai');
      expect(span.attributes['gen_ai.request.model']).toEqual(expect.any(String));
      expect(span.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(span.name).toBe(`${span.attributes['gen_ai.operation.name']} ${span.attributes['gen_ai.request.model']}`);
    }
    for (const span of chats.filter((s) => s.statusCode !== STATUS_ERROR)) {
      expect(span.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
      expect(span.attributes['gen_ai.response.finish_reasons']).toEqual([expect.stringMatching(/^(stop|length)$/)]);
      expect(span.service).toBe('llm-inference');
    }
    // Most answers take seconds: generation time follows the output length.
    const durations = chats.map((s) => Number(s.endNs - s.startNs) / 1e6).sort((a, b) => a - b);
    expect(durations[Math.floor(durations.length / 2)]).toBeGreaterThan(1000);

    const order = ['query-embedding', 'vector-search', 'document-retrieval', 'context-assembly', 'llm-inference', 'response-parsing'];
    for (const trace of byTrace(run('rag').spans).values()) {
      const root = trace.find((s) => s.parentSpanId === '') as FlatSpan;
      expect(root.service).toBe('api-gateway');
      const stages = trace
        .filter((s) => s.kind === SERVER && s !== root)
        .sort((a, b) => (a.startNs < b.startNs ? -1 : 1))
        .map((s) => s.service);
      expect(stages).toEqual(order.slice(0, stages.length));
      if (root.statusCode !== STATUS_ERROR) expect(stages).toEqual(order);
    }
  });

  it('shop: fans out in parallel, queries Redis and PostgreSQL, publishes orders to Kafka', () => {
    const spans = run('shop').spans;
    const systems = new Set(spans.map((s) => s.attributes['db.system.name']).filter(Boolean));
    expect([...systems].sort()).toEqual(['postgresql', 'redis']);
    const publishes = spans.filter((s) => s.kind === PRODUCER);
    expect(publishes.length).toBeGreaterThan(0);
    for (const span of publishes) {
      expect(span.service).toBe('checkout');
      expect(span.attributes['messaging.system']).toBe('kafka');
      expect(span.attributes['messaging.destination.name']).toBe('orders');
    }
    // Fan-out: some parent has children whose time ranges overlap.
    const children = new Map<string, FlatSpan[]>();
    for (const span of spans) children.set(span.parentSpanId, [...(children.get(span.parentSpanId) ?? []), span]);
    const overlapping = [...children.values()].filter((list) =>
      list.some((a) => list.some((b) => a !== b && a.startNs < b.endNs && b.startNs < a.endNs)),
    );
    expect(overlapping.length).toBeGreaterThan(20);
  });
});
