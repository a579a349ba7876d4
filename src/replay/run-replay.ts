import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, SinkError } from '../errors.js';
import { FileSink } from '../forward/file-sink.js';
import type { KeptBatch, TraceSink } from '../forward/sink.js';
import { loadPolicyFile, toCompletionSettings } from '../policies/policy-file.js';
import { tryBuildPolicySet } from '../policies/policy-set.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import type { ReplayAlert, ReplayAlertSource } from './alert-source.js';
import { latestSpanEnd } from './event-time-clock.js';
import { describeIoError, listInputFiles, type InputFormat } from './input-files.js';
import { readInputRequests } from './input-reader.js';
import { ReplayUsageError } from './replay-errors.js';
import type { ReplayRecorder } from './replay-recorder.js';
import { ReplayRun } from './replay-run.js';

export interface ReplayOptions {
  /** The policy file to try (a policy file, or a Collector config, as `run` accepts). */
  readonly policies: string;
  /** Files and directories of captured OTLP traffic, replayed in this order. */
  readonly inputs: readonly string[];
  /** A second policy file replayed on the same input, for a side-by-side comparison. */
  readonly compare?: string;
  /** Kept traces of `policies` go here (OTLP/JSON lines, as the live file sink writes); the file is replaced. */
  readonly out?: string;
  /** Other files the caller will write (report, summary); refused when they are among the inputs. */
  readonly otherOutputs?: readonly string[];
  /** Where alerts come from (the baselines stage); none in this version. */
  readonly alertSource?: ReplayAlertSource;
  readonly logger?: Logger;
  /** Progress in input bytes (as stored); called often, so keep it cheap. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** What one policy file did with the input. */
export interface PolicyRunResult {
  readonly policyFile: string;
  readonly policyNames: readonly string[];
  readonly recorder: ReplayRecorder;
  readonly bufferFullWaits: number;
  /** Traces still undecided at the end because a sink kept failing. */
  readonly left: number;
}

export interface ReplayOutcome {
  readonly files: readonly { readonly path: string; readonly format: InputFormat | undefined; readonly gzip: boolean }[];
  /** Wall time of reading, deciding and forwarding, ms. */
  readonly wallMs: number;
  readonly primary: PolicyRunResult;
  readonly compare: PolicyRunResult | undefined;
  readonly alerts: readonly ReplayAlert[];
  /** The alert source's name, or undefined when there is none (no baselines stage). */
  readonly alertSource: string | undefined;
}

/**
 * Replays captured traffic through a policy file (and optionally a second one) in event
 * time; see ReplayRun. The input is read once and fed to every policy file.
 * @throws ConfigError for an invalid policy file, ReplayInputError for unreadable or invalid
 * input, ReplayUsageError for contradictory options, SinkError when `out` cannot be written.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplayOutcome> {
  const logger = options.logger ?? silentLogger;
  const files = await listInputFiles(options.inputs);
  const inputs = new Set(files.map((f) => resolve(f.path)));
  for (const output of [options.out, ...(options.otherOutputs ?? [])]) {
    if (output !== undefined && inputs.has(resolve(output))) throw new ReplayUsageError(`${output} is one of the inputs; write the output elsewhere`);
  }

  const sinks: FailureNotingSink[] = [];
  if (options.out !== undefined) {
    try {
      await mkdir(dirname(resolve(options.out)), { recursive: true });
      // A second replay into the same file should not add to the first one's traces.
      await writeFile(options.out, '');
    } catch (err) {
      throw new SinkError(`file ${options.out}`, `cannot write: ${describeIoError(err)}`, { retriable: false, cause: err });
    }
    sinks.push(new FailureNotingSink(new FileSink({ path: options.out })));
  }
  const primary = await prepare(options.policies, sinks, logger, options.compare !== undefined);
  const compare = options.compare === undefined ? undefined : await prepare(options.compare, [], logger, true);
  const runs = compare === undefined ? [primary.run] : [primary.run, compare.run];

  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const seen: ReplayOutcome['files'][number][] = [];
  const alerts: ReplayAlert[] = [];
  let doneBytes = 0;
  let watermark: number | undefined;
  const started = performance.now();
  try {
    for (const file of files) {
      const entry = { path: file.path, format: undefined as InputFormat | undefined, gzip: false };
      seen.push(entry);
      const requests = readInputRequests(file, {
        onFormat: (format, gzip) => {
          entry.format = format;
          entry.gzip = gzip;
        },
      });
      for await (const { decoded, where, fileBytesRead } of requests) {
        const end = latestSpanEnd(decoded);
        if (end !== undefined && (watermark === undefined || end > watermark)) watermark = end;
        const at = watermark ?? 0;
        for (const run of runs) await run.accept(decoded, at, where);
        if (options.alertSource !== undefined) {
          options.alertSource.observe(decoded, at);
          alerts.push(...options.alertSource.take(at));
        }
        options.onProgress?.(doneBytes + fileBytesRead, totalBytes);
      }
      doneBytes += file.size;
      options.onProgress?.(doneBytes, totalBytes);
    }
    const results = [];
    for (const run of runs) results.push(await run.finish());
    // The decision loop counts a sink failure and goes on, as a live engine must; a replay
    // whose kept file is incomplete has failed.
    for (const sink of sinks) if (sink.failure !== undefined) throw sink.failure;
    if (options.alertSource !== undefined) alerts.push(...options.alertSource.take(watermark ?? 0));
    const wallMs = performance.now() - started;
    return {
      files: seen,
      wallMs,
      primary: result(primary, results[0].left),
      compare: compare === undefined ? undefined : result(compare, results[1].left),
      alerts,
      alertSource: options.alertSource?.name,
    };
  } finally {
    // Closing flushes the kept file; a failure to write it is the replay's failure.
    await Promise.all(sinks.map((s) => s.close()));
  }
}

interface Prepared {
  readonly policyFile: string;
  readonly run: ReplayRun;
}

async function prepare(policyFile: string, sinks: readonly TraceSink[], logger: Logger, keepTraceRecords: boolean): Promise<Prepared> {
  const loaded = await loadPolicyFile(policyFile);
  if (!loaded.ok) throw new ConfigError(loaded.problems);
  const analysis = tryBuildPolicySet(loaded.config);
  const run = new ReplayRun({
    policySet: loaded.policySet,
    analysisSet: analysis.ok ? analysis.policySet : undefined,
    settings: toCompletionSettings(loaded.settings),
    sinks,
    logger,
    keepTraceRecords,
  });
  return { policyFile, run };
}

function result(prepared: Prepared, left: number): PolicyRunResult {
  const { run } = prepared;
  return {
    policyFile: prepared.policyFile,
    policyNames: run.recorder.policyNames,
    recorder: run.recorder,
    bufferFullWaits: run.bufferFullWaits,
    left,
  };
}

/** Passes batches on and remembers the first failure, so replay can report it. */
class FailureNotingSink implements TraceSink {
  readonly name: string;
  failure: unknown;

  constructor(private readonly inner: TraceSink) {
    this.name = inner.name;
  }

  async send(batch: KeptBatch): Promise<void> {
    try {
      await this.inner.send(batch);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
