import { alertLine, type AlertNotification } from '../alerts/alert-notification.js';
import { Alerts } from '../alerts/alerts.js';
import { defaultAlertsConfig, type AlertsConfig } from '../alerts/config.js';
import { MemoryBaselineStore } from '../baselines/baseline-store.js';
import { Baselines } from '../baselines/baselines.js';
import { defaultBaselinesConfig, type BaselinesConfig } from '../baselines/config.js';
import type { DecodedRequest, SpanView } from '../otlp/types.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';

export interface ReplayAnomaliesOptions {
  /**
   * The engine config's `baselines` section. Default: the defaults of `baselines/config.ts`.
   * Its store is ignored: replay always keeps baselines in memory, so a replay never reads or
   * writes the baselines that live instances share.
   */
  readonly baselines?: BaselinesConfig;
  /**
   * The engine config's `alerts` section. Default: the defaults of `alerts/config.ts`. Its
   * sinks are ignored: replay hands every notification to its caller (`--alerts`), and never
   * pages anyone about traffic from the past.
   */
  readonly alerts?: AlertsConfig;
  /** Link template for exemplar traces (`--trace-url`) when the alerts config has none. */
  readonly traceUrl?: string;
  readonly logger?: Logger;
}

/**
 * The baselines stage and the alerts of the live engine, driven in event time for a replay.
 *
 * Every span of every request is observed at the request's arrival time, before any sampling
 * decision, as live intake does; the `anomaly` policies of the replayed policy files read the
 * same Baselines; kept traces are noted as exemplars; and the alerts are evaluated at every
 * multiple of `evaluateEvery` of event time, where the live engine runs them on a wall-clock
 * timer, and once more at the end of the input.
 */
export class ReplayAnomalies {
  /** Shown in the summary and the report. */
  readonly name: string;
  readonly baselines: Baselines;
  /** Every notification, in the order the evaluations made them. */
  readonly notifications: AlertNotification[] = [];
  private readonly alerts: Alerts;
  private readonly everyMs: number;
  /**
   * Event time after the last span observed from which evaluations can no longer change
   * anything: the recent window has emptied (no departure can be seen) and every open
   * incident has had `resolveAfter` to resolve.
   */
  private readonly quietMs: number;
  private nextEvaluationMs: number | undefined;
  private lastEvaluationMs = -Infinity;
  private lastObservedMs: number | undefined;
  private finished = false;

  constructor(options: ReplayAnomaliesOptions = {}) {
    const logger = options.logger ?? silentLogger;
    const baselinesConfig: BaselinesConfig = { ...(options.baselines ?? defaultBaselinesConfig()), store: { type: 'memory' } };
    const given = options.alerts ?? defaultAlertsConfig();
    const alertsConfig: AlertsConfig = { ...given, sinks: [], linkTemplate: given.linkTemplate ?? options.traceUrl };
    this.baselines = new Baselines(baselinesConfig, new MemoryBaselineStore(), logger);
    this.alerts = new Alerts({ config: alertsConfig, baselines: this.baselines, sinks: [], logger });
    this.everyMs = alertsConfig.evaluateEvery;
    this.quietMs = baselinesConfig.recent + baselinesConfig.slot + alertsConfig.resolveAfter + 2 * alertsConfig.evaluateEvery;
    this.name = alertsConfig.enabled
      ? `baselines (memory) and alerts every ${formatMs(this.everyMs)} of event time`
      : 'baselines (memory); alerts disabled';
  }

  /** Evaluations run so far. */
  get evaluations(): number {
    return this.alerts.counters.evaluations;
  }

  /** Every span of a request, at its arrival (event time), before sampling. */
  observe(request: DecodedRequest, nowMs: number): void {
    this.baselines.observe(request.spans, nowMs);
    if (this.lastObservedMs === undefined || nowMs > this.lastObservedMs) this.lastObservedMs = nowMs;
  }

  /** A trace the replayed policy file kept, at its decision time: an exemplar of the incidents it takes part in. */
  noteKept(traceId: string, spans: readonly SpanView[], nowMs: number): void {
    this.alerts.noteKept(traceId, spans, nowMs);
  }

  /**
   * Runs every evaluation due at or before `nowMs`. Across a gap in the traffic, the
   * evaluations past the quiet time find nothing to change and are skipped, so a capture
   * with hours between its parts (or a span with a wild timestamp) costs no more than one
   * without.
   */
  async evaluateUntil(nowMs: number): Promise<void> {
    if (this.finished) return;
    this.nextEvaluationMs ??= (Math.floor(nowMs / this.everyMs) + 1) * this.everyMs;
    while (this.nextEvaluationMs <= nowMs) {
      if (this.lastObservedMs !== undefined && this.nextEvaluationMs > this.lastObservedMs + this.quietMs) {
        this.nextEvaluationMs = (Math.floor(nowMs / this.everyMs) + 1) * this.everyMs;
        return;
      }
      await this.evaluate(this.nextEvaluationMs);
      this.nextEvaluationMs += this.everyMs;
    }
  }

  /** The end of the input at `endMs`: the evaluations up to it, one at it, then stop. Idempotent. */
  async finish(endMs: number): Promise<void> {
    if (this.finished) return;
    await this.evaluateUntil(endMs);
    if (this.lastEvaluationMs < endMs) await this.evaluate(endMs);
    this.finished = true;
    await this.alerts.stop(0);
  }

  private async evaluate(atMs: number): Promise<void> {
    this.lastEvaluationMs = atMs;
    this.notifications.push(...(await this.alerts.evaluate(atMs)));
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The `--alerts` file: one alert record per notification, as the alerts' file sink writes them. */
export function alertLines(alerts: readonly AlertNotification[]): string {
  return alerts.map(alertLine).join('');
}
