import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import type { RandomShareEvaluator } from './keep-probability.js';
import { keepProbabilityOf } from './keep-probability.js';

/**
 * `and`: sampled when every sub-policy samples; stops at the first that does not (so a
 * stateful sub-policy after it, e.g. rate_limiting, is not charged). An empty list would
 * sample everything in the Collector; the policy file refuses it.
 */
export class AndEvaluator implements RandomShareEvaluator {
  constructor(private readonly subPolicies: readonly PolicyEvaluator[]) {}

  /**
   * Independent random shares multiply: 10% of the traces that pass a 50% share is 5%. Read
   * when needed, because a dynamic sub-policy's share changes from trace to trace.
   */
  get keepProbability(): number | undefined {
    let product: number | undefined;
    for (const sub of this.subPolicies) {
      const share = keepProbabilityOf(sub);
      if (share !== undefined) product = (product ?? 1) * share;
    }
    return product;
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    for (const sub of this.subPolicies) {
      if (sub.evaluate(trace, ctx) !== 'sampled') return 'not_sampled';
    }
    return 'sampled';
  }
}
