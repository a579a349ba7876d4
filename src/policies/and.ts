import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import type { RandomShareEvaluator } from './keep-probability.js';
import { keepProbabilityOf } from './keep-probability.js';

/**
 * `and`: sampled when every sub-policy samples; stops at the first that does not (so a
 * stateful sub-policy after it, e.g. rate_limiting, is not charged). An empty list would
 * sample everything in the Collector; the policy file refuses it.
 */
export class AndEvaluator implements RandomShareEvaluator {
  readonly keepProbability: number | undefined;

  constructor(private readonly subPolicies: readonly PolicyEvaluator[]) {
    // Independent random shares multiply: 10% of the traces that pass a 50% share is 5%.
    const shares = subPolicies.map(keepProbabilityOf).filter((p): p is number => p !== undefined);
    this.keepProbability = shares.length === 0 ? undefined : shares.reduce((a, b) => a * b, 1);
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    for (const sub of this.subPolicies) {
      if (sub.evaluate(trace, ctx) !== 'sampled') return 'not_sampled';
    }
    return 'sampled';
  }
}
