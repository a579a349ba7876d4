import type { SpanAttribute } from '../otlp/annotate-spans.js';
import type { SpanAnomaly, TraceAnomaly } from './trace-anomaly.js';

/** The trace's anomaly score (a double on the z scale) on kept anomalous traces' spans. */
export const ANOMALY_SCORE_ATTRIBUTE = 'tailsift.anomaly.score';
/** Why the trace is anomalous, e.g. `llm-inference "chat" 2.4s; baseline p50 410ms p99 690ms`. */
export const ANOMALY_REASON_ATTRIBUTE = 'tailsift.anomaly.reason';

/** The attributes that say why an anomalous trace was kept; none for a trace with no anomaly. */
export function anomalyAttributes(anomaly: TraceAnomaly | undefined): SpanAttribute[] {
  if (anomaly === undefined || anomaly.top === undefined) return [];
  return [
    { key: ANOMALY_SCORE_ATTRIBUTE, value: Math.round(anomaly.score * 100) / 100 },
    { key: ANOMALY_REASON_ATTRIBUTE, value: reasonOf(anomaly, anomaly.top) },
  ];
}

/**
 * The top span's reason, saying how many spans were judged when the trace's score was
 * corrected for them: the span's own reason may describe something rarer than the score says.
 */
function reasonOf(anomaly: TraceAnomaly, top: SpanAnomaly): string {
  if (anomaly.judgedSpans <= 1 || top.kind === 'new_operation' || anomaly.score >= top.score) return top.reason;
  const others = anomaly.anomalousSpans > 1 ? `${anomaly.anomalousSpans} of ${anomaly.judgedSpans} judged spans unusual` : `most unusual of ${anomaly.judgedSpans} judged spans`;
  return `${top.reason}; ${others}`;
}
