import type { EvaluatorContext } from './create-evaluator.js';
import type { Problem } from '../config/yaml-validation.js';
import { PolicyBuildError, createEvaluator } from './create-evaluator.js';
import type { Decision, EvalContext, PolicyEvaluator, PolicySet, TraceDecision, TraceView } from './evaluator.js';
import { sampleRateOf } from './keep-probability.js';
import type { PolicyFileConfig } from './policy-schema.js';

/** One top-level policy of a policy file, built. */
export interface NamedPolicy {
  readonly name: string;
  readonly evaluator: PolicyEvaluator;
  /** A `drop` policy: evaluated first, and its drop is final. */
  readonly isDrop: boolean;
}

/** One top-level policy's own decision on a trace (see `OrderedPolicySet.evaluateEach`). */
export interface PolicyOutcome {
  readonly policy: string;
  /** 'error' when the evaluator threw. */
  readonly decision: Decision | 'error';
}

export interface PolicySetOptions {
  /** `sample_on_first_match`: stop evaluating at the first policy that samples. */
  readonly sampleOnFirstMatch?: boolean;
  /**
   * `maximum_trace_size_bytes`: a larger trace is not kept and no policy runs. The Collector
   * also frees such a trace the moment it grows past the limit; here the buffer holds it until
   * it is due, so this limits what is kept, not memory.
   */
  readonly maxTraceSizeBytes?: number;
}

/**
 * The Collector's final decision over a list of policies:
 * - drop policies are evaluated first (in file order); the first that drops ends the
 *   evaluation and the trace is dropped, whatever the others would say;
 * - then the other policies in file order; with `sample_on_first_match` the evaluation stops
 *   at the first that samples (later stateful policies such as rate_limiting are not charged);
 * - the trace is kept when any policy sampled it, and the first one that did is named;
 * - otherwise it is not kept.
 * `invert_match` needs no rule of its own: the Collector's inverted decisions are gone (its
 * `disableinvertdecisions` gate is stable), so an inverted match is a plain sampled or not.
 *
 * A policy that throws (bad data in a span) is skipped and counted, as the Collector skips a
 * policy that returns an error; it must not stop the other policies from deciding.
 */
export class OrderedPolicySet implements PolicySet {
  readonly policyNames: readonly string[];
  private readonly inFileOrder: readonly NamedPolicy[];
  private readonly ordered: readonly NamedPolicy[];
  private readonly sampleOnFirstMatch: boolean;
  private readonly maxTraceSizeBytes: number;
  private readonly errors = new Map<string, number>();

  constructor(policies: readonly NamedPolicy[], options: PolicySetOptions = {}) {
    this.policyNames = policies.map((p) => p.name);
    this.inFileOrder = policies;
    this.ordered = [...policies.filter((p) => p.isDrop), ...policies.filter((p) => !p.isDrop)];
    this.sampleOnFirstMatch = options.sampleOnFirstMatch ?? false;
    this.maxTraceSizeBytes = options.maxTraceSizeBytes && options.maxTraceSizeBytes > 0 ? options.maxTraceSizeBytes : Infinity;
  }

  decide(trace: TraceView, ctx: EvalContext): TraceDecision {
    if (trace.byteSize > this.maxTraceSizeBytes) return { keep: false, policy: undefined };
    let firstSampled: NamedPolicy | undefined;
    for (const policy of this.ordered) {
      let decision;
      try {
        decision = policy.evaluator.evaluate(trace, ctx);
      } catch {
        this.errors.set(policy.name, (this.errors.get(policy.name) ?? 0) + 1);
        continue;
      }
      if (decision === 'dropped') return { keep: false, policy: policy.name };
      if (decision === 'sampled') {
        firstSampled ??= policy;
        if (this.sampleOnFirstMatch) break;
      }
    }
    if (firstSampled === undefined) return { keep: false, policy: undefined };
    const sampleRate = sampleRateOf(firstSampled.evaluator);
    return sampleRate === undefined ? { keep: true, policy: firstSampled.name } : { keep: true, policy: firstSampled.name, sampleRate };
  }

  /**
   * Every top-level policy's own decision on the trace, in file order, with no short cut: a
   * drop does not end the evaluation, `sample_on_first_match` does not stop it, and
   * `maximum_trace_size_bytes` is not applied. For analysis (replay's "which policies would
   * keep this trace" counts), never for deciding. Stateful policies (rate_limiting,
   * bytes_limiting, composite, dynamic) are charged for every trace evaluated here, so call it
   * on a set of its own, built from the same config, not on the set that decides.
   */
  evaluateEach(trace: TraceView, ctx: EvalContext): PolicyOutcome[] {
    const outcomes: PolicyOutcome[] = [];
    for (const policy of this.inFileOrder) {
      let decision: Decision | 'error';
      try {
        decision = policy.evaluator.evaluate(trace, ctx);
      } catch {
        decision = 'error';
      }
      outcomes.push({ policy: policy.name, decision });
    }
    return outcomes;
  }

  /** Evaluations that threw, per policy name, since the set was built (for metrics). */
  evaluationErrors(): ReadonlyMap<string, number> {
    return this.errors;
  }
}

/**
 * The policy set a validated policy file describes, in file order.
 * @throws PolicyBuildError for a policy this version cannot run (see `tryBuildPolicySet`).
 */
export function buildPolicySet(config: PolicyFileConfig, context: EvaluatorContext = {}): OrderedPolicySet {
  const built = tryBuildPolicySet(config, context);
  if (!built.ok) throw built.error;
  return built.policySet;
}

/**
 * Builds the policy set, or says which policies cannot be built (one problem per top-level
 * policy, with its path in the policy file), so a file reports all of them at once.
 */
export function tryBuildPolicySet(
  config: PolicyFileConfig,
  context: EvaluatorContext = {},
): { readonly ok: true; readonly policySet: OrderedPolicySet } | { readonly ok: false; readonly problems: readonly Problem[]; readonly error: PolicyBuildError } {
  const policies: NamedPolicy[] = [];
  const errors: PolicyBuildError[] = [];
  config.policies.forEach((policy, index) => {
    try {
      policies.push({ name: policy.name, evaluator: createEvaluator(policy, ['policies', index], context), isDrop: policy.type === 'drop' });
    } catch (err) {
      if (!(err instanceof PolicyBuildError)) throw err;
      errors.push(err);
    }
  });
  if (errors.length > 0) return { ok: false, problems: errors.map((e) => ({ path: e.path, message: e.message })), error: errors[0] };
  const policySet = new OrderedPolicySet(policies, {
    sampleOnFirstMatch: config.sample_on_first_match,
    maxTraceSizeBytes: config.maximum_trace_size_bytes || undefined,
  });
  return { ok: true, policySet };
}
