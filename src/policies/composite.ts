import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

export interface CompositeSubPolicy {
  readonly name: string;
  readonly evaluator: PolicyEvaluator;
  /** Spans per second this sub-policy may sample. */
  readonly spansPerSecond: number;
}

/**
 * `composite`: sub-policies in the order of `composite_sub_policy`, each with a share of
 * `max_total_spans_per_second` (from `rate_allocation`). The first sub-policy that samples a
 * trace decides: the trace is sampled if its spans still fit that sub-policy's share of the
 * current second (and the total), otherwise it is not, and later sub-policies are not asked.
 * Counters restart every wall-clock (or, in replay, event-time) second.
 *
 * As in the Collector, the total is checked against each sub-policy's own count, so the sum
 * of the shares is what bounds the total; and `policy_order` is validated but the evaluation
 * follows the order of `composite_sub_policy`.
 */
export class CompositeEvaluator implements PolicyEvaluator {
  private readonly sampledThisSecond: number[];
  private currentSecond: number | undefined;

  constructor(
    private readonly maxTotalSpansPerSecond: number,
    private readonly subPolicies: readonly CompositeSubPolicy[],
  ) {
    this.sampledThisSecond = subPolicies.map(() => 0);
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    const second = Math.floor(ctx.nowMs / 1000);
    if (second !== this.currentSecond) {
      this.currentSecond = second;
      this.sampledThisSecond.fill(0);
    }
    for (let i = 0; i < this.subPolicies.length; i++) {
      const sub = this.subPolicies[i];
      if (sub.evaluator.evaluate(trace, ctx) !== 'sampled') continue;
      const ifSampled = this.sampledThisSecond[i] + trace.spans.length;
      if (ifSampled <= sub.spansPerSecond && ifSampled <= this.maxTotalSpansPerSecond) {
        this.sampledThisSecond[i] = ifSampled;
        return 'sampled';
      }
      // Over budget: not sampled, and the counter is left alone so a smaller trace may fit.
      return 'not_sampled';
    }
    return 'not_sampled';
  }
}

/**
 * The Collector's allocation: a sub-policy named in `rate_allocation` with a positive percent
 * gets that percent of the total; with a percent of 0 or less, an equal share (total divided
 * by the number of sub-policies); not named at all, nothing. Fractions are cut, as Go's
 * int64 conversion does.
 */
export function compositeAllocations(
  maxTotalSpansPerSecond: number,
  subPolicyNames: readonly string[],
  rateAllocation: readonly { readonly policy: string; readonly percent: number }[],
): number[] {
  const byName = new Map<string, number>();
  const equalShare = maxTotalSpansPerSecond / subPolicyNames.length;
  for (const allocation of rateAllocation) {
    byName.set(allocation.policy, allocation.percent > 0 ? (allocation.percent / 100) * maxTotalSpansPerSecond : equalShare);
  }
  return subPolicyNames.map((name) => Math.trunc(byName.get(name) ?? 0));
}
