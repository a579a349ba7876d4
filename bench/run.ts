/**
 * `npm run bench`: the micro benchmarks (selective decode, policy evaluation, buffer
 * append/claim) and the end-to-end pipelines (memory; Kafka → Redis when both services
 * answer), each run several times; writes the medians with
 * the machine, Node version, date and git commit to `bench/results/latest.json` and prints a
 * table. See bench/README.md for what each figure means and the goals.
 *
 * Flags: `--runs N` (default 3), `--quick` (one short run of each, written to
 * `bench/results/quick.json`, for a smoke test), `--out FILE`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDecode, type DecodeBenchResult } from './decode-bench.js';
import { benchPolicies, type PolicyBenchResult } from './policy-bench.js';
import { benchRedisBuffer } from './redis-buffer-bench.js';
import {
  FULL_PIPELINE,
  QUICK_PIPELINE,
  benchPipelineMemory,
  formatPipelineResult,
  type PipelineMemoryResult,
} from './pipeline-memory-bench.js';
import {
  FULL_KAFKA_REDIS,
  QUICK_KAFKA_REDIS,
  benchPipelineKafkaRedis,
  formatKafkaRedisRun,
  servicesFromEnv,
  type KafkaRedisRunResult,
  type PipelineKafkaRedisResult,
} from './pipeline-kafka-redis-bench.js';
import { benchMemoryBuffer, type MemoryBufferBenchResult } from './support/memory-buffer-bench.js';
import { repoRoot } from './support/repo-root.js';

/** The project's goals; each figure is compared with its goal in the table and the JSON. */
const GOALS = {
  decodeSpansPerS: 3_000_000,
  kafkaRedisSpansPerCpuS: 250_000,
  redisBytesPerWireByte: 1.2,
  decisionDelayP99Ms: 1_000,
  lostSpans: 0,
} as const;


interface Options {
  readonly runs: number;
  readonly quick: boolean;
  readonly out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' } },
  });
  const quick = values.quick === true;
  const runs = values.runs === undefined ? (quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: must be a whole number of at least 1`);
  const out = resolve(values.out ?? join(repoRoot(), 'bench', 'results', quick ? 'quick.json' : 'latest.json'));
  return { runs, quick, out };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `bench` `runs` times, one after the other, logging progress on stderr. */
async function repeat<T>(name: string, runs: number, bench: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`${name}: run ${i + 1} of ${runs}\n`);
    results.push(await bench());
  }
  return results;
}

function gitCommit(): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot(), encoding: 'utf8' });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** True when something accepts TCP connections at the URL's host and port (`defaultPort` when it has none) within a second. */
function reachable(url: string, defaultPort = 6379): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || defaultPort), timeout: 1_000 });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** The Redis buffer benchmark against REDIS_URL (default the local server), when Redis answers. */
async function redisBuffer(runs: number): Promise<Record<string, unknown>> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await reachable(url))) return { not_available: `no Redis answers at ${url} (start one with scripts/services.sh or set REDIS_URL)` };
  try {
    const results = await repeat('buffer (redis)', runs, () => benchRedisBuffer(url));
    return { redis_url: url, ...medianOfNumbers(results) };
  } catch (err) {
    return { not_available: `the Redis buffer benchmark failed against ${url}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/**
 * The Kafka → Redis pipeline against KAFKA_BROKERS and REDIS_URL (default the local services),
 * when both answer; otherwise null with the reason.
 */
async function kafkaRedisPipeline(runs: number, quick: boolean): Promise<{ results: PipelineKafkaRedisResult[] } | { notAvailable: string }> {
  const { brokers, redisUrl } = servicesFromEnv();
  for (const broker of brokers) {
    if (!(await reachable(`kafka://${broker}`, 9092))) return { notAvailable: `no Kafka broker answers at ${broker} (start one with scripts/services.sh or set KAFKA_BROKERS)` };
  }
  if (!(await reachable(redisUrl))) return { notAvailable: `no Redis answers at ${redisUrl} (start one with scripts/services.sh or set REDIS_URL)` };
  const load = quick ? QUICK_KAFKA_REDIS : FULL_KAFKA_REDIS;
  try {
    const results = await repeat('pipeline (Kafka -> Redis)', runs, async () => {
      const result = await benchPipelineKafkaRedis({ ...load, brokers, redisUrl });
      process.stderr.write(`${formatKafkaRedisRun(result.backlog)}\n${formatKafkaRedisRun(result.paced)}\n`);
      return result;
    });
    return { results };
  } catch (err) {
    return { notAvailable: `the Kafka -> Redis pipeline benchmark failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** Field by field: the median of numeric fields, the first run's value of the others. */
function medianOfNumbers<T extends object>(results: readonly T[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(results[0]) as (keyof T & string)[]) {
    const values = results.map((r) => r[key]);
    out[key] = values.every((v) => typeof v === 'number') ? median(values as number[]) : values[0];
  }
  return out;
}

function decodeSection(results: readonly DecodeBenchResult[]) {
  return {
    spans_per_s: median(results.map((r) => r.spansPerSecond)),
    spans_per_s_without_grouping: median(results.map((r) => r.spansPerSecondWithoutGrouping)),
    spans_per_s_with_fragment_bytes: median(results.map((r) => r.spansPerSecondWithFragmentBytes)),
    bytes_per_span: results[0].bytesPerSpan,
    runs: results.map((r) => r.spansPerSecond),
  };
}

function policySection(results: readonly PolicyBenchResult[]) {
  return {
    ns_per_span: median(results.map((r) => r.nsPerSpan)),
    ns_per_trace: median(results.map((r) => r.nsPerTrace)),
    policies: results[0].policies,
    kept_share: results[0].keptShare,
    runs: results.map((r) => r.nsPerSpan),
  };
}

function bufferSection(results: readonly MemoryBufferBenchResult[]) {
  return {
    append_ns_per_span: median(results.map((r) => r.appendNsPerSpan)),
    claim_complete_ns_per_span: median(results.map((r) => r.claimCompleteNsPerSpan)),
    fragments_per_trace: results[0].fragmentsPerTrace,
  };
}

/** Medians for the speeds and delays; the worst run for the correctness counts, which must all be 0. */
function pipelineSection(results: readonly PipelineMemoryResult[]) {
  const med = (f: (r: PipelineMemoryResult) => number): number => median(results.map(f));
  const worst = (f: (r: PipelineMemoryResult) => number): number => Math.max(...results.map(f));
  return {
    spans_per_cpu_s: med((r) => r.spansPerCpuSecond),
    spans_per_s: med((r) => r.spansPerSecond),
    decision_delay_p50_ms: med((r) => r.decisionDelayP50Ms),
    decision_delay_p99_ms: med((r) => r.decisionDelayP99Ms),
    all_decisions_delay_p99_ms: med((r) => r.allDecisionsDelayP99Ms),
    lost_spans: worst((r) => Math.abs(r.lostSpans)),
    kept_traces_not_whole: worst((r) => r.keptTracesNotWhole),
    undecided_traces: worst((r) => r.undecidedTraces),
    duplicate_spans: worst((r) => r.duplicateSpans),
    late_spans: worst((r) => r.lateSpans),
    offered_traces_per_s: results[0].rate,
    duration_s: results[0].durationSeconds,
    spans_sent: med((r) => r.spansSent),
    kept_span_share: med((r) => r.spansKept / r.spansSent),
    engine_cpu_s: med((r) => r.engineCpuSeconds),
    generator_cpu_s: med((r) => r.generatorCpuSeconds),
    throttled_requests: worst((r) => Object.values(r.rejectedRequests).reduce((a, b) => a + b, 0)),
    runs: results.map((r) => ({
      spans_per_cpu_s: r.spansPerCpuSecond,
      spans_per_s: r.spansPerSecond,
      decision_delay_p99_ms: r.decisionDelayP99Ms,
      lost_spans: r.lostSpans,
    })),
  };
}

/**
 * Speeds and Redis memory from the backlog part (the engine as fast as it goes), delays from
 * the paced part (an engine that keeps up); correctness counts are the worst of both parts.
 */
function kafkaRedisSection(results: readonly PipelineKafkaRedisResult[]) {
  const backlog = results.map((r) => r.backlog);
  const paced = results.map((r) => r.paced);
  const both = results.flatMap((r) => [r.backlog, r.paced]);
  const med = (runs: readonly KafkaRedisRunResult[], f: (r: KafkaRedisRunResult) => number): number => median(runs.map(f));
  const worst = (f: (r: KafkaRedisRunResult) => number): number => Math.max(...both.map(f));
  return {
    spans_per_cpu_s: med(backlog, (r) => r.spansPerCpuSecond),
    spans_per_s: med(backlog, (r) => r.spansPerSecond),
    redis_bytes_per_span: med(backlog, (r) => r.redisBytesPerSpan),
    span_wire_bytes: med(backlog, (r) => r.wireBytesPerSpan),
    redis_bytes_per_wire_byte: med(backlog, (r) => r.redisBytesPerWireByte),
    redis_bytes_per_span_before_decisions: med(backlog, (r) => r.redisBufferBytesPerSpan),
    redis_bytes_per_wire_byte_before_decisions: med(backlog, (r) => r.redisBufferBytesPerWireByte),
    decision_delay_p50_ms: med(paced, (r) => r.decisionDelayP50Ms),
    decision_delay_p99_ms: med(paced, (r) => r.decisionDelayP99Ms),
    lost_spans: worst((r) => Math.abs(r.lostSpans)),
    kept_traces_not_whole: worst((r) => r.keptTracesNotWhole),
    undecided_traces: worst((r) => r.undecidedTraces),
    traces_left_in_redis: worst((r) => r.tracesLeftInRedis),
    duplicate_spans: worst((r) => r.duplicateSpans),
    late_spans: worst((r) => r.lateSpans),
    backlog: {
      produced_traces_per_s: backlog[0].rate,
      duration_s: backlog[0].durationSeconds,
      spans_sent: med(backlog, (r) => r.spansSent),
      engine_cpu_s: med(backlog, (r) => r.engineCpuSeconds),
      wall_s: med(backlog, (r) => r.wallSeconds),
      redis_cpu_s: med(backlog, (r) => r.redisCpuSeconds),
      high_water_spans: med(backlog, (r) => r.highWaterSpans),
      high_water_decided_traces: med(backlog, (r) => r.highWaterDecidedTraces),
      spans_buffered_before_decisions: med(backlog, (r) => r.bufferSpansBeforeDecisions),
      decision_delay_p99_ms: med(backlog, (r) => r.decisionDelayP99Ms),
    },
    paced: {
      offered_traces_per_s: paced[0].rate,
      duration_s: paced[0].durationSeconds,
      spans_sent: med(paced, (r) => r.spansSent),
      spans_per_cpu_s: med(paced, (r) => r.spansPerCpuSecond),
      spans_per_s: med(paced, (r) => r.spansPerSecond),
      engine_cpu_s: med(paced, (r) => r.engineCpuSeconds),
      generator_cpu_s: med(paced, (r) => r.generatorCpuSeconds),
      redis_cpu_s: med(paced, (r) => r.redisCpuSeconds),
      intake_lag_p99_ms: med(paced, (r) => r.intakeLagP99Ms),
      all_decisions_delay_p99_ms: med(paced, (r) => r.allDecisionsDelayP99Ms),
      decision_delay_max_ms: med(paced, (r) => r.decisionDelayMaxMs),
      redis_bytes_per_wire_byte: med(paced, (r) => r.redisBytesPerWireByte),
    },
    kept_span_share: med(backlog, (r) => r.spansKept / r.spansSent),
    runs: results.map((r) => ({
      spans_per_cpu_s: r.backlog.spansPerCpuSecond,
      spans_per_s: r.backlog.spansPerSecond,
      redis_bytes_per_wire_byte: r.backlog.redisBytesPerWireByte,
      redis_bytes_per_wire_byte_before_decisions: r.backlog.redisBufferBytesPerWireByte,
      decision_delay_p99_ms: r.paced.decisionDelayP99Ms,
      lost_spans: [r.backlog.lostSpans, r.paced.lostSpans],
    })),
  };
}

type Goal = { readonly goal: string; readonly measured: number | null; readonly met: boolean | null; readonly note?: string };

type KafkaRedisSection = ReturnType<typeof kafkaRedisSection>;

function goals(
  decode: ReturnType<typeof decodeSection>,
  pipeline: ReturnType<typeof pipelineSection>,
  redis: Record<string, unknown>,
  kafkaRedis: KafkaRedisSection | null,
  kafkaRedisNotAvailable: string | undefined,
): Record<string, Goal> {
  const redisRatio = typeof redis.bytesPerSpanRatio === 'number' ? redis.bytesPerSpanRatio : null;
  const k = kafkaRedis;
  const missing = { measured: null, met: null, note: kafkaRedisNotAvailable ?? 'not measured' } as const;
  return {
    selective_decode_spans_per_s: {
      goal: `>= ${GOALS.decodeSpansPerS} on one core`,
      measured: decode.spans_per_s,
      met: decode.spans_per_s >= GOALS.decodeSpansPerS,
    },
    kafka_redis_spans_per_cpu_s: {
      goal: `>= ${GOALS.kafkaRedisSpansPerCpuS} spans per engine CPU-second, Kafka -> Redis -> decide -> forward`,
      ...(k === null
        ? missing
        : { measured: k.spans_per_cpu_s, met: k.spans_per_cpu_s >= GOALS.kafkaRedisSpansPerCpuS, note: 'Kafka -> Redis pipeline, backlog part' }),
    },
    kafka_redis_redis_bytes_per_wire_byte: {
      goal: `<= ${GOALS.redisBytesPerWireByte} x wire bytes per buffered span`,
      ...(k === null
        ? missing
        : {
            measured: k.redis_bytes_per_wire_byte,
            met: k.redis_bytes_per_wire_byte <= GOALS.redisBytesPerWireByte,
            note:
              'Kafka -> Redis pipeline at the buffer\'s high-water mark, decision-cache entries of the traces decided by then included; ' +
              `${k.redis_bytes_per_wire_byte_before_decisions.toFixed(2)} x before the first decision`,
          }),
    },
    kafka_redis_decision_delay_p99_ms: {
      goal: `<= ${GOALS.decisionDelayP99Ms} ms past due`,
      ...(k === null
        ? missing
        : {
            measured: k.decision_delay_p99_ms,
            met: k.decision_delay_p99_ms <= GOALS.decisionDelayP99Ms,
            note: `Kafka -> Redis pipeline, paced part (${k.paced.offered_traces_per_s} traces/s), until the record is in the sink topic`,
          }),
    },
    kafka_redis_lost_spans: {
      goal: `${GOALS.lostSpans}`,
      ...(k === null ? missing : { measured: k.lost_spans, met: k.lost_spans === GOALS.lostSpans, note: 'Kafka -> Redis pipeline, worst part of any run' }),
    },
    redis_bytes_per_wire_byte: {
      goal: `<= ${GOALS.redisBytesPerWireByte} x wire bytes per buffered span`,
      measured: redisRatio,
      met: redisRatio === null ? null : redisRatio <= GOALS.redisBytesPerWireByte,
      ...(redisRatio === null ? { note: String(redis.not_available ?? 'see buffer_redis') } : {}),
    },
    decision_delay_p99_ms: {
      goal: `<= ${GOALS.decisionDelayP99Ms} ms past due`,
      measured: pipeline.decision_delay_p99_ms,
      met: pipeline.decision_delay_p99_ms <= GOALS.decisionDelayP99Ms,
      note: 'memory pipeline',
    },
    lost_spans: {
      goal: `${GOALS.lostSpans}`,
      measured: pipeline.lost_spans,
      met: pipeline.lost_spans === GOALS.lostSpans,
      note: 'memory pipeline, worst run',
    },
  };
}

/** A figure from a benchmark whose result is not typed here (it may be missing). */
function redisFigure(value: unknown, unit: string): string {
  return typeof value === 'number' ? `${Math.round(value).toLocaleString('en-US')} ${unit}` : 'not available';
}

function table(report: {
  decode: ReturnType<typeof decodeSection>;
  policy_eval: ReturnType<typeof policySection>;
  buffer_memory: ReturnType<typeof bufferSection>;
  buffer_redis: Record<string, unknown>;
  pipeline_memory: ReturnType<typeof pipelineSection>;
  pipeline_kafka_redis: KafkaRedisSection | null;
  goals: Record<string, Goal>;
}): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  const mark = (met: boolean | null | undefined): string => (met === true ? 'met' : met === false ? 'missed' : 'n/a');
  const p = report.pipeline_memory;
  const g = report.goals;
  const rows: [string, string, string, string][] = [
    ['selective decode + split into fragments', `${n(report.decode.spans_per_s)} spans/s (CPU)`, '≥ 3,000,000', mark(g.selective_decode_spans_per_s.met)],
    ['the same, every fragment\'s bytes written', `${n(report.decode.spans_per_s_with_fragment_bytes)} spans/s (CPU)`, '', ''],
    [`policy evaluation (${report.policy_eval.policies} policies)`, `${n(report.policy_eval.ns_per_span)} ns/span`, '', ''],
    ['memory buffer append', `${report.buffer_memory.append_ns_per_span.toFixed(0)} ns/span (CPU)`, '', ''],
    ['memory buffer claim + complete', `${report.buffer_memory.claim_complete_ns_per_span.toFixed(0)} ns/span (CPU)`, '', ''],
    ['Redis buffer append', redisFigure(report.buffer_redis.appendSpansPerSecond, 'spans/s (wall)'), '', ''],
    ['Redis buffer claim (500 per call)', redisFigure(report.buffer_redis.claimTracesPerSecond, 'traces/s (wall)'), '', ''],
    ['pipeline memory: engine', `${n(p.spans_per_cpu_s)} spans/CPU-s`, '', ''],
    ['pipeline memory: intake', `${n(p.spans_per_s)} spans/s (wall)`, '', ''],
    ['pipeline memory: due → in sink p50', `${n(p.decision_delay_p50_ms)} ms`, '', ''],
    ['pipeline memory: due → in sink p99', `${n(p.decision_delay_p99_ms)} ms`, '≤ 1,000 ms', mark(g.decision_delay_p99_ms.met)],
    ['pipeline memory: lost spans', `${n(p.lost_spans)}`, '0', mark(g.lost_spans.met)],
    ['Redis bytes per buffered span (buffer bench)', g.redis_bytes_per_wire_byte.measured === null ? 'not available' : `${g.redis_bytes_per_wire_byte.measured.toFixed(2)} × wire`, '≤ 1.2 × wire', mark(g.redis_bytes_per_wire_byte.met)],
    ...kafkaRedisRows(report.pipeline_kafka_redis, g, mark),
  ];
  return ['| figure | measured | goal | |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function kafkaRedisRows(
  k: KafkaRedisSection | null,
  g: Record<string, Goal>,
  mark: (met: boolean | null | undefined) => string,
): [string, string, string, string][] {
  if (k === null) return [['pipeline Kafka → Redis: engine', 'not available', '≥ 250,000 spans/CPU-s', 'n/a']];
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  const paced = `paced, ${n(k.paced.offered_traces_per_s)} traces/s`;
  return [
    ['pipeline Kafka → Redis: engine (backlog)', `${n(k.spans_per_cpu_s)} spans/CPU-s`, '≥ 250,000 spans/CPU-s', mark(g.kafka_redis_spans_per_cpu_s.met)],
    ['pipeline Kafka → Redis: intake (backlog)', `${n(k.spans_per_s)} spans/s (wall)`, '', ''],
    [
      'pipeline Kafka → Redis: Redis bytes per buffered span, high-water mark',
      `${k.redis_bytes_per_wire_byte.toFixed(2)} × wire (${n(k.redis_bytes_per_span)} vs ${n(k.span_wire_bytes)} bytes)`,
      '≤ 1.2 × wire',
      mark(g.kafka_redis_redis_bytes_per_wire_byte.met),
    ],
    [
      'pipeline Kafka → Redis: the same before the first decision',
      `${k.redis_bytes_per_wire_byte_before_decisions.toFixed(2)} × wire (${n(k.redis_bytes_per_span_before_decisions)} bytes)`,
      '',
      '',
    ],
    [`pipeline Kafka → Redis: due → in sink p50 (${paced})`, `${n(k.decision_delay_p50_ms)} ms`, '', ''],
    [`pipeline Kafka → Redis: due → in sink p99 (${paced})`, `${n(k.decision_delay_p99_ms)} ms`, '≤ 1,000 ms', mark(g.kafka_redis_decision_delay_p99_ms.met)],
    ['pipeline Kafka → Redis: lost spans', `${n(k.lost_spans)}`, '0', mark(g.kafka_redis_lost_spans.met)],
  ];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const loadAtStart = loadavg();
  const startedAt = new Date();

  const decode = decodeSection(await repeat('decode', options.runs, benchDecode));
  const policy = policySection(await repeat('policy evaluation', options.runs, benchPolicies));
  const buffer = bufferSection(await repeat('buffer (memory)', options.runs, benchMemoryBuffer));
  const redis = await redisBuffer(options.runs);
  const pipelineOptions = options.quick ? QUICK_PIPELINE : FULL_PIPELINE;
  const pipelineRuns = await repeat('pipeline (memory)', options.runs, async () => {
    const result = await benchPipelineMemory(pipelineOptions);
    process.stderr.write(`${formatPipelineResult(result)}\n`);
    return result;
  });
  const pipeline = pipelineSection(pipelineRuns);
  const kafkaRedisRuns = await kafkaRedisPipeline(options.runs, options.quick);
  const kafkaRedis = 'results' in kafkaRedisRuns ? kafkaRedisSection(kafkaRedisRuns.results) : null;
  const kafkaRedisNotAvailable = 'notAvailable' in kafkaRedisRuns ? kafkaRedisRuns.notAvailable : undefined;

  const cpuList = cpus();
  const report = {
    date: startedAt.toISOString(),
    git: gitCommit(),
    node: process.version,
    machine: {
      cpu_model: cpuList[0]?.model ?? 'unknown',
      cores: cpuList.length,
      load_average_at_start: loadAtStart.map((l) => Math.round(l * 100) / 100),
      load_average_at_end: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    runs: options.runs,
    quick: options.quick,
    decode,
    policy_eval: policy,
    buffer_memory: buffer,
    buffer_redis: redis,
    pipeline_memory: pipeline,
    // Null when Kafka or Redis was not there to measure it; no figure from another pipeline stands in.
    pipeline_kafka_redis: kafkaRedis,
    ...(kafkaRedisNotAvailable === undefined ? {} : { not_available: { pipeline_kafka_redis: kafkaRedisNotAvailable } }),
    goals: goals(decode, pipeline, redis, kafkaRedis, kafkaRedisNotAvailable),
  };

  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(table(report));
  console.log(
    `\n${options.runs} run(s), medians; ${report.machine.cpu_model}, ${report.machine.cores} cores, Node ${report.node}, ` +
      `load average ${report.machine.load_average_at_start.join(' ')} at start, ${report.machine.load_average_at_end.join(' ')} at end`,
  );
  console.log(`wrote ${options.out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
