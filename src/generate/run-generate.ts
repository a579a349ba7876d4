import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { ExportQueue, type ServiceBatch } from './export-queue.js';
import { FaultInjector, addedServices, type FaultSpec } from './faults.js';
import { LineWriter } from './line-writer.js';
import { manifestEntry } from './manifest.js';
import { Prng, randomSeed } from './prng.js';
import { DEFAULT_SCENARIO, getScenario } from './scenarios/index.js';
import { RunEpoch, SdkSpanRecorder, SeededIdGenerator } from './sdk-span-recorder.js';
import { standardResource, type Scenario } from './service-model.js';
import type { KafkaPublisherFactory } from './targets/kafka-publisher.js';
import { createTarget, parseTarget, type TargetSpec } from './targets/open-target.js';
import { DEFAULT_RETRY, type RetryPolicy } from './targets/retry.js';
import type { TraceTarget } from './targets/trace-target.js';
import { layoutTrace } from './trace-plan.js';
import { GenerateUsageError } from './usage-error.js';

export interface GenerateOptions {
  /**
   * Where spans go: `http://HOST:PORT` (OTLP/HTTP protobuf to `/v1/traces`),
   * `kafka://HOST:PORT[,HOST:PORT]/TOPIC[?key=trace_id][&encoding=otlp_json]`, `file:PATH`
   * (OTLP/JSON lines, virtual time), or a target object. The run opens and closes it.
   */
  readonly target: string | TraceTarget;
  /** `shop` (default), `rag` or `bench`. */
  readonly scenario?: string;
  /** New traces per second, arriving as a Poisson process. Default 50. */
  readonly rate?: number;
  /** Seconds during which traces start; 0 runs until `signal` aborts. Default 10. */
  readonly durationSeconds?: number;
  /** Seed of every random choice; default random (reported in the summary). */
  readonly seed?: number;
  /**
   * Unix milliseconds that the run's time 0 stands for. Default: the wall clock at start. With
   * a fixed start the file target's output is byte-identical for the same seed and options.
   */
  readonly startMs?: number;
  readonly faults?: readonly FaultSpec[];
  /** File to write one JSON line per generated trace to (see ManifestEntry). */
  readonly manifestPath?: string;
  /** Export interval in ms: each service sends the spans that ended since the last tick. Default 100. */
  readonly tickMs?: number;
  /** Most spans in one export request, like an SDK's maxExportBatchSize. Default 512. */
  readonly maxExportBatchSize?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly logger?: Logger;
  /** Replaces the kafkajs producer (tests). */
  readonly kafkaPublisher?: KafkaPublisherFactory;
}

export interface GenerateSummary {
  readonly scenario: string;
  readonly seed: number;
  readonly target: string;
  readonly traces: number;
  readonly spans: number;
  /** Requests (HTTP POSTs, Kafka messages, file lines) the target accepted. */
  readonly requests: number;
  readonly bytes: number;
  readonly failedRequests: number;
  readonly failedSpans: number;
  readonly retries: number;
  /** Run time covered, in seconds (virtual for the file target). */
  readonly simulatedSeconds: number;
  /** Wall-clock seconds the run took. */
  readonly elapsedSeconds: number;
  readonly lastError: string | undefined;
}

/** Validated options with defaults applied. */
export interface RunSettings {
  readonly rate: number;
  readonly durationSeconds: number;
  readonly seed: number;
  readonly tickMs: number;
  readonly maxExportBatchSize: number;
}

function settingsOf(options: GenerateOptions): RunSettings {
  const rate = options.rate ?? 50;
  const durationSeconds = options.durationSeconds ?? 10;
  const seed = options.seed ?? randomSeed();
  const tickMs = options.tickMs ?? 100;
  const maxExportBatchSize = options.maxExportBatchSize ?? 512;
  if (!(Number.isFinite(rate) && rate > 0)) throw new GenerateUsageError(`--rate ${rate}: must be a number of traces per second above 0`);
  if (!(Number.isFinite(durationSeconds) && durationSeconds >= 0)) {
    throw new GenerateUsageError(`--duration ${durationSeconds}: must be 0 (until interrupted) or a number of seconds`);
  }
  if (!(Number.isSafeInteger(seed) && seed >= 0)) throw new GenerateUsageError(`--seed ${seed}: must be a non-negative integer`);
  if (options.startMs !== undefined && !(Number.isFinite(options.startMs) && options.startMs >= 0)) {
    throw new GenerateUsageError(`--start ${options.startMs}: must be a time after 1970`);
  }
  if (!(Number.isFinite(tickMs) && tickMs > 0)) throw new GenerateUsageError(`tick ${tickMs}: must be a number of ms above 0`);
  if (!(Number.isInteger(maxExportBatchSize) && maxExportBatchSize > 0)) {
    throw new GenerateUsageError(`maxExportBatchSize ${maxExportBatchSize}: must be a positive integer`);
  }
  return { rate, durationSeconds, seed, tickMs, maxExportBatchSize };
}

/**
 * Checks every option without side effects (nothing is opened or written), so a command can
 * report a usage error before it starts. Throws GenerateUsageError naming the bad option.
 */
export function checkGenerateOptions(options: GenerateOptions): {
  settings: RunSettings;
  scenario: Scenario;
  target: TargetSpec | undefined;
} {
  const settings = settingsOf(options);
  const scenario = getScenario(options.scenario ?? DEFAULT_SCENARIO);
  const serviceNames = scenario.services.map((s) => s.name);
  for (const fault of options.faults ?? []) {
    if (!serviceNames.includes(fault.service)) {
      throw new GenerateUsageError(
        `--fault ${JSON.stringify(fault.label)}: scenario ${scenario.name} has no service ${fault.service}; it has ${serviceNames.join(', ')}`,
      );
    }
    if (fault.effect.kind === 'dependency' && serviceNames.includes(fault.effect.service)) {
      throw new GenerateUsageError(
        `--fault ${JSON.stringify(fault.label)}: scenario ${scenario.name} already has a service ${fault.effect.service}; a new dependency needs a name the scenario does not use`,
      );
    }
  }
  const target = typeof options.target === 'string' ? parseTarget(options.target) : undefined;
  return { settings, scenario, target };
}

/**
 * Generates synthetic traffic and sends it like instrumented services would: spans are made by
 * the OpenTelemetry JS SDK (one tracer provider per service), every tick each service exports
 * the spans that ended since the last one, so a trace arrives over several requests from
 * several resources, its root usually last.
 *
 * Aborting `signal` stops new traces and sends everything already generated before returning,
 * so the manifest never lists a trace that was not sent.
 */
export async function runGenerate(options: GenerateOptions, signal?: AbortSignal): Promise<GenerateSummary> {
  const { settings, scenario, target: targetSpec } = checkGenerateOptions(options);
  // Services a dependency fault adds come last, so the scenario's own draw the same resources as without faults.
  const definitions = [...scenario.services, ...addedServices(options.faults ?? [])];
  const serviceNames = definitions.map((s) => s.name);
  const logger = options.logger ?? silentLogger;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const target = targetSpec
    ? createTarget(targetSpec, { retry, logger, kafkaPublisher: options.kafkaPublisher })
    : (options.target as TraceTarget);

  const { seed } = settings;
  const resourceRng = Prng.stream(seed, 'resources');
  const services = definitions.map((service) => ({
    name: service.name,
    resource: { ...standardResource(scenario.namespace, service, resourceRng), ...service.extraResource },
  }));
  const tickNs = settings.tickMs * 1e6;
  const queue = new ExportQueue(tickNs, serviceNames);
  const wallStart = Date.now();
  const epoch = new RunEpoch(options.startMs ?? wallStart);
  const recorder = new SdkSpanRecorder(services, new SeededIdGenerator(Prng.stream(seed, 'ids'), Prng.stream(seed, 'injected-ids')), (service, span) =>
    queue.add(service, span, epoch.offsetNs(span.endTime)),
  );
  const arrivals = Prng.stream(seed, 'arrivals');
  const shapes = Prng.stream(seed, 'traces');
  const injector = new FaultInjector(options.faults ?? [], Prng.stream(seed, 'faults'));

  let traces = 0;
  let spans = 0;
  let tick = 0;
  let manifest: LineWriter | undefined;
  try {
    await target.open();
    if (options.manifestPath) manifest = await LineWriter.open(options.manifestPath);

    const sendBatches = async (batches: readonly ServiceBatch[]): Promise<void> => {
      for (const { spans: ended } of batches) {
        for (let i = 0; i < ended.length; i += settings.maxExportBatchSize) {
          await target.send(ended.slice(i, i + settings.maxExportBatchSize));
        }
      }
    };

    const meanGapNs = 1e9 / settings.rate;
    const endNs = settings.durationSeconds > 0 ? settings.durationSeconds * 1e9 : Infinity;
    let nextArrivalNs = arrivals.exponential(meanGapNs);
    for (tick = 1; ; tick++) {
      const nowNs = tick * tickNs;
      if (!target.virtualTime) {
        await pace(wallStart + tick * settings.tickMs, signal);
      } else if (tick % 64 === 0) {
        // Virtual time never waits; yield now and then so an interrupt can be noticed.
        await yieldToEventLoop();
      }
      const stopping = signal?.aborted === true;
      if (!stopping) {
        while (nextArrivalNs <= nowNs && nextArrivalNs < endNs) {
          const root = scenario.planTrace(shapes);
          layoutTrace(root, Math.round(nextArrivalNs), injector);
          const traceId = recorder.record(root, epoch);
          const entry = manifestEntry(traceId, root, epoch);
          traces++;
          spans += entry.spans;
          if (manifest) await manifest.writeLine(JSON.stringify(entry));
          nextArrivalNs += arrivals.exponential(meanGapNs);
        }
      }
      // Interrupted: whatever is queued goes out now, even spans whose end lies ahead.
      await sendBatches(stopping ? queue.takeAll() : queue.takeDue(tick));
      if ((stopping || nextArrivalNs >= endNs) && queue.size === 0) break;
    }
  } finally {
    await target.close();
    await manifest?.close();
  }

  const stats = target.stats;
  if (stats.failedRequests > 0) {
    logger.warn({ failedRequests: stats.failedRequests, failedSpans: stats.failedSpans, lastError: stats.lastError }, 'some exports failed');
  }
  return {
    scenario: scenario.name,
    seed,
    target: target.description,
    traces,
    spans,
    requests: stats.requests,
    bytes: stats.bytes,
    failedRequests: stats.failedRequests,
    failedSpans: stats.failedSpans,
    retries: stats.retries,
    simulatedSeconds: (tick * settings.tickMs) / 1000,
    elapsedSeconds: (Date.now() - wallStart) / 1000,
    lastError: stats.lastError,
  };
}

/** Waits until the wall clock reaches `untilMs`, or the signal aborts. */
async function pace(untilMs: number, signal: AbortSignal | undefined): Promise<void> {
  const wait = untilMs - Date.now();
  if (wait <= 0 || signal?.aborted) return;
  try {
    await sleep(wait, undefined, { signal });
  } catch {
    // Aborted: the loop sees the signal and drains.
  }
}
