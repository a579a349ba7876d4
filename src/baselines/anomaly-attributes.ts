import type { SpanAttribute } from '../otlp/annotate-spans.js';
import type { TraceAnomaly } from './trace-anomaly.js';

/** The trace's anomaly score (a double on the z scale) on kept anomalous traces' spans. */
export const ANOMALY_SCORE_ATTRIBUTE = 'tailsift.anomaly.score';
/** Why the trace is anomalous, e.g. `llm-inference "chat" 2.4s; baseline p50 410ms p99 690ms`. */
export const ANOMALY_REASON_ATTRIBUTE = 'tailsift.anomaly.reason';

/** The attributes that say why an anomalous trace was kept; none for a trace with no anomaly. */
export function anomalyAttributes(anomaly: TraceAnomaly | undefined): SpanAttribute[] {
  if (anomaly === undefined || anomaly.top === undefined) return [];
  return [
    { key: ANOMALY_SCORE_ATTRIBUTE, value: Math.round(anomaly.score * 100) / 100 },
    { key: ANOMALY_REASON_ATTRIBUTE, value: anomaly.top.reason },
  ];
}
