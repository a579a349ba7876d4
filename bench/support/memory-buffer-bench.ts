/**
 * Append and claim+complete cost of the memory trace buffer per span, on the requests the
 * generator's bench scenario sends (real trace fragments, several per trace). CPU time, median
 * of several runs, one thread.
 */
import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import type { CompletionSettings } from '../../src/buffer/trace-buffer.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import type { TraceFragment } from '../../src/otlp/types.js';
import { captureBenchRequests } from './captured-requests.js';

const RUNS = 7;
/** Fresh buffers filled and emptied per run, so a run lasts long enough to time reliably. */
const PASSES_PER_RUN = 10;
const CLAIM_BATCH = 500;
const DROP = { keep: false, policy: undefined } as const;

export interface MemoryBufferBenchResult {
  /** CPU ns per span to append a request's fragments. */
  readonly appendNsPerSpan: number;
  /** CPU ns per span to claim due traces (batches of 500) and record their decision. */
  readonly claimCompleteNsPerSpan: number;
  readonly spans: number;
  readonly traces: number;
  readonly fragmentsPerTrace: number;
}

function cpuNs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) * 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export async function benchMemoryBuffer(): Promise<MemoryBufferBenchResult> {
  const requests: TraceFragment[][] = [];
  let spans = 0;
  let fragments = 0;
  const traceIds = new Set<string>();
  for (const bytes of await captureBenchRequests(1_000, 4)) {
    const decoded = decodeProtobufRequest(bytes);
    if (!decoded.ok) throw decoded.error;
    requests.push([...decoded.value.fragments]);
    spans += decoded.value.spanCount;
    fragments += decoded.value.fragments.length;
    for (const f of decoded.value.fragments) traceIds.add(f.traceId);
  }
  const settings: CompletionSettings = {
    decisionWaitMs: 5_000,
    decisionWaitAfterRootMs: undefined,
    maxSpansPerTrace: 100_000,
    maxTraces: traceIds.size * 2,
    sampledCacheSize: traceIds.size * 2,
    nonSampledCacheSize: traceIds.size * 2,
  };

  const appendNs: number[] = [];
  const claimNs: number[] = [];
  // One extra run first, so the JIT has compiled both paths before anything is measured.
  for (let run = 0; run <= RUNS; run++) {
    let appended = 0;
    let claimed = 0;
    for (let pass = 0; pass < PASSES_PER_RUN; pass++) {
      const buffer = new MemoryTraceBuffer(settings);
      const appendStart = process.cpuUsage();
      for (const request of requests) {
        const outcome = await buffer.append(request, 0);
        if (outcome.status !== 'accepted') throw new Error(`the buffer refused a request: ${outcome.reason}`);
      }
      appended += cpuNs(appendStart);
      const claimStart = process.cpuUsage();
      let claimedSpans = 0;
      for (;;) {
        const due = await buffer.claimDue(Number.MAX_SAFE_INTEGER, CLAIM_BATCH);
        for (const trace of due) {
          await buffer.complete(trace, DROP, 0);
          claimedSpans += trace.spanCount;
        }
        if (due.length < CLAIM_BATCH) break;
      }
      claimed += cpuNs(claimStart);
      if (claimedSpans !== spans) throw new Error(`claimed ${claimedSpans} spans of ${spans} appended`);
    }
    if (run === 0) continue;
    appendNs.push(appended / (spans * PASSES_PER_RUN));
    claimNs.push(claimed / (spans * PASSES_PER_RUN));
  }
  return {
    appendNsPerSpan: median(appendNs),
    claimCompleteNsPerSpan: median(claimNs),
    spans,
    traces: traceIds.size,
    fragmentsPerTrace: fragments / traceIds.size,
  };
}
