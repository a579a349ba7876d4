import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

/**
 * `span_count`: sampled when min_spans <= spans <= max_spans (both inclusive); a max_spans
 * of 0 means no upper bound, as in the Collector.
 */
export class SpanCountEvaluator implements PolicyEvaluator {
  constructor(
    private readonly minSpans: number,
    private readonly maxSpans: number = 0,
  ) {}

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    const count = trace.spans.length;
    if (count < this.minSpans) return 'not_sampled';
    return this.maxSpans === 0 || count <= this.maxSpans ? 'sampled' : 'not_sampled';
  }
}
