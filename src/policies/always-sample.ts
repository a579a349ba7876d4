import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

/** `always_sample`: every trace. */
export class AlwaysSampleEvaluator implements PolicyEvaluator {
  evaluate(_trace: TraceView, _ctx: EvalContext): Decision {
    return 'sampled';
  }
}
