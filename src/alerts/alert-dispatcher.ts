import { TailsiftError } from '../errors.js';
import { runWithRetry, type RetryRuntime, type RetrySettings } from '../forward/retry.js';
import type { Logger } from '../telemetry/logger.js';
import type { AlertNotification } from './alert-notification.js';
import type { AlertSink } from './sinks/alert-sink.js';

/** What happened to notifications, per sink name. */
export interface DispatchCounters {
  readonly delivered: Map<string, number>;
  /** Given up after retries, or refused for good. */
  readonly failed: Map<string, number>;
  /** Not queued: the sink's queue was full. */
  readonly dropped: Map<string, number>;
  /** Replaced in the queue by newer news of the same incident before they were sent. */
  readonly superseded: Map<string, number>;
}

/** Drops are logged on the first and then on every this-many-th, so a dead sink does not flood the log. */
const DROP_LOG_EVERY = 100;

/**
 * Hands notifications to the sinks without ever making the caller wait: each sink has a
 * bounded queue and its own worker, which sends one notification at a time with retries
 * (backoff, Retry-After honoured). A slow or dead sink holds up only its own queue.
 *
 * Queues are keyed by incident: newer news of an incident replaces the queued one (the
 * receiver only needs the latest), so a queue holds at most one notification per incident.
 * Past `queueSize` incidents the new notification is dropped, counted and logged. Only
 * notifications are ever dropped here, never spans.
 */
export class AlertDispatcher {
  readonly counters: DispatchCounters = { delivered: new Map(), failed: new Map(), dropped: new Map(), superseded: new Map() };
  private readonly lanes: Lane[];

  constructor(
    sinks: readonly AlertSink[],
    private readonly options: { queueSize: number; retry: RetrySettings; logger: Logger; runtime?: RetryRuntime },
  ) {
    this.lanes = sinks.map((sink) => ({ sink, queue: new Map(), running: undefined }));
  }

  get sinkNames(): string[] {
    return this.lanes.map((l) => l.sink.name);
  }

  dispatch(n: AlertNotification): void {
    for (const lane of this.lanes) {
      const name = lane.sink.name;
      if (lane.queue.has(n.dedupKey)) {
        lane.queue.delete(n.dedupKey);
        bump(this.counters.superseded, name);
      } else if (lane.queue.size >= this.options.queueSize) {
        const dropped = bump(this.counters.dropped, name);
        if (dropped === 1 || dropped % DROP_LOG_EVERY === 0) {
          this.options.logger.warn({ sink: name, dropped, queueSize: this.options.queueSize, incident: n.dedupKey }, 'alert sink is behind; notifications dropped');
        }
        continue;
      }
      lane.queue.set(n.dedupKey, n);
      lane.running ??= this.drain(lane);
    }
  }

  /** Notifications waiting, per sink. */
  queued(): Map<string, number> {
    return new Map(this.lanes.map((l) => [l.sink.name, l.queue.size]));
  }

  /** Waits until every queue is empty, or `timeoutMs` passed. Resolves with how many are left. */
  async flush(timeoutMs: number): Promise<number> {
    const left = () => this.lanes.reduce((n, l) => n + l.queue.size + (l.running === undefined ? 0 : 1), 0);
    const all = Promise.all(this.lanes.map((l) => l.running));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([all, timeout]);
    clearTimeout(timer);
    return left();
  }

  private async drain(lane: Lane): Promise<void> {
    try {
      for (;;) {
        const next = lane.queue.entries().next();
        if (next.done === true) return;
        const [key, n] = next.value;
        lane.queue.delete(key);
        await this.deliver(lane.sink, n);
      }
    } finally {
      lane.running = undefined;
    }
  }

  private async deliver(sink: AlertSink, n: AlertNotification): Promise<void> {
    try {
      await runWithRetry(() => sink.send(n), this.options.retry, this.options.runtime);
      bump(this.counters.delivered, sink.name);
    } catch (err) {
      bump(this.counters.failed, sink.name);
      this.options.logger.warn(
        { sink: sink.name, incident: n.dedupKey, status: n.status, err: err instanceof Error ? err.message : String(err), retriable: err instanceof TailsiftError ? err.retriable : undefined },
        'alert notification not delivered',
      );
    }
  }
}

interface Lane {
  readonly sink: AlertSink;
  readonly queue: Map<string, AlertNotification>;
  running: Promise<void> | undefined;
}

function bump(map: Map<string, number>, key: string): number {
  const value = (map.get(key) ?? 0) + 1;
  map.set(key, value);
  return value;
}
