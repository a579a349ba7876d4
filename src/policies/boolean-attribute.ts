import type { AttrValue } from '../otlp/types.js';
import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { anyResourceOrSpan } from './trace-attributes.js';

export interface BooleanAttributeOptions {
  readonly key: string;
  readonly value: boolean;
  readonly invertMatch?: boolean;
}

/**
 * `boolean_attribute`: a span or resource attribute `key` equal to `value`.
 *
 * As in the Collector, an attribute of another type reads as false (pcommon's Bool()), so
 * `value: false` also matches `key: "yes"`. `invert_match` samples the trace when no resource
 * and no span matches, including when the key is absent everywhere.
 */
export class BooleanAttributeEvaluator implements PolicyEvaluator {
  private readonly key: string;
  private readonly value: boolean;
  private readonly invertMatch: boolean;

  constructor(options: BooleanAttributeOptions) {
    this.key = options.key;
    this.value = options.value;
    this.invertMatch = options.invertMatch ?? false;
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    const equals = (attribute: AttrValue): boolean => (attribute === true) === this.value;
    const matched = anyResourceOrSpan(trace, this.key, equals, equals);
    return matched !== this.invertMatch ? 'sampled' : 'not_sampled';
  }
}
