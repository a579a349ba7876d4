/**
 * Replay speed: spans per second that `tailsift replay` pushes through the engine's own parts
 * (decode, baselines and alerts, memory buffer, decision loop, policies) in event time, on one
 * thread.
 *
 * The input is the generator's `bench` scenario (4 services with 14 resource attributes,
 * traces of 1/2/4/8/16/48 spans, 10 % slow, 5 % with an error; seed 1, fixed start), written
 * as OTLP/JSON lines and converted once, outside the measurement, to a file of OTLP protobuf
 * requests with 4-byte length prefixes (the Collector file exporter's `format: proto`). The
 * policies are the pipeline benchmark's (errors, slow >= 1 s, 2 % probabilistic, decision_wait
 * 5s) and, for comparison, policies/default.yaml (whose drop policy reads every span's
 * attributes); one case leaves out the baselines stage and alerts, to show what they cost.
 * Each case runs several times; the median is reported, in wall-clock spans per second (what
 * a user waits) and spans per CPU-second of this process (less sensitive to other work on the
 * machine).
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/replay-bench.js [--quick]`
 * Writes bench/results/replay.json.
 */
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { runGenerate } from '../src/generate/index.js';
import { jsonRequestToProtobuf } from '../src/otlp/index.js';
import { runReplay } from '../src/replay/run-replay.js';
import { repoRoot } from './support/repo-root.js';

/** The goal for replay on one core, spans per second. */
export const REPLAY_GOAL_SPANS_PER_S = 500_000;

const BENCH_POLICIES = `decision_wait: 5s
policies:
  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
  - { name: baseline, type: probabilistic, probabilistic: { sampling_percentage: 2 } }
`;

export interface ReplayCaseResult {
  readonly name: string;
  readonly description: string;
  readonly spans: number;
  readonly keptShare: number;
  /** Medians over the runs. */
  readonly spansPerSecond: number;
  readonly spansPerCpuSecond: number;
  readonly runs: readonly { readonly wallMs: number; readonly cpuMs: number }[];
}

export interface ReplayBenchResult {
  readonly node: string;
  readonly date: string;
  readonly machine: { readonly cpuModel: string; readonly cores: number; readonly loadAverageAtStart: number[]; readonly loadAverageAtEnd: number[] };
  readonly input: { readonly scenario: string; readonly traces: number; readonly spans: number; readonly requests: number; readonly jsonBytes: number; readonly protobufBytes: number };
  readonly goalSpansPerSecond: number;
  readonly cases: readonly ReplayCaseResult[];
}

export interface ReplayBenchOptions {
  /** A smaller input and one run per case. */
  readonly quick?: boolean;
  /** Where to write the result; default bench/results/replay.json; null: nowhere. */
  readonly out?: string | null;
  readonly log?: (line: string) => void;
}

export async function benchReplay(options: ReplayBenchOptions = {}): Promise<ReplayBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick ?? false;
  const runs = quick ? 1 : 3;
  const dir = mkdtempSync(join(tmpdir(), 'tailsift-replay-bench-'));
  const loadAverageAtStart = loadavg();
  try {
    const jsonPath = join(dir, 'bench.jsonl');
    log(`replay bench: generating input (${quick ? 'quick' : 'full'})`);
    const generated = await runGenerate({
      target: `file:${jsonPath}`,
      scenario: 'bench',
      rate: quick ? 500 : 3_000,
      durationSeconds: quick ? 4 : 10,
      seed: 1,
      startMs: Date.parse('2024-05-01T12:00:00Z'),
    });
    const protobufPath = join(dir, 'bench.pb');
    const protobufBytes = await convertToProtobuf(jsonPath, protobufPath);
    const policies = join(dir, 'bench-policies.yaml');
    writeFileSync(policies, BENCH_POLICIES);
    const defaultPolicies = join(repoRoot(), 'policies', 'default.yaml');

    const cases = [
      { name: 'protobuf', description: 'OTLP protobuf input, bench policies, no kept file', policies, input: protobufPath, out: false },
      {
        name: 'protobuf_no_baselines',
        description: 'OTLP protobuf input, bench policies, no kept file, without the baselines stage and alerts',
        policies,
        input: protobufPath,
        out: false,
        anomalies: false as const,
      },
      { name: 'protobuf_out', description: 'OTLP protobuf input, bench policies, kept traces written with the file sink (--out)', policies, input: protobufPath, out: true },
      { name: 'protobuf_default_policies', description: 'OTLP protobuf input, policies/default.yaml, no kept file', policies: defaultPolicies, input: protobufPath, out: false },
      { name: 'json_lines', description: 'OTLP/JSON lines input, bench policies, no kept file', policies, input: jsonPath, out: false },
    ];
    const results: ReplayCaseResult[] = [];
    for (const c of cases) {
      const measured: { wallMs: number; cpuMs: number }[] = [];
      let spans = 0;
      let keptShare = 0;
      for (let i = 0; i < runs; i++) {
        const cpu = process.cpuUsage();
        const started = performance.now();
        const outcome = await runReplay({ policies: c.policies, inputs: [c.input], out: c.out ? join(dir, 'kept.jsonl') : undefined, anomalies: 'anomalies' in c ? c.anomalies : undefined });
        const wallMs = performance.now() - started;
        const used = process.cpuUsage(cpu);
        measured.push({ wallMs, cpuMs: (used.user + used.system) / 1000 });
        const r = outcome.primary.recorder;
        spans = r.spansReceived;
        keptShare = r.traces === 0 ? 0 : r.tracesKept / r.traces;
      }
      const spansPerSecond = median(measured.map((m) => spans / (m.wallMs / 1000)));
      const spansPerCpuSecond = median(measured.map((m) => spans / (m.cpuMs / 1000)));
      log(`replay bench: ${c.name}: ${Math.round(spansPerSecond).toLocaleString('en-US')} spans/s, ${Math.round(spansPerCpuSecond).toLocaleString('en-US')} spans/CPU-s`);
      results.push({ name: c.name, description: c.description, spans, keptShare, spansPerSecond, spansPerCpuSecond, runs: measured });
    }

    const result: ReplayBenchResult = {
      node: process.version,
      date: new Date().toISOString(),
      machine: { cpuModel: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverageAtStart, loadAverageAtEnd: loadavg() },
      input: {
        scenario: generated.scenario,
        traces: generated.traces,
        spans: generated.spans,
        requests: generated.requests,
        jsonBytes: generated.bytes,
        protobufBytes,
      },
      goalSpansPerSecond: REPLAY_GOAL_SPANS_PER_S,
      cases: results,
    };
    const out = options.out === undefined ? join(repoRoot(), 'bench', 'results', 'replay.json') : options.out;
    if (out !== null) {
      mkdirSync(join(out, '..'), { recursive: true });
      writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** OTLP/JSON lines to length-prefixed OTLP protobuf (4-byte big-endian lengths); returns the size. */
async function convertToProtobuf(jsonPath: string, protobufPath: string): Promise<number> {
  const parts: Buffer[] = [];
  for await (const line of createInterface({ input: createReadStream(jsonPath), crlfDelay: Infinity })) {
    if (line === '') continue;
    const request = jsonRequestToProtobuf(JSON.parse(line));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(request.length);
    parts.push(head, Buffer.from(request.buffer, request.byteOffset, request.length));
  }
  const file = Buffer.concat(parts);
  writeFileSync(protobufPath, file);
  return file.length;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchReplay({ quick: process.argv.includes('--quick') });
  for (const c of result.cases) {
    const met = c.spansPerSecond >= result.goalSpansPerSecond ? 'met' : 'missed';
    process.stdout.write(
      `${c.name.padEnd(28)} ${Math.round(c.spansPerSecond).toLocaleString('en-US').padStart(10)} spans/s  ` +
        `${Math.round(c.spansPerCpuSecond).toLocaleString('en-US').padStart(10)} spans/CPU-s  (goal ${result.goalSpansPerSecond.toLocaleString('en-US')}: ${met})\n`,
    );
  }
}
