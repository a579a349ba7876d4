import type { DecodedRequest } from '../otlp/types.js';

/**
 * An alert raised during a replay, at an event time. This is the shape replay writes to
 * `--alerts` (one JSON object per line) and draws on the report's timeline.
 */
export interface ReplayAlert {
  /** Event time the alert was raised, Unix ms. */
  readonly atMs: number;
  readonly service: string;
  /** The operation (span name) concerned, when the alert is about one. */
  readonly operation?: string;
  /** What changed, e.g. `latency`, `errors`, `throughput`. */
  readonly kind: string;
  /** One line for people: what changed against the baseline. */
  readonly summary: string;
  /** Kept traces that show the problem. */
  readonly exampleTraceIds: readonly string[];
}

/**
 * Where alerts come from during a replay: the seam for the baselines stage (per service and
 * operation latency, error and throughput baselines, and the incidents raised from them),
 * which replay does not run yet. Baselines see every span before sampling, so a source sees
 * every request, in order, with the event time replay has reached.
 */
export interface ReplayAlertSource {
  /** Named in the summary and the report. */
  readonly name: string;
  /** Every request read, before any sampling decision. */
  observe(request: DecodedRequest, eventNowMs: number): void;
  /** Alerts raised since the last call, up to `eventNowMs`; called after each request and at the end. */
  take(eventNowMs: number): readonly ReplayAlert[];
}

/** Why no alerts appear: said once on stderr for `--alerts`, and in the report. */
export const ALERTS_UNAVAILABLE = 'alerts need the baselines stage, which replay does not run yet';

export function alertLines(alerts: readonly ReplayAlert[]): string {
  return alerts.map((a) => `${JSON.stringify(a)}\n`).join('');
}
