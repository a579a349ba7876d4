import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

/**
 * `drop`: when every sub-policy samples the trace, the trace is dropped whatever any other
 * policy says (the policy set evaluates drop policies first and stops at a drop). Otherwise
 * it has no opinion (not sampled).
 */
export class DropEvaluator implements PolicyEvaluator {
  constructor(private readonly subPolicies: readonly PolicyEvaluator[]) {}

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    for (const sub of this.subPolicies) {
      if (sub.evaluate(trace, ctx) !== 'sampled') return 'not_sampled';
    }
    return 'dropped';
  }
}
