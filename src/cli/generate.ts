import { parseArgs } from 'node:util';
import {
  checkGenerateOptions,
  DEFAULT_SCENARIO,
  GenerateUsageError,
  SCENARIOS,
  parseFaultSpec,
  randomSeed,
  runGenerate,
  type GenerateSummary,
} from '../generate/index.js';

const USAGE = `usage: tailsift generate --target URL [--scenario NAME] [--rate TRACES_PER_S] [--duration SECONDS]
                         [--seed N] [--start RFC3339|EPOCH_MS] [--fault SPEC]... [--manifest FILE]

  --target URL     http://HOST:PORT                      OTLP/HTTP protobuf, POST to /v1/traces
                   kafka://HOST:PORT[,HOST:PORT]/TOPIC   one record per export (otlp_proto);
                         ?key=trace_id                   split per trace, keyed by trace id
                         &encoding=otlp_json             OTLP/JSON records
                   file:PATH                             OTLP/JSON lines, written in virtual time
  --scenario NAME  ${[...SCENARIOS.values()].map((s) => `${s.name}: ${s.description}`).join('\n                   ')}
                   (default ${DEFAULT_SCENARIO})
  --rate N         new traces per second (default 50)
  --duration S     seconds during which traces start (default 10; 0 = until interrupted);
                   the run ends when the last trace's spans have been sent
  --seed N         seed of every random choice (default random, printed)
  --start TIME     time 0 of the run; with file: the output is byte-identical per seed
  --fault SPEC     SERVICE:latency=xN@START-END[:share=P]  slow down a share of the traces through a service
                   SERVICE:errors=P@START-END             fail a share of its spans
                   SERVICE:dependency=NEW[/OP]@START-END[:latency=300ms][:share=P]
                                                          call a service never seen before (repeatable)
  --manifest FILE  one JSON line per trace: traceId, spans, rootService, durationMs, hasError, faults
`;

interface Output {
  write(text: string): unknown;
}

/**
 * `tailsift generate`: exit 0 when everything was sent, 1 when sending failed, 2 for a usage
 * error (one line on stderr). Prints the summary as one line on stdout at the end.
 */
export async function generateCommand(
  args: string[],
  io: { stdout: Output; stderr: Output } = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let options: Parameters<typeof runGenerate>[0];
  try {
    const parsed = parseCommandLine(args);
    if (parsed === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    checkGenerateOptions(parsed);
    options = parsed;
  } catch (err) {
    io.stderr.write(`tailsift generate: ${firstLine(err)}\n`);
    return 2;
  }

  const controller = new AbortController();
  const onSignal = (): void => {
    // A second interrupt means "now": leave without draining.
    if (controller.signal.aborted) process.exit(130);
    io.stderr.write('tailsift generate: interrupted; sending what was already generated\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const duration = options.durationSeconds === 0 ? 'until interrupted' : `for ${options.durationSeconds ?? 10} s`;
    io.stderr.write(
      `tailsift generate: scenario ${options.scenario ?? DEFAULT_SCENARIO}, seed ${options.seed}, ` +
        `${options.rate ?? 50} traces/s ${duration}\n`,
    );
    const summary = await runGenerate(options, controller.signal);
    io.stdout.write(`${formatSummary(summary)}\n`);
    if (summary.failedRequests > 0) {
      io.stderr.write(`tailsift generate: last failure: ${summary.lastError ?? 'unknown'}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    io.stderr.write(`tailsift generate: ${firstLine(err)}\n`);
    return err instanceof GenerateUsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parseCommandLine(args: string[]): Parameters<typeof runGenerate>[0] | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        scenario: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        start: { type: 'string' },
        fault: { type: 'string', multiple: true },
        manifest: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new GenerateUsageError(`${firstSentence(err)} (see --help)`);
  }
  if (values.help) return 'help';
  if (values.target === undefined) throw new GenerateUsageError('--target is required (http://HOST:PORT, kafka://HOST:PORT/TOPIC or file:PATH)');
  return {
    target: values.target,
    scenario: values.scenario,
    rate: values.rate === undefined ? undefined : number('--rate', values.rate),
    durationSeconds: values.duration === undefined ? undefined : number('--duration', values.duration),
    seed: values.seed === undefined ? randomSeed() : seedOf(values.seed),
    startMs: values.start === undefined ? undefined : startOf(values.start),
    faults: (values.fault ?? []).map(parseFaultSpec),
    manifestPath: values.manifest,
  };
}

function number(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new GenerateUsageError(`${flag} ${JSON.stringify(text)}: not a number`);
  return value;
}

function seedOf(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new GenerateUsageError(`--seed ${JSON.stringify(text)}: must be a non-negative integer below 2^53`);
  }
  return value;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function startOf(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const parsed = RFC3339.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(parsed)) {
    throw new GenerateUsageError(`--start ${JSON.stringify(text)}: expected RFC 3339 (2024-05-01T12:00:00Z) or Unix milliseconds`);
  }
  return parsed;
}

export function formatSummary(s: GenerateSummary): string {
  return (
    `generated ${s.traces} traces (${s.spans} spans) in ${s.requests} requests, ${formatBytes(s.bytes)}, ` +
    `to ${s.target} in ${s.elapsedSeconds.toFixed(1)} s; ` +
    `${s.failedRequests} failed requests (${s.failedSpans} spans), ${s.retries} retries; ` +
    `scenario ${s.scenario}, seed ${s.seed}`
  );
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0];
}

/** parseArgs messages run on with advice about `--`; the first sentence is the useful part. */
function firstSentence(err: unknown): string {
  const message = firstLine(err);
  const end = message.indexOf('. ');
  return end > 0 ? message.slice(0, end) : message.replace(/\.$/, '');
}
