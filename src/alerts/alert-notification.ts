import type { WindowFigures } from '../baselines/operation-baseline.js';
import type { DepartureKind } from '../baselines/trace-anomaly.js';

/** One notification about one incident, as every sink receives it. */
export interface AlertNotification {
  readonly status: 'firing' | 'resolved';
  /** Stable per incident subject across instances and restarts: `tailsift/<service>/<operation>/<kind>`. */
  readonly dedupKey: string;
  readonly service: string;
  readonly operation: string;
  readonly kind: DepartureKind;
  /** When the departure began (event time, ms). */
  readonly startsAtMs: number;
  /** When the incident resolved; set on resolved notifications. */
  readonly endsAtMs: number | undefined;
  /** The recent window when last seen departing. */
  readonly observed: WindowFigures;
  readonly baseline: WindowFigures;
  /** Test statistic of the departure (z scale) when last seen. */
  readonly z: number;
  /** Trace ids of kept traces that took part, most recent first. */
  readonly exemplarTraceIds: readonly string[];
  /** Exemplar links from the link template; empty without one. */
  readonly links: readonly string[];
  readonly summary: string;
  /** A firing notification for an incident already notified (the renotify interval passed). */
  readonly renotification: boolean;
  /** Time the notification was made (event time, ms). */
  readonly atMs: number;
}

/**
 * One line of the alert record (the file sink, the webhook body and `replay --alerts`).
 * Times are RFC 3339 in event time.
 */
export interface AlertRecord {
  readonly status: 'firing' | 'resolved';
  readonly service: string;
  readonly operation: string;
  readonly kind: DepartureKind;
  readonly startsAt: string;
  readonly endsAt?: string;
  readonly observed: WindowFigures;
  readonly baseline: WindowFigures;
  readonly exemplarTraceIds: readonly string[];
  readonly summary: string;
  readonly dedupKey: string;
  readonly links: readonly string[];
  readonly renotification: boolean;
}

export function alertRecord(n: AlertNotification): AlertRecord {
  return {
    status: n.status,
    service: n.service,
    operation: n.operation,
    kind: n.kind,
    startsAt: new Date(n.startsAtMs).toISOString(),
    ...(n.endsAtMs === undefined ? {} : { endsAt: new Date(n.endsAtMs).toISOString() }),
    observed: n.observed,
    baseline: n.baseline,
    exemplarTraceIds: n.exemplarTraceIds,
    summary: n.summary,
    dedupKey: n.dedupKey,
    links: n.links,
    renotification: n.renotification,
  };
}

/** One line of JSON Lines: the record of one notification, as the file sink and `replay --alerts` write it. */
export function alertLine(n: AlertNotification): string {
  return `${JSON.stringify(alertRecord(n))}\n`;
}

/** What a departure kind is called in titles. */
export function kindTitle(kind: DepartureKind): string {
  return kind === 'latency' ? 'Latency shift' : 'Error-rate spike';
}
