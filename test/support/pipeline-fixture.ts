import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadPolicyFile } from '../../src/policies/policy-file.js';
import { runGenerate, type GenerateSummary } from '../../src/generate/index.js';
import { startEngine, type RunningEngine } from './engine-process.js';
import { uniquePrefix } from './services.js';

/**
 * A Kafka → engine(s) → Redis → file sinks pipeline on the local services, with the
 * generator's manifest as ground truth. The policy keeps half of the traces by the
 * probabilistic hash alone, so the exact set of traces that must be kept is known up front.
 */
export const HALF_POLICY = [
  'decision_wait: 3s',
  'decision_wait_after_root_received: 1s',
  'policies:',
  '  - name: half',
  '    type: probabilistic',
  '    probabilistic: { sampling_percentage: 50 }',
  '',
].join('\n');

export interface ManifestTrace {
  traceId: string;
  spans: number;
}

export interface KeptOutput {
  /** trace id → span ids seen (with repeats). */
  readonly spansByTrace: Map<string, string[]>;
  /** trace id → indexes of the sink files it appeared in. */
  readonly filesByTrace: Map<string, Set<number>>;
  readonly totalSpans: number;
}

/** What an engine started by the fixture does differently from the default file-sink instance. */
export interface PipelineEngineOptions {
  /** The `sinks:` value in YAML flow form; default a file sink of its own, `kept-<i>.jsonl`. */
  readonly sinks?: string;
  /** More keys of the Kafka source in YAML flow form, e.g. `deadLetterTopic: dlq`. */
  readonly source?: string;
  /** The brokers the engine's source connects to, `host:port`; default the fixture's. */
  readonly brokers?: string;
  /** Extra environment of the engine process. */
  readonly env?: Readonly<Record<string, string>>;
}

export class PipelineFixture {
  readonly topic = uniquePrefix('pipeline');
  readonly groupId = uniquePrefix('group');
  readonly prefix = uniquePrefix('ts');
  readonly engines: RunningEngine[] = [];
  private constructor(
    readonly dir: string,
    readonly brokers: string,
    readonly redisUrl: string,
  ) {}

  static async create(brokers: string, redisUrl: string, policy = HALF_POLICY): Promise<PipelineFixture> {
    const f = new PipelineFixture(await mkdtemp(join(tmpdir(), 'tailsift-pipeline-')), brokers, redisUrl);
    await writeFile(join(f.dir, 'policies.yaml'), policy);
    const kafka = new Kafka({ clientId: 'tailsift-test-admin', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: f.topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    return f;
  }

  sinkPath(i: number): string {
    return join(this.dir, `kept-${i}.jsonl`);
  }

  /** Starts engine number `i` (its own sink file) and waits until its consumer joined the group. */
  async startEngine(i: number, redisUrl = this.redisUrl, options: PipelineEngineOptions = {}): Promise<RunningEngine> {
    const config = join(this.dir, `engine-${i}.yaml`);
    const sourceExtra = options.source === undefined ? '' : `, ${options.source}`;
    await writeFile(
      config,
      [
        `source: { type: kafka, brokers: [${JSON.stringify(options.brokers ?? this.brokers)}], topic: ${this.topic}, groupId: ${this.groupId}, sessionTimeout: 6s${sourceExtra} }`,
        `buffer: { type: redis, url: ${JSON.stringify(redisUrl)}, prefix: ${this.prefix}, lease: 3s }`,
        'policies: policies.yaml',
        `sinks: ${options.sinks ?? `[{ type: file, path: kept-${i}.jsonl }]`}`,
        'admin: { port: 0 }',
        '',
      ].join('\n'),
    );
    const engine = await startEngine(config, { timeoutMs: 60_000, ...(options.env === undefined ? {} : { env: options.env }) });
    this.engines.push(engine);
    return engine;
  }

  /** Produces synthetic traffic; `manifest` names the manifest file (one per phase of a run). */
  async generate(options: { seconds: number; rate: number; seed: number; manifest?: string }, signal?: AbortSignal): Promise<GenerateSummary> {
    return runGenerate(
      {
        target: `kafka://${this.brokers}/${this.topic}`,
        scenario: 'shop',
        rate: options.rate,
        durationSeconds: options.seconds,
        seed: options.seed,
        manifestPath: join(this.dir, options.manifest ?? 'manifest.jsonl'),
      },
      signal,
    );
  }

  async manifest(name = 'manifest.jsonl'): Promise<ManifestTrace[]> {
    const text = await readFile(join(this.dir, name), 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ManifestTrace);
  }

  /** The traces the policy file keeps, by the same code the engine runs. */
  async expectedKept(traces: readonly ManifestTrace[]): Promise<Set<string>> {
    const loaded = await loadPolicyFile(join(this.dir, 'policies.yaml'));
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const kept = new Set<string>();
    for (const t of traces) {
      if (loaded.policySet.decide({ traceId: t.traceId, spans: [], byteSize: 0 }, { nowMs: Date.now() }).keep) kept.add(t.traceId);
    }
    return kept;
  }

  async kept(files: number): Promise<KeptOutput> {
    const spansByTrace = new Map<string, string[]>();
    const filesByTrace = new Map<string, Set<number>>();
    let totalSpans = 0;
    for (let i = 0; i < files; i++) {
      let text = '';
      try {
        text = await readFile(this.sinkPath(i), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (!line) continue;
        const req = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string }[] }[] }[] };
        for (const rs of req.resourceSpans) {
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              totalSpans++;
              const list = spansByTrace.get(s.traceId) ?? [];
              list.push(s.spanId);
              spansByTrace.set(s.traceId, list);
              const set = filesByTrace.get(s.traceId) ?? new Set<number>();
              set.add(i);
              filesByTrace.set(s.traceId, set);
            }
          }
        }
      }
    }
    return { spansByTrace, filesByTrace, totalSpans };
  }

  /**
   * Waits until every expected trace is in the sinks with all its spans, then returns the
   * accounting: traces missing spans, unexpected traces, duplicate spans.
   */
  async settle(traces: readonly ManifestTrace[], files: number, timeoutMs: number) {
    const expected = await this.expectedKept(traces);
    const spansOf = new Map(traces.map((t) => [t.traceId, t.spans]));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = await this.kept(files);
      const incomplete = [...expected].filter((id) => new Set(out.spansByTrace.get(id) ?? []).size !== spansOf.get(id));
      if (incomplete.length === 0 || Date.now() > deadline) {
        const unexpected = [...out.spansByTrace.keys()].filter((id) => !expected.has(id));
        let unique = 0;
        for (const ids of out.spansByTrace.values()) unique += new Set(ids).size;
        return { expected, out, incomplete, unexpected, duplicateSpans: out.totalSpans - unique };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.engines.map((e) => (e.child.exitCode === null ? e.stop('SIGKILL') : undefined)));
    await rm(this.dir, { recursive: true, force: true });
  }
}
