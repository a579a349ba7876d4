import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AlertNotification } from '../alerts/alert-notification.js';
import { SinkError } from '../errors.js';
import { FileSink } from '../forward/file-sink.js';
import type { KeptBatch, TraceSink } from '../forward/sink.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { describeIoError, listInputFiles, type InputFormat } from './input-files.js';
import { readInputRequests } from './input-reader.js';
import type { ReplayAnomaliesOptions } from './replay-anomalies.js';
import { ReplayDriver } from './replay-driver.js';
import { ReplayUsageError } from './replay-errors.js';
import type { ReplayRecorder } from './replay-recorder.js';
import type { ReplayRun } from './replay-run.js';

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
  /**
   * The baselines stage and alerts: settings (default: the defaults of `baselines/config.ts`
   * and `alerts/config.ts`), or `false` to replay the policies alone (their `anomaly`
   * policies then learn from the traces they decide, as without the stage).
   */
  readonly anomalies?: ReplayAnomaliesOptions | false;
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
  /** Alert notifications (firing and resolved), in event time order. */
  readonly alerts: readonly AlertNotification[];
  /** What raised them (the baselines stage and alerts), or undefined when replay ran without it. */
  readonly alertSource: string | undefined;
}

/**
 * Replays captured traffic through a policy file (and optionally a second one) in event
 * time; see ReplayDriver. The input is read once and fed to every policy file and to the
 * baselines stage, whose alerts come back with the outcome.
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
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const seen: ReplayOutcome['files'][number][] = [];
  let doneBytes = 0;
  const started = performance.now();
  try {
    const driver = await ReplayDriver.create({ policies: options.policies, compare: options.compare, sinks, anomalies: options.anomalies, logger });
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
        await driver.accept(decoded, where);
        options.onProgress?.(doneBytes + fileBytesRead, totalBytes);
      }
      doneBytes += file.size;
      options.onProgress?.(doneBytes, totalBytes);
    }
    const { left } = await driver.finish();
    // The decision loop counts a sink failure and goes on, as a live engine must; a replay
    // whose kept file is incomplete has failed.
    for (const sink of sinks) if (sink.failure !== undefined) throw sink.failure;
    const wallMs = performance.now() - started;
    return {
      files: seen,
      wallMs,
      primary: result(options.policies, driver.primary, left.primary),
      compare: options.compare === undefined || driver.compare === undefined ? undefined : result(options.compare, driver.compare, left.compare ?? 0),
      alerts: driver.anomalies?.notifications ?? [],
      alertSource: driver.anomalies?.name,
    };
  } finally {
    // Closing flushes the kept file; a failure to write it is the replay's failure.
    await Promise.all(sinks.map((s) => s.close()));
  }
}

function result(policyFile: string, run: ReplayRun, left: number): PolicyRunResult {
  return {
    policyFile,
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
