import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { evaluateOttl, parseOttlCondition } from './ottl-expression.js';
import type { OttlNode } from './ottl-expression.js';

export type OttlErrorMode = 'ignore' | 'silent' | 'propagate';

/**
 * `ottl_condition`: sampled when any span meets any of the `span` conditions, or any span
 * event meets any of the `spanevent` conditions (conditions in a list are alternatives, as
 * in the Collector). Conditions are a safe OTTL subset (see ottl-expression.ts), parsed when
 * the policy file loads, so a condition outside the subset is a validation problem, not a
 * runtime surprise. Evaluation cannot fail on data, so `error_mode` only matters for what
 * the Collector would do; it is accepted and kept for compatibility.
 */
export class OttlConditionEvaluator implements PolicyEvaluator {
  private readonly spanConditions: readonly OttlNode[];
  private readonly eventConditions: readonly OttlNode[];

  constructor(spanConditions: readonly string[], spanEventConditions: readonly string[]) {
    this.spanConditions = spanConditions.map((text) => parseOttlCondition(text, 'span'));
    this.eventConditions = spanEventConditions.map((text) => parseOttlCondition(text, 'spanevent'));
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    for (const span of trace.spans) {
      for (const condition of this.spanConditions) if (evaluateOttl(condition, { span })) return 'sampled';
      if (this.eventConditions.length === 0) continue;
      for (const event of span.events()) {
        for (const condition of this.eventConditions) if (evaluateOttl(condition, { span, event })) return 'sampled';
      }
    }
    return 'not_sampled';
  }
}
