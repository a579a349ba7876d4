/**
 * The Redis trace buffer on the generator's bench scenario (the shape of the Collector's
 * tail-sampling benchmark: 4 services with 14 resource attributes, traces of 1/2/4/8/16/48
 * spans, several requests per trace): append, claim and complete throughput (wall clock, one
 * client, Redis on the same machine), and the Redis memory a buffered span takes against its
 * OTLP wire bytes, with and without the envelope split.
 *
 * Memory is Redis's `used_memory` after appending everything minus before, over the spans
 * buffered: every key the buffer writes counts (fragments, meta, indexes, envelopes).
 * Wire bytes are the protobuf requests' bytes over their spans.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/redis-buffer-bench.js [REDIS_URL]`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisTraceBuffer } from '../src/buffer/redis/redis-trace-buffer.js';
import type { CompletionSettings } from '../src/buffer/trace-buffer.js';
import { decodeProtobufRequest } from '../src/otlp/decode-protobuf.js';
import type { TraceFragment } from '../src/otlp/types.js';
import { captureBenchRequests } from './support/captured-requests.js';
import { repoRoot } from './support/repo-root.js';

/** Traces per second and seconds of generated traffic: about 10 000 traces, 130 000 spans. */
const RATE = 1_000;
const SECONDS = 10;
const CLAIM_BATCH = 500;
const DROP = { keep: false, policy: undefined } as const;

export interface RedisBufferBenchResult {
  readonly spans: number;
  readonly traces: number;
  readonly requests: number;
  readonly fragmentsPerTrace: number;
  /** OTLP protobuf request bytes per span. */
  readonly wireBytesPerSpan: number;
  /** Redis used_memory growth per buffered span, fragments stored compact (the default). */
  readonly redisBytesPerSpan: number;
  /** redisBytesPerSpan / wireBytesPerSpan; the goal is at most 1.2. */
  readonly bytesPerSpanRatio: number;
  /** The same with fragments stored as they came (Resource and scope repeated in each). */
  readonly redisBytesPerSpanUncompacted: number;
  readonly bytesPerSpanRatioUncompacted: number;
  /** Requests appended one after the other, each one pipelined round trip. */
  readonly appendSpansPerSecond: number;
  readonly appendRequestsPerSecond: number;
  /** Claims of 500 due traces each, fragments rebuilt. */
  readonly claimTracesPerSecond: number;
  /** One complete at a time. */
  readonly completeTracesPerSecond: number;
  /** A claimed batch's completes in flight together. */
  readonly completeConcurrentTracesPerSecond: number;
  /** A claimed batch's decisions in one `completeMany`, as the decision loop records them. */
  readonly completeBatchTracesPerSecond: number;
}

interface Workload {
  readonly requests: TraceFragment[][];
  readonly spans: number;
  readonly traces: number;
  readonly fragments: number;
  readonly wireBytes: number;
}

async function workload(): Promise<Workload> {
  const requests: TraceFragment[][] = [];
  let spans = 0;
  let fragments = 0;
  let wireBytes = 0;
  const traceIds = new Set<string>();
  for (const bytes of await captureBenchRequests(RATE, SECONDS)) {
    const decoded = decodeProtobufRequest(bytes);
    if (!decoded.ok) throw decoded.error;
    requests.push([...decoded.value.fragments]);
    spans += decoded.value.spanCount;
    fragments += decoded.value.fragments.length;
    wireBytes += bytes.length;
    for (const f of decoded.value.fragments) traceIds.add(f.traceId);
  }
  return { requests, spans, traces: traceIds.size, fragments, wireBytes };
}

function settingsFor(w: Workload): CompletionSettings {
  return {
    decisionWaitMs: 5_000,
    decisionWaitAfterRootMs: undefined,
    maxSpansPerTrace: 100_000,
    maxTraces: w.traces * 2,
    sampledCacheSize: w.traces * 2,
    nonSampledCacheSize: w.traces * 2,
  };
}

async function usedMemory(admin: Redis): Promise<number> {
  // Lazily freed values from a previous phase would still count: wait until they are gone.
  for (let i = 0; i < 200; i++) {
    const info = await admin.info('memory');
    const pending = Number(/lazyfree_pending_objects:(\d+)/.exec(info)?.[1] ?? 0);
    if (pending === 0) return Number(/used_memory:(\d+)/.exec(info)?.[1]);
    await sleep(10);
  }
  throw new Error('Redis kept freeing objects in the background');
}

async function deletePrefix(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The generated traffic's start; requests are appended at times spread over its duration. */
const START_MS = Date.UTC(2025, 0, 1);

async function appendAll(buffer: RedisTraceBuffer, w: Workload): Promise<number> {
  const start = performance.now();
  const stepMs = (SECONDS * 1000) / w.requests.length;
  for (let i = 0; i < w.requests.length; i++) {
    const outcome = await buffer.append(w.requests[i], Math.round(START_MS + i * stepMs));
    if (outcome.status !== 'accepted') throw new Error(`the buffer refused a request: ${outcome.reason}`);
  }
  return (performance.now() - start) / 1000;
}

/** Bytes per span one way of storing takes: a fresh prefix, appended, measured, deleted. */
async function measureMemory(redisUrl: string, admin: Redis, w: Workload, compactFragments: boolean): Promise<number> {
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const before = await usedMemory(admin);
  const buffer = await RedisTraceBuffer.connect({ url: redisUrl, prefix, settings: settingsFor(w), compactFragments });
  try {
    await appendAll(buffer, w);
    const after = await usedMemory(admin);
    const pending = await buffer.pending();
    if (pending.spans !== w.spans) throw new Error(`buffered ${pending.spans} spans of ${w.spans}`);
    return (after - before) / w.spans;
  } finally {
    await buffer.close();
    await deletePrefix(admin, prefix);
  }
}

export async function benchRedisBuffer(redisUrl: string): Promise<RedisBufferBenchResult> {
  const w = await workload();
  const admin = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const redisBytesPerSpanUncompacted = await measureMemory(redisUrl, admin, w, false);
    const redisBytesPerSpan = await measureMemory(redisUrl, admin, w, true);

    // Throughput: append everything, claim it all, and complete a third of the batches one
    // trace at a time, a third with each batch's completes in flight together, and a third with
    // one completeMany per batch (as the decision loop does).
    const prefix = `bench-${randomBytes(4).toString('hex')}`;
    const buffer = await RedisTraceBuffer.connect({ url: redisUrl, prefix, settings: settingsFor(w) });
    try {
      const appendSeconds = await appendAll(buffer, w);
      let claimSeconds = 0;
      let sequentialSeconds = 0;
      let sequentialTraces = 0;
      let concurrentSeconds = 0;
      let concurrentTraces = 0;
      let batchSeconds = 0;
      let batchTraces = 0;
      let claimedTraces = 0;
      let claimedSpans = 0;
      for (let batch = 0; ; batch++) {
        const claimStart = performance.now();
        const due = await buffer.claimDue(Number.MAX_SAFE_INTEGER, CLAIM_BATCH);
        claimSeconds += (performance.now() - claimStart) / 1000;
        claimedTraces += due.length;
        for (const d of due) claimedSpans += d.spanCount;
        const completeStart = performance.now();
        if (batch % 3 === 0) {
          for (const d of due) await buffer.complete(d, DROP, 0);
          sequentialSeconds += (performance.now() - completeStart) / 1000;
          sequentialTraces += due.length;
        } else if (batch % 3 === 2) {
          await buffer.completeMany(due.map((trace) => ({ trace, decision: DROP })), 0);
          batchSeconds += (performance.now() - completeStart) / 1000;
          batchTraces += due.length;
        } else {
          await Promise.all(due.map((d) => buffer.complete(d, DROP, 0)));
          concurrentSeconds += (performance.now() - completeStart) / 1000;
          concurrentTraces += due.length;
        }
        if (due.length === 0) break;
      }
      if (claimedSpans !== w.spans || claimedTraces !== w.traces) {
        throw new Error(`claimed ${claimedTraces} traces / ${claimedSpans} spans of ${w.traces} / ${w.spans} appended`);
      }
      const wireBytesPerSpan = w.wireBytes / w.spans;
      return {
        spans: w.spans,
        traces: w.traces,
        requests: w.requests.length,
        fragmentsPerTrace: w.fragments / w.traces,
        wireBytesPerSpan,
        redisBytesPerSpan,
        bytesPerSpanRatio: redisBytesPerSpan / wireBytesPerSpan,
        redisBytesPerSpanUncompacted,
        bytesPerSpanRatioUncompacted: redisBytesPerSpanUncompacted / wireBytesPerSpan,
        appendSpansPerSecond: w.spans / appendSeconds,
        appendRequestsPerSecond: w.requests.length / appendSeconds,
        claimTracesPerSecond: claimedTraces / claimSeconds,
        completeTracesPerSecond: sequentialTraces / sequentialSeconds,
        completeConcurrentTracesPerSecond: concurrentTraces / concurrentSeconds,
        completeBatchTracesPerSecond: batchTraces / batchSeconds,
      };
    } finally {
      await buffer.close();
      await deletePrefix(admin, prefix);
    }
  } finally {
    await admin.quit();
  }
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const url = process.argv[2] ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const r = await benchRedisBuffer(url);
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  console.log(`redis buffer (${url}): ${n(r.spans)} spans, ${n(r.traces)} traces, ${n(r.requests)} requests, ${r.fragmentsPerTrace.toFixed(2)} fragments/trace`);
  console.log(`  wire bytes per span:           ${r.wireBytesPerSpan.toFixed(1)}`);
  console.log(`  Redis bytes per span:          ${r.redisBytesPerSpan.toFixed(1)} (${r.bytesPerSpanRatio.toFixed(2)} x wire; goal <= 1.2)`);
  console.log(`    without the envelope split:  ${r.redisBytesPerSpanUncompacted.toFixed(1)} (${r.bytesPerSpanRatioUncompacted.toFixed(2)} x wire)`);
  console.log(`  append:   ${n(r.appendSpansPerSecond)} spans/s (${n(r.appendRequestsPerSecond)} requests/s)`);
  console.log(`  claim:    ${n(r.claimTracesPerSecond)} traces/s (batches of ${CLAIM_BATCH})`);
  console.log(
    `  complete: ${n(r.completeTracesPerSecond)} traces/s one at a time, ${n(r.completeConcurrentTracesPerSecond)} traces/s a batch in flight at once, ` +
      `${n(r.completeBatchTracesPerSecond)} traces/s a batch in one completeMany`,
  );
  const out = join(repoRoot(), 'bench', 'results', 'redis-buffer.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ node: process.version, date: new Date().toISOString(), redisUrl: url, ...r }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
