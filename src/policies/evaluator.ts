import type { SpanView } from '../otlp/types.js';

/**
 * The evaluator contract: one small function from a whole trace to a Decision over a closed
 * set, as in the OpenTelemetry Collector's tail_sampling processor. Combinators (and, not,
 * drop, composite) are evaluators too.
 */
export type Decision =
  /** The policy wants the trace kept. */
  | 'sampled'
  /** The policy does not want the trace (it stays a candidate for other policies). */
  | 'not_sampled'
  /** A drop policy matched: the trace is dropped whatever other policies say. */
  | 'dropped';

/** A complete (or due) trace as policies see it. */
export interface TraceView {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  readonly spans: readonly SpanView[];
  /** Protobuf bytes of the trace's spans as buffered (for bytes-based policies). */
  readonly byteSize: number;
}

/** What an evaluator may read besides the trace. Time is injected so replay runs in event time. */
export interface EvalContext {
  /** The decision time, Unix milliseconds (wall clock live, event time in replay). */
  readonly nowMs: number;
}

export interface PolicyEvaluator {
  evaluate(trace: TraceView, ctx: EvalContext): Decision;
}

/** The outcome of a whole policy set for one trace. */
export interface TraceDecision {
  readonly keep: boolean;
  /**
   * Keep: the first policy (in file order) that sampled the trace.
   * Drop: the drop policy that matched, or undefined when no policy sampled it.
   */
  readonly policy: string | undefined;
  /** Set when a probabilistic (or dynamic) policy kept the trace: 1 / probability. */
  readonly sampleRate?: number;
}

/** A loaded, validated policy file, ready to decide traces. */
export interface PolicySet {
  /** Names of all top-level policies, in file order (for metrics and the status line). */
  readonly policyNames: readonly string[];
  decide(trace: TraceView, ctx: EvalContext): TraceDecision;
}
