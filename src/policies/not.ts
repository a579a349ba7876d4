import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

/** `not`: the opposite of its one sub-policy (sampled ↔ not sampled). */
export class NotEvaluator implements PolicyEvaluator {
  constructor(private readonly subPolicy: PolicyEvaluator) {}

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    const decision = this.subPolicy.evaluate(trace, ctx);
    if (decision === 'sampled') return 'not_sampled';
    if (decision === 'not_sampled') return 'sampled';
    return decision;
  }
}
