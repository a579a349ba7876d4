/**
 * Decode throughput of the selective OTLP protobuf decoder, on batches built by the
 * OpenTelemetry JS SDK's own serializer.
 *
 * The batch follows the Collector's tail_sampling benchmark: 4 services with 14 resource
 * attributes each, traces of 1/2/4/8/16/48 spans spread over the services, about 10 span
 * attributes per span, 10% slow traces and 5% with an error. Reports spans per second of
 * CPU time (median of several runs, one thread) with and without the split into per-trace
 * fragments.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/decode-bench.js`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Span, Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeProtobufRequest, decodeProtobufSpans } from '../src/otlp/decode-protobuf.js';

const SERVICES = ['checkout', 'payments', 'inventory', 'frontend'];
const TRACE_SIZES = [1, 2, 4, 8, 16, 48];
const TRACES_PER_SIZE = 60;
const SPANS_PER_REQUEST = 1000;
const RUNS = 7;
/** Each run decodes the whole set of requests this many times. */
const PASSES_PER_RUN = 10;

export interface DecodeBenchResult {
  readonly spansPerSecond: number;
  readonly spansPerSecondWithoutGrouping: number;
  /** Decode and split, and every fragment's bytes written too (what the file and Kafka sinks need, for kept traces only). */
  readonly spansPerSecondWithFragmentBytes: number;
  readonly spans: number;
  readonly requests: number;
  readonly bytesPerSpan: number;
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

function resourceAttributes(service: string, index: number): Record<string, string | number> {
  return {
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
  };
}

function spanAttributes(random: () => number, service: string, depth: number): Record<string, string | number | boolean> {
  return {
    'http.request.method': random() < 0.7 ? 'GET' : 'POST',
    'http.route': `/api/v1/${service}/{id}`,
    'url.path': `/api/v1/${service}/${Math.floor(random() * 100000)}`,
    'http.response.status_code': 200,
    'server.address': `${service}.shop.svc.cluster.local`,
    'server.port': 8080,
    'network.protocol.version': '1.1',
    'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36',
    'app.depth': depth,
    'app.cache_hit': random() < 0.5,
  };
}

/** Spans of every trace, built with the SDK; returned in the order the services ended them. */
function buildSpans(): ReadableSpan[] {
  const random = makeRandom(42);
  const exporter = new InMemorySpanExporter();
  const tracers: Tracer[] = SERVICES.map((service, i) => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(resourceAttributes(service, i)),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    return provider.getTracer(`${service}-instrumentation`, '1.0.0');
  });
  let clockMs = Date.UTC(2025, 0, 1);
  for (let round = 0; round < TRACES_PER_SIZE; round++) {
    for (const size of TRACE_SIZES) {
      const slow = random() < 0.1;
      const failed = random() < 0.05;
      const startMs = (clockMs += 7);
      const open: Span[] = [];
      const opened: Span[] = [];
      for (let i = 0; i < size; i++) {
        const service = i % SERVICES.length;
        const parent = open.length === 0 ? undefined : open[Math.floor(random() * open.length)];
        const ctx = parent === undefined ? context.active() : trace.setSpan(context.active(), parent);
        const span = tracers[service].startSpan(
          `${SERVICES[service]} ${i === 0 ? 'GET /checkout' : `op-${i % 7}`}`,
          {
            kind: i === 0 ? SpanKind.SERVER : i % 2 === 0 ? SpanKind.CLIENT : SpanKind.INTERNAL,
            attributes: spanAttributes(random, SERVICES[service], i),
            startTime: startMs + i,
          },
          ctx,
        );
        if (failed && i === size - 1) span.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timeout' });
        open.push(span);
        opened.push(span);
      }
      for (let i = opened.length - 1; i >= 0; i--) opened[i].end(startMs + i + (slow ? 2000 : 20) + (opened.length - i));
    }
  }
  return exporter.getFinishedSpans();
}

export function buildRequests(): Uint8Array[] {
  const spans = buildSpans();
  const requests: Uint8Array[] = [];
  for (let i = 0; i < spans.length; i += SPANS_PER_REQUEST) {
    const bytes = ProtobufTraceSerializer.serializeRequest(spans.slice(i, i + SPANS_PER_REQUEST));
    if (bytes === undefined) throw new Error('the SDK serializer returned nothing');
    requests.push(bytes);
  }
  return requests;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Decodes, splits and writes every fragment's bytes (which fragments otherwise do on first use). */
function decodeAndWriteFragments(request: Uint8Array): ReturnType<typeof decodeProtobufRequest> {
  const result = decodeProtobufRequest(request);
  if (result.ok) for (const fragment of result.value.fragments) void fragment.bytes;
  return result;
}

function measure(requests: readonly Uint8Array[], decode: typeof decodeProtobufRequest): number {
  let spans = 0;
  for (const request of requests) {
    const result = decode(request);
    if (!result.ok) throw result.error;
    spans += result.value.spanCount;
  }
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // CPU time rather than wall time: on a shared machine, time spent waiting for a core is
    // not decoding. It includes the garbage collector's helper threads, which the decode
    // keeps busy.
    const started = process.cpuUsage();
    for (let pass = 0; pass < PASSES_PER_RUN; pass++) {
      for (const request of requests) decode(request);
    }
    const used = process.cpuUsage(started);
    const seconds = (used.user + used.system) / 1e6;
    rates.push((spans * PASSES_PER_RUN) / seconds);
  }
  return median(rates);
}

export async function benchDecode(): Promise<DecodeBenchResult> {
  const requests = buildRequests();
  let spans = 0;
  let bytes = 0;
  for (const request of requests) {
    const result = decodeProtobufRequest(request);
    if (!result.ok) throw result.error;
    spans += result.value.spanCount;
    bytes += request.length;
  }
  // Warm both paths up before measuring either, so neither pays for the JIT.
  measure(requests, decodeProtobufSpans);
  measure(requests, decodeProtobufRequest);
  measure(requests, decodeAndWriteFragments);
  const spansPerSecondWithoutGrouping = measure(requests, decodeProtobufSpans);
  const spansPerSecond = measure(requests, decodeProtobufRequest);
  const spansPerSecondWithFragmentBytes = measure(requests, decodeAndWriteFragments);
  return { spansPerSecond, spansPerSecondWithoutGrouping, spansPerSecondWithFragmentBytes, spans, requests: requests.length, bytesPerSpan: bytes / spans };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const result = await benchDecode();
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`decode: ${result.spans} spans in ${result.requests} requests, ${result.bytesPerSpan.toFixed(0)} bytes/span`);
  console.log(`  selective decode + split into trace fragments: ${fmt(result.spansPerSecond)} spans/s`);
  console.log(`  selective decode only:                         ${fmt(result.spansPerSecondWithoutGrouping)} spans/s`);
  console.log(`  ... + split, every fragment's bytes written:   ${fmt(result.spansPerSecondWithFragmentBytes)} spans/s`);
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'decode.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ node: process.version, ...result }, null, 2)}\n`);
}
