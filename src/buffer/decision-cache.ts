import type { RecordedDecision } from './trace-buffer.js';

/**
 * Decisions remembered so that late spans follow their trace's decision, as the Collector's
 * decision cache does. Kept and dropped decisions have separate bounds (dropped traces are
 * far more numerous); past a bound the oldest decision is forgotten, and a late span of a
 * forgotten trace starts a new trace.
 */
export class DecisionCache {
  private readonly sampled = new Map<string, RecordedDecision>();
  private readonly notSampled = new Map<string, RecordedDecision>();

  constructor(
    private readonly sampledSize: number,
    private readonly notSampledSize: number,
  ) {}

  get(traceId: string): RecordedDecision | undefined {
    return this.sampled.get(traceId) ?? this.notSampled.get(traceId);
  }

  set(traceId: string, decision: RecordedDecision): void {
    const [map, bound] = decision.keep ? [this.sampled, this.sampledSize] : [this.notSampled, this.notSampledSize];
    if (bound <= 0) return;
    map.delete(traceId);
    map.set(traceId, decision);
    if (map.size > bound) {
      // Maps iterate in insertion order, so the first key is the oldest decision.
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
  }

  get size(): number {
    return this.sampled.size + this.notSampled.size;
  }
}
