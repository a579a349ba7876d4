import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { anySpan } from './trace-attributes.js';

/** W3C trace-context: bit 0 of the trace flags is "sampled". */
const SAMPLED_FLAG = 0x01;

/**
 * `trace_flags`: sampled when any span carries the W3C sampled flag (the low byte of the
 * span's `flags`), i.e. some upstream head sampler already chose the trace.
 */
export class TraceFlagsEvaluator implements PolicyEvaluator {
  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    return anySpan(trace, (span) => (span.flags & 0xff & SAMPLED_FLAG) !== 0) ? 'sampled' : 'not_sampled';
  }
}
