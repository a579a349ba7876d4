import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { AlertsConfig } from '../alerts/config.js';
import type { BaselinesConfig } from '../baselines/config.js';
import { loadEngineConfig } from '../config/engine-config.js';
import { ConfigError, TailsiftError } from '../errors.js';
import { renderHtmlReport } from '../replay/html-report.js';
import { alertLines } from '../replay/replay-anomalies.js';
import { ReplayUsageError } from '../replay/replay-errors.js';
import { buildSummary, formatSummaryText } from '../replay/replay-summary.js';
import { runReplay, type ReplayOutcome } from '../replay/run-replay.js';
import { createLogger } from '../telemetry/logger.js';

export const REPLAY_USAGE = `usage: tailsift replay --policies FILE --input PATH... [--config FILE] [--out KEPT.jsonl]
                      [--alerts ALERTS.jsonl] [--report REPORT.html] [--summary SUMMARY.json]
                      [--compare FILE2] [--trace-url URL_TEMPLATE]

Runs captured traffic through a policy file with the engine's own buffer, completion rules,
decision loop, baselines and alerts, in event time: the clock follows the span timestamps, so
an hour of traffic replays in seconds, each trace is decided as the live engine would have
decided it, and anomaly policies and alerts judge against baselines learned from every span.

  --policies FILE   policy file to try (or a Collector config, FILE#tail_sampling/NAME)
  --input PATH      OTLP/JSON lines, OTLP protobuf files (one request, or length-prefixed
                    requests), or directories of them (recursive, sorted by name); .gz read
                    as gzip. Repeatable; read in the order given, which should be time order.
  --config FILE     engine config; its policy file is used when --policies is not given, and
                    its baselines and alerts settings (their store and alert sinks are not:
                    replay reads files, keeps everything in memory and writes only where the
                    options below say)
  --out FILE        kept traces as OTLP/JSON lines, as the file sink writes them (replaced)
  --alerts FILE     alerts as JSON lines: firing and resolved notifications, in event time
  --report FILE     self-contained HTML report (charts, example traces; works offline)
  --summary FILE    the summary as JSON
  --compare FILE2   a second policy file replayed on the same input, side by side
  --trace-url URL   link for example traces in the report; {traceId} is replaced, e.g.
                    http://jaeger:16686/trace/{traceId}

A short summary is printed on stdout. Exit codes: 0 ok, 1 invalid input or policy file (the
first bad line is named as FILE:LINE: reason), 2 usage error.
`;

interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
}

interface ReplayArgs {
  readonly policies: string;
  /** The engine config's sections, when --config gave them. */
  readonly baselines?: BaselinesConfig;
  readonly alertsConfig?: AlertsConfig;
  readonly inputs: readonly string[];
  readonly out?: string;
  readonly alerts?: string;
  readonly report?: string;
  readonly summary?: string;
  readonly compare?: string;
  readonly traceUrl?: string;
}

/** `tailsift replay`: 0 ok, 1 invalid input or policy file, 2 usage error. */
export async function replayCommand(args: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`tailsift replay: ${message}\nRun 'tailsift replay --help' for usage.\n`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        policies: { type: 'string' },
        input: { type: 'string', multiple: true },
        config: { type: 'string', short: 'c' },
        out: { type: 'string' },
        alerts: { type: 'string' },
        report: { type: 'string' },
        summary: { type: 'string' },
        compare: { type: 'string' },
        'trace-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usage(firstSentence(err));
  }
  if (values.help) {
    io.stdout.write(REPLAY_USAGE);
    return 0;
  }
  if (values.input === undefined || values.input.length === 0) return usage('--input is required (files or directories of captured OTLP traffic)');

  let policies = values.policies;
  let stages: { readonly baselines?: BaselinesConfig; readonly alerts?: AlertsConfig } = {};
  if (values.config !== undefined) {
    const loaded = await loadEngineConfig(values.config);
    if (!loaded.ok) {
      for (const problem of loaded.problems) io.stderr.write(`${problem}\n`);
      return 1;
    }
    policies ??= loaded.config.policies;
    // The frozen config is only read (spread into the replay's own settings).
    stages = { baselines: loaded.config.baselines as BaselinesConfig, alerts: loaded.config.alerts as AlertsConfig };
  }
  if (policies === undefined) return usage('--policies is required (or --config with a policies file)');

  const traceUrl = values['trace-url'];
  if (traceUrl !== undefined) {
    const problem = checkTraceUrl(traceUrl);
    if (problem !== undefined) return usage(`--trace-url ${JSON.stringify(traceUrl)}: ${problem}`);
  }
  const outputs = [values.out, values.alerts, values.report, values.summary].filter((p): p is string => p !== undefined);
  if (new Set(outputs.map((p) => resolve(p))).size < outputs.length) return usage('--out, --alerts, --report and --summary must name different files');

  const options = {
    policies,
    inputs: values.input,
    out: values.out,
    alerts: values.alerts,
    report: values.report,
    summary: values.summary,
    compare: values.compare,
    traceUrl,
    baselines: stages.baselines,
    alertsConfig: stages.alerts,
  };
  return replay(options, io, outputs);
}

async function replay(a: ReplayArgs, io: Io, outputs: readonly string[]): Promise<number> {
  const progress = io.stderr.isTTY ? new ProgressBar(io.stderr) : undefined;
  let outcome: ReplayOutcome;
  try {
    outcome = await runReplay({
      policies: a.policies,
      inputs: a.inputs,
      compare: a.compare,
      out: a.out,
      otherOutputs: outputs,
      anomalies: { baselines: a.baselines, alerts: a.alertsConfig, traceUrl: a.traceUrl },
      logger: createLogger({ level: 'warn' }),
      onProgress: progress === undefined ? undefined : (done, total) => progress.update(done, total),
    });
  } catch (err) {
    progress?.stop();
    if (err instanceof ConfigError) {
      for (const problem of err.problems) io.stderr.write(`${problem}\n`);
      return 1;
    }
    if (err instanceof ReplayUsageError) {
      io.stderr.write(`tailsift replay: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`${err instanceof TailsiftError ? err.message : `tailsift replay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`}\n`);
    return 1;
  }
  progress?.stop();

  const summary = buildSummary(outcome);
  io.stdout.write(formatSummaryText(summary));
  try {
    if (a.summary !== undefined) await writeOutput(a.summary, `${JSON.stringify(summary, null, 2)}\n`);
    if (a.report !== undefined) {
      await writeOutput(a.report, renderHtmlReport(outcome, summary, { traceUrl: a.traceUrl }));
    }
    if (a.alerts !== undefined) await writeOutput(a.alerts, alertLines(outcome.alerts));
  } catch (err) {
    io.stderr.write(`tailsift replay: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const left = outcome.primary.left + (outcome.compare?.left ?? 0);
  if (left > 0) {
    io.stderr.write(`tailsift replay: ${left} traces were never decided because their kept traces could not be written\n`);
    return 1;
  }
  return 0;
}

async function writeOutput(path: string, text: string): Promise<void> {
  try {
    await mkdir(dirname(resolve(path)), { recursive: true });
    await writeFile(path, text);
  } catch (err) {
    throw new Error(`cannot write ${path}: ${(err as Error).message}`);
  }
}

/** A problem with a trace link template, or undefined when it is usable. */
export function checkTraceUrl(template: string): string | undefined {
  if (!template.includes('{traceId}')) return 'must contain {traceId}, where the trace id goes';
  let url: URL;
  try {
    url = new URL(template.split('{traceId}').join('4bf92f3577b34da6a3ce929d0e0e4736'));
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  return undefined;
}

/**
 * Input bytes read, on a terminal only (pipes and CI logs get no carriage-return noise), and
 * only once a replay has taken a second: a short one finishes before a bar would help.
 */
class ProgressBar {
  private readonly bar: cliProgress.SingleBar;
  private readonly showAfter = performance.now() + 1_000;
  private started = false;

  constructor(stream: NodeJS.WritableStream | Io['stderr']) {
    this.bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: 'replay [{bar}] {percentage}% | {doneMiB}/{totalMiB} MiB | {duration_formatted}',
        hideCursor: true,
        clearOnComplete: true,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(done: number, total: number): void {
    const payload = { doneMiB: (done / 1048576).toFixed(1), totalMiB: (total / 1048576).toFixed(1) };
    if (!this.started) {
      if (performance.now() < this.showAfter) return;
      this.started = true;
      this.bar.start(Math.max(1, total), done, payload);
    } else {
      this.bar.update(done, payload);
    }
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

function firstSentence(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const end = message.indexOf('. ');
  return end > 0 ? message.slice(0, end) : message.replace(/\.$/, '');
}
