import { ConfigError } from '../errors.js';
import type { TraceSink } from '../forward/sink.js';
import type { DecodedRequest, SpanView } from '../otlp/types.js';
import type { EvaluatorContext } from '../policies/create-evaluator.js';
import { loadPolicyFile, toCompletionSettings } from '../policies/policy-file.js';
import { tryBuildPolicySet } from '../policies/policy-set.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { latestSpanEnd } from './event-time-clock.js';
import { ReplayAnomalies, type ReplayAnomaliesOptions } from './replay-anomalies.js';
import { ReplayRun } from './replay-run.js';

export interface ReplayDriverOptions {
  /** The policy file to try (a policy file, or a Collector config, as `run` accepts). */
  readonly policies: string;
  /** A second policy file decided on the same requests, for a side-by-side comparison. */
  readonly compare?: string;
  /** Where the kept traces of `policies` go; none is fine. */
  readonly sinks?: readonly TraceSink[];
  /** The baselines stage and alerts (default: on, with the default settings); `false`: without them. */
  readonly anomalies?: ReplayAnomaliesOptions | false;
  /** Remember every trace `policies` kept (comparisons, benchmarks); with `compare` always. */
  readonly keepTraceRecords?: boolean;
  readonly logger?: Logger;
}

/** What `finish` reports. */
export interface ReplayDriverResult {
  /** Traces each run could not forward because a sink kept failing. */
  readonly left: { readonly primary: number; readonly compare: number | undefined };
  /** Event time of the end of the input (the last watermark); undefined without spans. */
  readonly endMs: number | undefined;
}

/**
 * The event-time loop of a replay, request by request, whatever the requests come from
 * (files, or a generator in the same process).
 *
 * A request arrives at the watermark (see EventTimeClock). At that instant, in this order:
 * every trace that fell due before it is decided at its own due time; the alerts run the
 * evaluations that fell due before it; the baselines observe every span of the request,
 * before any sampling, as live intake does; then the request enters each run's buffer and
 * what became due at once is decided. The baselines are one stage shared by both policy
 * files, as one engine's would be, and only the first file's kept traces become exemplars,
 * since only they are written (`--out`).
 */
export class ReplayDriver {
  private readonly runs: readonly ReplayRun[];
  private watermark: number | undefined;

  private constructor(
    readonly primary: ReplayRun,
    readonly compare: ReplayRun | undefined,
    readonly anomalies: ReplayAnomalies | undefined,
  ) {
    this.runs = compare === undefined ? [primary] : [primary, compare];
  }

  /** @throws ConfigError for an invalid policy file. */
  static async create(options: ReplayDriverOptions): Promise<ReplayDriver> {
    const logger = options.logger ?? silentLogger;
    const anomalies = options.anomalies === false ? undefined : new ReplayAnomalies({ logger, ...options.anomalies });
    const context: EvaluatorContext = anomalies === undefined ? {} : { baselines: anomalies.baselines };
    const primary = await prepare(options.policies, {
      sinks: options.sinks ?? [],
      logger,
      keepTraceRecords: options.keepTraceRecords === true || options.compare !== undefined,
      context,
      onKept: anomalies === undefined ? undefined : (traceId, spans, nowMs) => anomalies.noteKept(traceId, spans, nowMs),
    });
    const compare = options.compare === undefined ? undefined : await prepare(options.compare, { sinks: [], logger, keepTraceRecords: true, context, onKept: undefined });
    return new ReplayDriver(primary, compare, anomalies);
  }

  /** Event time reached: the latest span end read so far; undefined before the first span. */
  get eventTimeMs(): number | undefined {
    return this.watermark;
  }

  /**
   * One request, in input order. `where` names it in errors.
   * @throws ReplayInputError for a request the buffer can never take.
   */
  async accept(request: DecodedRequest, where: string): Promise<void> {
    const end = latestSpanEnd(request);
    if (end !== undefined && (this.watermark === undefined || end > this.watermark)) this.watermark = end;
    const at = this.watermark ?? 0;
    if (this.anomalies !== undefined && this.watermark !== undefined) {
      for (const run of this.runs) await run.decideUntil(at);
      await this.anomalies.evaluateUntil(at);
      this.anomalies.observe(request, at);
    }
    for (const run of this.runs) await run.accept(request, at, where);
  }

  /**
   * The input has ended: every run decides what is pending at its due time and drains, then
   * the alerts evaluate up to the end of the input and once at it.
   */
  async finish(): Promise<ReplayDriverResult> {
    const primary = await this.primary.finish();
    const compare = this.compare === undefined ? undefined : await this.compare.finish();
    if (this.anomalies !== undefined && this.watermark !== undefined) await this.anomalies.finish(this.watermark);
    return { left: { primary: primary.left, compare: compare?.left }, endMs: this.watermark };
  }
}

interface PrepareOptions {
  readonly sinks: readonly TraceSink[];
  readonly logger: Logger;
  readonly keepTraceRecords: boolean;
  readonly context: EvaluatorContext;
  readonly onKept: ((traceId: string, spans: readonly SpanView[], nowMs: number) => void) | undefined;
}

async function prepare(policyFile: string, o: PrepareOptions): Promise<ReplayRun> {
  const loaded = await loadPolicyFile(policyFile, undefined, o.context);
  if (!loaded.ok) throw new ConfigError(loaded.problems);
  // The analysis set reads the same baselines, so its per-policy counts are the real set's.
  const analysis = tryBuildPolicySet(loaded.config, o.context);
  const onKept = o.onKept;
  return new ReplayRun({
    policySet: loaded.policySet,
    analysisSet: analysis.ok ? analysis.policySet : undefined,
    settings: toCompletionSettings(loaded.settings),
    sinks: o.sinks,
    logger: o.logger,
    keepTraceRecords: o.keepTraceRecords,
    baselines: o.context.baselines,
    onKept: onKept === undefined ? undefined : (trace, nowMs) => onKept(trace.traceId, trace.spans, nowMs),
  });
}
