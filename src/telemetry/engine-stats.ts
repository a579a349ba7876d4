/**
 * Counters every stage updates and the status line, /status and /metrics read.
 * Every span ends counted here: kept, dropped by a decision, or rejected with a reason.
 */
export class EngineStats {
  spansReceived = 0;
  requestsAccepted = 0;
  /** Spans refused at intake, by reason (buffer_full, malformed, too_large, ...). */
  readonly spansRejected = new Map<string, number>();
  /** Decided traces, by the policy that kept them. */
  readonly tracesKept = new Map<string, number>();
  /** Decided traces, by the drop policy that matched or NO_MATCH. */
  readonly tracesDropped = new Map<string, number>();
  spansKept = 0;
  spansDropped = 0;
  lateSpansKept = 0;
  lateSpansDropped = 0;
  /** Failed forwards, by sink name. */
  readonly forwardErrors = new Map<string, number>();
  /** Spans received more than once (at-least-once redelivery) and forwarded once. */
  duplicateSpans = 0;
  /** Traces given back to the buffer because a sink could not take them. */
  tracesRetried = 0;
  /**
   * Traces decided early because they reached a per-trace limit, by the limit's name in the
   * policy file (`max_spans_per_trace`, `maximum_trace_size_bytes`).
   */
  readonly tracesOverLimit = new Map<string, number>();
  /** Attribute values cut to `limits.maxAttributeValueLength` at intake. */
  attributeValuesTruncated = 0;
  /** Decision delay, from due time to decision: count, sum and max in ms. */
  decisionDelayCount = 0;
  decisionDelaySumMs = 0;
  decisionDelayMaxMs = 0;

  static readonly NO_MATCH = '(no policy matched)';

  count(map: Map<string, number>, key: string, n = 1): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }

  recordDecisionDelay(ms: number): void {
    const d = Math.max(0, ms);
    this.decisionDelayCount++;
    this.decisionDelaySumMs += d;
    if (d > this.decisionDelayMaxMs) this.decisionDelayMaxMs = d;
  }

  sum(map: ReadonlyMap<string, number>): number {
    let s = 0;
    for (const v of map.values()) s += v;
    return s;
  }
}
