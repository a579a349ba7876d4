import type { SpanAttribute } from '../otlp/annotate-spans.js';

/**
 * The name of the policy that sampled the trace. The Collector's tail_sampling processor uses
 * this attribute name (behind its `processor.tailsamplingprocessor.recordpolicy` feature gate)
 * on the instrumentation scope; tailsift puts it on every kept span, where span searches in
 * trace stores find it.
 */
export const POLICY_ATTRIBUTE = 'tailsampling.policy';

/**
 * The sample rate (1 in N) of the probabilistic or dynamic policy that kept the trace, as a
 * double, so counts can be scaled back up downstream. Absent when a policy kept the trace
 * for what it is (an error, a slow trace), not as a random share.
 */
export const SAMPLE_RATE_ATTRIBUTE = 'tailsift.sample_rate';

/** The attributes that tell why a trace was kept, for its spans. */
export function decisionAttributes(decision: { readonly policy: string | undefined; readonly sampleRate?: number }): SpanAttribute[] {
  const attrs: SpanAttribute[] = [];
  if (decision.policy !== undefined) attrs.push({ key: POLICY_ATTRIBUTE, value: decision.policy });
  if (decision.sampleRate !== undefined) attrs.push({ key: SAMPLE_RATE_ATTRIBUTE, value: decision.sampleRate });
  return attrs;
}
