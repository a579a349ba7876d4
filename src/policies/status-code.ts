import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { anySpan } from './trace-attributes.js';

export type StatusCodeName = 'UNSET' | 'OK' | 'ERROR';

/** OTLP StatusCode numbers (SpanView.statusCode). */
export const STATUS_CODES: Readonly<Record<StatusCodeName, number>> = { UNSET: 0, OK: 1, ERROR: 2 };

/** `status_code`: sampled when any span has one of the listed status codes. */
export class StatusCodeEvaluator implements PolicyEvaluator {
  private readonly codes: ReadonlySet<number>;

  constructor(statusCodes: readonly StatusCodeName[]) {
    this.codes = new Set(statusCodes.map((name) => STATUS_CODES[name]));
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    return anySpan(trace, (span) => this.codes.has(span.statusCode)) ? 'sampled' : 'not_sampled';
  }
}
