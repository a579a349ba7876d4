/**
 * End to end on one machine: the workload generator (bench scenario, in its own process) →
 * OTLP/HTTP → the engine's receiver → memory buffer → decision loop with a three-policy set →
 * file sink.
 *
 * Reports spans per CPU-second of the engine process alone (the generator's CPU is in the
 * other process), spans per wall-clock second at intake, the delay from each kept trace's due
 * time until the file sink accepted it (p50/p99), and the spans lost: sent minus kept (found
 * in the sink's file) minus dropped by a policy, which must be 0. It also checks that every
 * kept trace reached the file whole.
 *
 * Run: `npm run build && node dist/bench/pipeline-memory-bench.js [--quick] [--rate N] [--duration S]`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryPipeline } from './support/memory-pipeline.js';
import { runGeneratorProcess } from './support/generator-process.js';
import { readKeptFile, readManifestSpans } from './support/kept-file.js';
import { repoRoot } from './support/repo-root.js';

/**
 * Errors and slow traces, plus a small probabilistic share, so the engine both keeps and drops.
 * decision_wait is longer than the bench scenario's slowest trace (about 3.4 s), so no trace
 * is decided before its last span arrived.
 */
export const PIPELINE_POLICIES = `
decision_wait: 5s
num_traces: 200000
policies:
  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
  - { name: baseline, type: probabilistic, probabilistic: { sampling_percentage: 2 } }
`;
const DECISION_WAIT_MS = 5_000;

export interface PipelineMemoryOptions {
  /** New traces per second the generator starts (bench scenario: 13.2 spans per trace on average). */
  readonly rate: number;
  /** Seconds during which the generator starts traces. */
  readonly durationSeconds: number;
  /** Seed of the generated workload. Default 1. */
  readonly seed?: number;
}

export interface PipelineMemoryResult {
  readonly rate: number;
  readonly durationSeconds: number;
  readonly traces: number;
  readonly spansSent: number;
  /** Distinct spans found in the sink's file. */
  readonly spansKept: number;
  /** Spans of traces a policy dropped, late spans included. */
  readonly spansDropped: number;
  /** Sent minus kept minus dropped: 0 unless the pipeline lost spans. */
  readonly lostSpans: number;
  readonly duplicateSpans: number;
  /**
   * Spans that arrived after their trace was decided and followed its decision. The generator
   * sends every span within decision_wait of its trace's first one, so these mean intake fell
   * behind by seconds (e.g. the machine was overloaded); such traces may be decided on part of
   * their spans.
   */
  readonly lateSpans: number;
  readonly tracesKept: number;
  readonly tracesDropped: number;
  /** Generated traces without a recorded decision when the run ended. */
  readonly undecidedTraces: number;
  /** Kept traces whose spans in the file differ in number from what the generator made. */
  readonly keptTracesNotWhole: number;
  /** Spans in the file that belong to a trace recorded as dropped. */
  readonly spansOfDroppedTracesInSink: number;
  /** CPU seconds (user + system, all threads) of the engine process from the first span sent until every trace was decided. */
  readonly engineCpuSeconds: number;
  readonly generatorCpuSeconds: number;
  /** Spans the engine accepted per second of its CPU time. */
  readonly spansPerCpuSecond: number;
  /** Spans accepted per wall-clock second, from the first accepted request to the last. */
  readonly spansPerSecond: number;
  /** Kept traces: from due time until the file sink accepted the trace, ms. */
  readonly decisionDelayP50Ms: number;
  readonly decisionDelayP99Ms: number;
  readonly decisionDelayMaxMs: number;
  /** Every trace: from due time until its decision was recorded, ms. */
  readonly allDecisionsDelayP99Ms: number;
  /** Requests the receiver refused (the generator retried them), by reason. */
  readonly rejectedRequests: Record<string, number>;
  readonly generatorRetries: number;
  readonly generatorFailedSpans: number;
}

/** Nearest-rank percentile of ascending values; 0 for none. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Delays as they are recorded, without an allocation per trace. */
class DelaySamples {
  private values = new Float64Array(1024);
  private size = 0;
  push(v: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = v;
  }
  sorted(): Float64Array {
    return this.values.slice(0, this.size).sort();
  }
}

/** One run of the memory pipeline; throws when the pipeline or the generator fails. */
export async function benchPipelineMemory(options: PipelineMemoryOptions): Promise<PipelineMemoryResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tailsift-bench-'));
  try {
    return await runOnce(options, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runOnce(options: PipelineMemoryOptions, dir: string): Promise<PipelineMemoryResult> {
  const sinkPath = join(dir, 'kept.jsonl');
  const manifestPath = join(dir, 'manifest.jsonl');
  const decisions = new Map<string, boolean>();
  const keptDelays = new DelaySamples();
  const allDelays = new DelaySamples();
  let decidedTwice = 0;
  const pipeline = new MemoryPipeline({
    policyText: PIPELINE_POLICIES,
    sinkPath,
    onDecided: (traceId, decidedAtMs, dueMs, keep) => {
      if (decisions.has(traceId)) decidedTwice++;
      decisions.set(traceId, keep);
      const delay = decidedAtMs - dueMs;
      allDelays.push(delay);
      if (keep) keptDelays.push(delay);
    },
  });

  const url = await pipeline.start();
  let stopped = false;
  try {
    const cpuStart = process.cpuUsage();
    const report = await runGeneratorProcess(
      { target: url, scenario: 'bench', rate: options.rate, durationSeconds: options.durationSeconds, seed: options.seed ?? 1, manifestPath },
      options.durationSeconds * 1000 + 120_000,
    );
    if (!report.ok) throw new Error(`the generator failed: ${report.error}`);

    // Traces become due decision_wait after their first span; wait for the loop to decide
    // them on its own schedule, so the delays are those of normal operation, not of a drain.
    const deadline = Date.now() + DECISION_WAIT_MS + 60_000;
    while ((await pipeline.pending()).traces > 0 && Date.now() < deadline) await sleep(50);
    const left = await pipeline.stop();
    stopped = true;
    const cpu = process.cpuUsage(cpuStart);
    if (left > 0) throw new Error(`${left} traces were still undecided when the run ended`);

    const [manifest, kept] = await Promise.all([readManifestSpans(manifestPath), readKeptFile(sinkPath)]);
    let tracesKept = 0;
    let keptTracesNotWhole = 0;
    let undecidedTraces = 0;
    for (const [traceId, spans] of manifest) {
      const keep = decisions.get(traceId);
      if (keep === undefined) undecidedTraces++;
      else if (keep) {
        tracesKept++;
        if ((kept.spansByTrace.get(traceId)?.size ?? 0) !== spans) keptTracesNotWhole++;
      }
    }
    let spansOfDroppedTracesInSink = 0;
    for (const [traceId, ids] of kept.spansByTrace) if (decisions.get(traceId) !== true) spansOfDroppedTracesInSink += ids.size;

    const { stats } = pipeline;
    const spansSent = report.summary.spans;
    const spansDropped = stats.spansDropped + stats.lateSpansDropped;
    const engineCpuSeconds = (cpu.user + cpu.system) / 1e6;
    const intakeSeconds = ((pipeline.lastIntakeMs ?? 0) - (pipeline.firstIntakeMs ?? 0)) / 1000;
    const keptSorted = keptDelays.sorted();
    const allSorted = allDelays.sorted();
    return {
      rate: options.rate,
      durationSeconds: options.durationSeconds,
      traces: report.summary.traces,
      spansSent,
      spansKept: kept.spans,
      spansDropped,
      lostSpans: spansSent - kept.spans - spansDropped,
      duplicateSpans: kept.duplicateSpans + decidedTwice,
      lateSpans: stats.lateSpansKept + stats.lateSpansDropped,
      tracesKept,
      tracesDropped: manifest.size - tracesKept - undecidedTraces,
      undecidedTraces,
      keptTracesNotWhole,
      spansOfDroppedTracesInSink,
      engineCpuSeconds,
      generatorCpuSeconds: report.cpuSeconds,
      spansPerCpuSecond: stats.spansReceived / engineCpuSeconds,
      spansPerSecond: intakeSeconds > 0 ? stats.spansReceived / intakeSeconds : 0,
      decisionDelayP50Ms: percentile(keptSorted, 0.5),
      decisionDelayP99Ms: percentile(keptSorted, 0.99),
      decisionDelayMaxMs: percentile(keptSorted, 1),
      allDecisionsDelayP99Ms: percentile(allSorted, 0.99),
      rejectedRequests: pipeline.rejectedRequests(),
      generatorRetries: report.summary.retries,
      generatorFailedSpans: report.summary.failedSpans,
    };
  } finally {
    if (!stopped) await pipeline.stop();
  }
}

/** A short run that checks correctness, for tests and `--quick`. */
export const QUICK_PIPELINE: PipelineMemoryOptions = { rate: 200, durationSeconds: 3 };
/** Enough load to keep the engine busy on a shared 2-core machine while the generator takes the other core. */
export const FULL_PIPELINE: PipelineMemoryOptions = { rate: 3_000, durationSeconds: 20 };

export function formatPipelineResult(r: PipelineMemoryResult): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  return [
    `pipeline (memory): ${n(r.traces)} traces, ${n(r.spansSent)} spans at ${n(r.rate)} traces/s for ${r.durationSeconds} s`,
    `  engine: ${n(r.spansPerCpuSecond)} spans per CPU-second (${r.engineCpuSeconds.toFixed(2)} CPU-s); ` +
      `intake ${n(r.spansPerSecond)} spans/s wall; generator ${r.generatorCpuSeconds.toFixed(2)} CPU-s`,
    `  due → in sink (kept traces): p50 ${r.decisionDelayP50Ms.toFixed(0)} ms, p99 ${r.decisionDelayP99Ms.toFixed(0)} ms, ` +
      `max ${r.decisionDelayMaxMs.toFixed(0)} ms; all decisions p99 ${r.allDecisionsDelayP99Ms.toFixed(0)} ms`,
    `  kept ${n(r.tracesKept)} traces (${n(r.spansKept)} spans), dropped ${n(r.tracesDropped)} (${n(r.spansDropped)} spans); ` +
      `lost ${n(r.lostSpans)}, duplicates ${n(r.duplicateSpans)}, kept not whole ${n(r.keptTracesNotWhole)}, undecided ${n(r.undecidedTraces)}, ` +
      `late ${n(r.lateSpans)}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, rate: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' } },
  });
  const base = values.quick ? QUICK_PIPELINE : FULL_PIPELINE;
  const result = await benchPipelineMemory({
    rate: values.rate === undefined ? base.rate : Number(values.rate),
    durationSeconds: values.duration === undefined ? base.durationSeconds : Number(values.duration),
    seed: values.seed === undefined ? 1 : Number(values.seed),
  });
  console.log(formatPipelineResult(result));
  const out = join(repoRoot(), 'bench', 'results', 'pipeline-memory.json');
  mkdirSync(join(repoRoot(), 'bench', 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ node: process.version, date: new Date().toISOString(), ...result }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
