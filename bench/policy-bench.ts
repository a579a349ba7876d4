/**
 * Policy evaluation cost per span for a 10-policy set, the kind a platform team runs: a
 * health-check drop, errors, slow traces, attribute rules (exact, regex, numeric, boolean),
 * span count, an `and`, a `not` and a 5% baseline.
 *
 * The batch follows the Collector's tail_sampling benchmark: 4 services with 14 resource
 * attributes each, traces of 1/2/4/8/16/48 spans, 10% slow, 5% with an error. Spans are
 * plain in-memory views, so this measures the policies alone, not attribute decoding.
 * Reports nanoseconds per span (median of several runs, one core).
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/policy-bench.js`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AttrValue, SpanView } from '../src/otlp/types.js';
import type { TraceView } from '../src/policies/evaluator.js';
import { parsePolicyText } from '../src/policies/policy-file.js';

const SERVICES = ['checkout', 'payments', 'inventory', 'frontend'];
const TRACE_SIZES = [1, 2, 4, 8, 16, 48];
const TRACES_PER_SIZE = 200;
const RUNS = 7;
const PASSES_PER_RUN = 20;
const BASE_MS = 1_700_000_000_000;

export const BENCH_POLICIES = `
decision_wait: 10s
policies:
  - name: drop-health-checks
    type: drop
    drop:
      drop_sub_policy:
        - { type: string_attribute, string_attribute: { key: url.path, values: ['^/(healthz|readyz)$'], enabled_regex_matching: true } }
  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
  - { name: checkout-routes, type: string_attribute, string_attribute: { key: http.route, values: ['/api/v1/checkout/{id}/pay', '/api/v1/checkout/{id}/confirm'] } }
  - { name: admin-paths, type: string_attribute, string_attribute: { key: url.path, values: ['^/admin/', '/internal/'], enabled_regex_matching: true } }
  - { name: server-errors, type: numeric_attribute, numeric_attribute: { key: http.response.status_code, min_value: 500, max_value: 599 } }
  - { name: forced, type: boolean_attribute, boolean_attribute: { key: app.force_sample, value: true } }
  - { name: big-traces, type: span_count, span_count: { min_spans: 40 } }
  - name: slow-payments
    type: and
    and:
      and_sub_policy:
        - { type: string_attribute, string_attribute: { key: service.name, values: [payments] } }
        - { type: latency, latency: { threshold_ms: 300 } }
        - { type: not, not: { not_sub_policy: { type: boolean_attribute, boolean_attribute: { key: app.cache_hit, value: true } } } }
  - { name: baseline, type: probabilistic, probabilistic: { sampling_percentage: 5 } }
`;

export interface PolicyBenchResult {
  readonly nsPerSpan: number;
  readonly nsPerTrace: number;
  readonly spans: number;
  readonly traces: number;
  readonly policies: number;
  readonly keptShare: number;
}

/** A small deterministic generator, so every run measures the same batch. */
function makeRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function resourceFor(service: string, index: number): ReadonlyMap<string, AttrValue> {
  return new Map<string, AttrValue>(
    Object.entries({
      'service.name': service,
      'service.namespace': 'shop',
      'service.version': `1.${index}.0`,
      'service.instance.id': `${service}-7d9f8c6b5-${index}x2lq`,
      'deployment.environment.name': 'production',
      'host.name': `ip-10-0-${index}-17.eu-west-1.compute.internal`,
      'host.arch': 'amd64',
      'os.type': 'linux',
      'process.pid': 4242 + index,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': '20.19.0',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'k8s.pod.name': `${service}-7d9f8c6b5-${index}x2lq`,
    }),
  );
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return out.slice(0, length);
}

function makeSpan(traceId: string, parentSpanId: string, resource: ReadonlyMap<string, AttrValue>, fields: {
  startMs: number;
  endMs: number;
  statusCode: number;
  attributes: ReadonlyMap<string, AttrValue>;
  spanId: string;
}): SpanView {
  const serviceName = resource.get('service.name');
  return {
    traceId,
    spanId: fields.spanId,
    parentSpanId,
    name: 'operation',
    kind: 2,
    startMs: fields.startMs,
    endMs: fields.endMs,
    statusCode: fields.statusCode,
    traceState: '',
    flags: 1,
    serviceName: typeof serviceName === 'string' ? serviceName : '',
    attribute: (key) => fields.attributes.get(key),
    resourceAttribute: (key) => resource.get(key),
    attributes: () => fields.attributes,
    resourceAttributes: () => resource,
    events: () => [],
  };
}

/** The benchmark batch: TRACE_SIZES × TRACES_PER_SIZE traces. */
export function generateTraces(seed = 42): TraceView[] {
  const random = makeRandom(seed);
  const resources = SERVICES.map((service, i) => resourceFor(service, i));
  const traces: TraceView[] = [];
  for (const size of TRACE_SIZES) {
    for (let t = 0; t < TRACES_PER_SIZE; t++) {
      const traceId = hex(random, 32);
      const slow = random() < 0.1;
      const failing = random() < 0.05;
      const totalMs = slow ? 1000 + random() * 4000 : 5 + random() * 200;
      const start = BASE_MS + t * 1000;
      const spans: SpanView[] = [];
      const rootId = hex(random, 16);
      for (let s = 0; s < size; s++) {
        const serviceIndex = s === 0 ? 3 : Math.floor(random() * SERVICES.length);
        const service = SERVICES[serviceIndex];
        const offset = s === 0 ? 0 : random() * totalMs * 0.5;
        const health = s === 0 && random() < 0.02;
        const attributes = new Map<string, AttrValue>(
          Object.entries({
            'http.request.method': random() < 0.7 ? 'GET' : 'POST',
            'http.route': `/api/v1/${service}/{id}`,
            'url.path': health ? '/healthz' : `/api/v1/${service}/${Math.floor(random() * 100000)}`,
            'http.response.status_code': failing && s === size - 1 ? 503 : 200,
            'server.address': `${service}.shop.svc.cluster.local`,
            'server.port': 8080,
            'network.protocol.version': '1.1',
            'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36',
            'app.depth': s,
            'app.cache_hit': random() < 0.5,
          }),
        );
        spans.push(
          makeSpan(traceId, s === 0 ? '' : rootId, resources[serviceIndex], {
            spanId: s === 0 ? rootId : hex(random, 16),
            startMs: start + offset,
            endMs: s === 0 ? start + totalMs : start + offset + random() * (totalMs - offset),
            statusCode: failing && s === size - 1 ? 2 : 0,
            attributes,
          }),
        );
      }
      traces.push({ traceId, spans, byteSize: size * 450 });
    }
  }
  return traces;
}

/** Times the 10-policy set over the batch; the median of RUNS runs. */
export async function benchPolicies(): Promise<PolicyBenchResult> {
  const loaded = parsePolicyText(BENCH_POLICIES, 'bench-policies.yaml');
  if (!loaded.ok) throw new Error(`bench policy file is invalid:\n${loaded.problems.join('\n')}`);
  const { policySet } = loaded;
  const traces = generateTraces();
  const spans = traces.reduce((sum, trace) => sum + trace.spans.length, 0);
  const ctx = { nowMs: BASE_MS };

  let kept = 0;
  for (const trace of traces) if (policySet.decide(trace, ctx).keep) kept++;

  const samples: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    for (let pass = 0; pass < PASSES_PER_RUN; pass++) {
      for (const trace of traces) policySet.decide(trace, ctx);
    }
    samples.push(Number(process.hrtime.bigint() - started) / PASSES_PER_RUN);
    // Yield between runs so a caller's timers and I/O are not starved.
    await new Promise((resolve) => setImmediate(resolve));
  }
  samples.sort((a, b) => a - b);
  const nsPerBatch = samples[Math.floor(samples.length / 2)];
  return {
    nsPerSpan: nsPerBatch / spans,
    nsPerTrace: nsPerBatch / traces.length,
    spans,
    traces: traces.length,
    policies: policySet.policyNames.length,
    keptShare: kept / traces.length,
  };
}

async function main(): Promise<void> {
  const result = await benchPolicies();
  console.log(`policies: ${result.policies}, traces: ${result.traces}, spans: ${result.spans}, kept: ${(result.keptShare * 100).toFixed(1)}%`);
  console.log(`evaluation: ${result.nsPerSpan.toFixed(1)} ns/span, ${(result.nsPerTrace / 1000).toFixed(2)} µs/trace`);
  const out = join(benchRoot(), 'results', 'policy.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ node: process.version, ...result }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

/** bench/ in the source tree, also when running compiled from dist/bench. */
function benchRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'bench')}`) ? resolve(here, '../../bench') : here;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
