import type { Baselines } from '../baselines/baselines.js';
import type { Clock } from '../clock.js';
import type { SpanView } from '../otlp/types.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { kindTitle, type AlertNotification } from './alert-notification.js';
import { AlertDispatcher } from './alert-dispatcher.js';
import { MemoryAlertState, type AlertState } from './alert-state.js';
import type { AlertsConfig } from './config.js';
import { stepIncidents, type IncidentState } from './incident-tracker.js';
import type { AlertSink } from './sinks/alert-sink.js';
import { createAlertSink } from './sinks/create-alert-sink.js';
import type { RetryRuntime } from '../forward/retry.js';

export interface AlertsOptions {
  readonly config: AlertsConfig;
  readonly baselines: Baselines;
  /** Default: the sinks of `config`. */
  readonly sinks?: readonly AlertSink[];
  /** Default: memory (this instance is always the leader). */
  readonly state?: AlertState;
  readonly logger?: Logger;
  /** Replaces the dispatcher's sleep and clock (tests). */
  readonly retryRuntime?: RetryRuntime;
}

export interface AlertCounters {
  evaluations: number;
  /** Evaluations skipped because another instance holds the leader lease. */
  evaluationsAsFollower: number;
  /** Evaluations that failed (Redis unreachable); the next one tries again. */
  evaluationFailures: number;
  incidentsOpened: number;
  incidentsResolved: number;
  notifications: number;
}

/**
 * Incidents and alerts: an operation whose recent window departs from its baseline (see
 * `Baselines.departures`) for `sustain` opens an incident; one notification per incident
 * across all instances (only the holder of the leader lease evaluates, and incident states
 * are shared, so a new leader continues them), re-notified every `renotify`, resolved after
 * `resolveAfter` back to normal. Notifications name the operation, what changed against its
 * baseline, when it started, and exemplar trace ids of kept traces (`noteKept`).
 *
 * Evaluation runs on its own timer and hands notifications to a dispatcher with bounded
 * queues: nothing here ever makes the span path wait.
 */
export class Alerts {
  readonly counters: AlertCounters = { evaluations: 0, evaluationsAsFollower: 0, evaluationFailures: 0, incidentsOpened: 0, incidentsResolved: 0, notifications: 0 };
  readonly dispatcher: AlertDispatcher;
  private readonly state: AlertState;
  private readonly logger: Logger;
  private readonly sinks: readonly AlertSink[];
  private timer: NodeJS.Timeout | undefined;
  private evaluating: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: AlertsOptions) {
    this.logger = o.logger ?? silentLogger;
    this.state = o.state ?? new MemoryAlertState();
    this.sinks = o.sinks ?? o.config.sinks.map((s) => createAlertSink(s, { logger: this.logger, renotifyMs: o.config.renotify }));
    this.dispatcher = new AlertDispatcher(this.sinks, {
      queueSize: o.config.queueSize,
      retry: { initialMs: o.config.retry.initial, maxMs: o.config.retry.max, maxElapsedMs: o.config.retry.maxElapsed },
      logger: this.logger,
      runtime: o.retryRuntime,
    });
  }

  /**
   * A kept trace: its spans that take part in a departure make it an exemplar of that
   * departure's incident (pending or open). Cheap and synchronous; shared writes go out in
   * the background.
   */
  noteKept(traceId: string, spans: readonly SpanView[], nowMs: number): void {
    if (!this.o.config.enabled || this.o.config.exemplars === 0) return;
    // Mostly nothing departs, and then no span can take part: skip reading every span's service.
    if (this.o.baselines.departures(nowMs).length === 0) return;
    const keys = new Set<string>();
    for (const span of spans) for (const d of this.o.baselines.departuresOf(span, nowMs)) keys.add(d.key);
    for (const key of keys) this.state.addExemplar(key, traceId);
  }

  /**
   * One evaluation at `nowMs` (event time): when this instance leads, steps every incident and
   * queues the notifications. Resolves with them (tests, replay). Never throws: a failure is
   * counted and logged, and the next evaluation tries again.
   */
  async evaluate(nowMs: number): Promise<AlertNotification[]> {
    if (!this.o.config.enabled) return [];
    try {
      if (!(await this.state.lead(nowMs))) {
        this.counters.evaluationsAsFollower += 1;
        return [];
      }
      this.counters.evaluations += 1;
      const departures = this.o.baselines.departures(nowMs);
      const states = await this.state.incidents();
      const step = stepIncidents(states, departures, nowMs, {
        sustainMs: this.o.config.sustain,
        resolveAfterMs: this.o.config.resolveAfter,
        renotifyMs: this.o.config.renotify,
      });
      await this.state.saveIncidents(step.changed, step.removed);
      const out: AlertNotification[] = [];
      for (const event of step.events) {
        const n = await this.notification(event.type === 'fire' ? 'firing' : 'resolved', event.state, nowMs, event.type === 'fire' && event.renotification);
        if (event.type === 'fire' && !event.renotification) this.counters.incidentsOpened += 1;
        if (event.type === 'resolve') {
          this.counters.incidentsResolved += 1;
          await this.state.clearExemplars(event.state.key);
        }
        out.push(n);
        this.counters.notifications += 1;
        this.dispatcher.dispatch(n);
      }
      return out;
    } catch (err) {
      this.counters.evaluationFailures += 1;
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'alerts: evaluation failed; trying again at the next one');
      return [];
    }
  }

  /** Evaluates every `evaluateEvery` (wall clock) at `clock.now()`; evaluations never overlap. */
  start(clock: Clock): void {
    if (this.timer !== undefined || this.stopped || !this.o.config.enabled) return;
    this.timer = setInterval(() => {
      if (this.evaluating !== undefined) return;
      this.evaluating = this.evaluate(clock.now())
        .then(() => undefined)
        .finally(() => {
          this.evaluating = undefined;
        });
    }, this.o.config.evaluateEvery);
    this.timer.unref();
  }

  /**
   * Stops evaluating, gives queued notifications up to `flushTimeoutMs` to go out, closes the
   * sinks and gives up the lease. Idempotent.
   */
  async stop(flushTimeoutMs = 5_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.evaluating;
    const left = await this.dispatcher.flush(flushTimeoutMs);
    if (left > 0) this.logger.warn({ left }, 'alerts: notifications still queued at shutdown were not sent');
    await Promise.all(this.sinks.map((s) => s.close().catch(() => undefined)));
    await this.state.close();
  }

  private async notification(status: 'firing' | 'resolved', s: IncidentState, nowMs: number, renotification: boolean): Promise<AlertNotification> {
    const exemplarTraceIds = await this.state.exemplars(s.key, this.o.config.exemplars);
    const template = this.o.config.linkTemplate;
    const links = template === undefined ? [] : exemplarTraceIds.map((id) => template.split('{traceId}').join(id));
    const summary = status === 'firing' ? `${kindTitle(s.kind)}: ${s.summary}` : `Resolved ${kindTitle(s.kind).toLowerCase()}: ${s.summary}`;
    return {
      status,
      dedupKey: `tailsift/${s.key}`,
      service: s.service,
      operation: s.operation,
      kind: s.kind,
      startsAtMs: s.sinceMs,
      endsAtMs: status === 'resolved' ? nowMs : undefined,
      observed: s.observed,
      baseline: s.baseline,
      z: s.z,
      exemplarTraceIds,
      links,
      summary,
      renotification,
      atMs: nowMs,
    };
  }
}

