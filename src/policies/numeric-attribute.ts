import type { AttrValue } from '../otlp/types.js';
import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { anyResourceOrSpan } from './trace-attributes.js';

export interface NumericAttributeOptions {
  readonly key: string;
  /** Inclusive; 0 or absent: no lower bound (the Collector cannot tell 0 from absent). */
  readonly minValue?: number;
  /** Inclusive; 0 or absent: no upper bound. */
  readonly maxValue?: number;
  readonly invertMatch?: boolean;
}

/**
 * `numeric_attribute`: a span or resource attribute `key` with min_value <= value <= max_value.
 *
 * As in the Collector, a bound of 0 means "no bound" (so `min_value: 0, max_value: 10` also
 * matches -5), and a value that is not a number reads as 0 (pcommon's Int() of a string or
 * bool), so it matches whenever 0 is in range. `invert_match` samples the trace when no
 * resource and no span is in range, including when the key is absent everywhere.
 *
 * Differs on purpose: a double attribute is compared by its value; the Collector reads a
 * double through Int() as 0. Our attribute view does not keep int and double apart.
 */
export class NumericAttributeEvaluator implements PolicyEvaluator {
  private readonly key: string;
  private readonly min: number;
  private readonly max: number;
  private readonly invertMatch: boolean;

  constructor(options: NumericAttributeOptions) {
    this.key = options.key;
    this.min = options.minValue ? options.minValue : -Infinity;
    this.max = options.maxValue ? options.maxValue : Infinity;
    this.invertMatch = options.invertMatch ?? false;
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    const inRange = (value: AttrValue): boolean => {
      const number = typeof value === 'number' ? value : 0;
      return number >= this.min && number <= this.max;
    };
    const matched = anyResourceOrSpan(trace, this.key, inRange, inRange);
    return matched !== this.invertMatch ? 'sampled' : 'not_sampled';
  }
}
