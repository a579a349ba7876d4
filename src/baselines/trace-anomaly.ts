import type { WindowFigures } from './operation-baseline.js';

/** What the `anomaly` policy can look for (the policy file's `kinds`). */
export type AnomalyKind = 'latency' | 'error' | 'new_operation';

export const ANOMALY_KINDS: readonly AnomalyKind[] = ['latency', 'error', 'new_operation'];

/** Why one span is anomalous. */
export interface SpanAnomaly {
  readonly kind: AnomalyKind;
  /** On the z scale (see anomaly-scores.ts). */
  readonly score: number;
  readonly reason: string;
  readonly service: string;
  readonly operation: string;
  readonly spanId: string;
}

/** A trace's anomaly: its score, its most anomalous span, and how many spans passed the threshold. */
export interface TraceAnomaly {
  /**
   * The trace's score, on the z scale: its span scores corrected for how many spans were judged
   * (`traceScore` in anomaly-scores.ts), so a trace of many spans reaches a threshold by chance
   * no more often than one of a single span. A span taking part in a departure (its score the
   * departure's z, a test of the operation's recent window) and a new operation or call edge
   * count as they are.
   * At most the top span's score; equal to it for a single judged span. 0 when nothing could
   * be judged or nothing stood out.
   */
  readonly score: number;
  /** Spans scoring at or above the threshold the trace was scored with (each on its own). */
  readonly anomalousSpans: number;
  /** Spans judged against a baseline (latency or errors): how many tests the score is corrected for. */
  readonly judgedSpans: number;
  /** The span with the highest score of its own. */
  readonly top: SpanAnomaly | undefined;
}

export const NO_ANOMALY: TraceAnomaly = { score: 0, anomalousSpans: 0, judgedSpans: 0, top: undefined };

/** What an operation's recent window departs from its baseline in. */
export type DepartureKind = 'latency' | 'error_rate';

/** An operation whose recent window departs significantly from its baseline, now. */
export interface Departure {
  /** Stable across evaluations and instances: `<service>/<operation>/<kind>`. */
  readonly key: string;
  readonly opId: string;
  readonly service: string;
  readonly operation: string;
  readonly kind: DepartureKind;
  /** Test statistic on the z scale: rank test (latency) or binomial test (error rate). */
  readonly z: number;
  readonly observed: WindowFigures;
  readonly baseline: WindowFigures;
  /** One line for people, e.g. `checkout "POST /pay" latency p50 2.1s p99 4.8s; baseline p50 410ms p99 690ms`. */
  readonly summary: string;
}
