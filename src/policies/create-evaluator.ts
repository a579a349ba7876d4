import type { Baselines } from '../baselines/baselines.js';
import type { PathSegment } from '../config/yaml-validation.js';
import { TailsiftError } from '../errors.js';
import { AlwaysSampleEvaluator } from './always-sample.js';
import { AndEvaluator } from './and.js';
import { AnomalyEvaluator } from './anomaly.js';
import { BooleanAttributeEvaluator } from './boolean-attribute.js';
import { BytesLimitingEvaluator } from './bytes-limiting.js';
import { CompositeEvaluator, compositeAllocations } from './composite.js';
import { DropEvaluator } from './drop.js';
import { DynamicEvaluator } from './dynamic.js';
import type { PolicyEvaluator } from './evaluator.js';
import { LatencyEvaluator } from './latency.js';
import { NotEvaluator } from './not.js';
import { NumericAttributeEvaluator } from './numeric-attribute.js';
import { OttlConditionEvaluator } from './ottl-condition.js';
import type { PolicyConfig } from './policy-schema.js';
import { ProbabilisticEvaluator } from './probabilistic.js';
import { RateLimitingEvaluator } from './rate-limiting.js';
import { SpanCountEvaluator } from './span-count.js';
import { StatusCodeEvaluator } from './status-code.js';
import { StringAttributeEvaluator } from './string-attribute.js';
import { TraceFlagsEvaluator } from './trace-flags.js';
import { TraceStateEvaluator } from './trace-state.js';

/** A valid policy that this version cannot run; `path` is where it is in the policy file. */
export class PolicyBuildError extends TailsiftError {
  readonly path: readonly PathSegment[];

  constructor(path: readonly PathSegment[], message: string) {
    super('POLICY_UNSUPPORTED', message);
    this.path = path;
  }
}

/** What evaluators may be built with besides their settings. */
export interface EvaluatorContext {
  /**
   * The engine's baselines stage, which learns from every span at intake; `anomaly` policies
   * read it. Without it each `anomaly` policy learns from the traces it decides.
   */
  readonly baselines?: Baselines;
}

/**
 * Builds the evaluator for one validated policy (and, recursively, its sub-policies). `path`
 * is where the policy is in the file, for the problem a policy that cannot be built reports.
 * @throws PolicyBuildError
 */
export function createEvaluator(policy: PolicyConfig, path: readonly PathSegment[] = [], context: EvaluatorContext = {}): PolicyEvaluator {
  switch (policy.type) {
    case 'always_sample':
      return new AlwaysSampleEvaluator();
    case 'latency':
      return new LatencyEvaluator(policy.latency.threshold_ms, policy.latency.upper_threshold_ms ?? 0);
    case 'status_code':
      return new StatusCodeEvaluator(policy.status_code.status_codes);
    case 'probabilistic':
      return new ProbabilisticEvaluator(policy.probabilistic.sampling_percentage, policy.probabilistic.hash_salt ?? '');
    case 'string_attribute':
      return new StringAttributeEvaluator({
        key: policy.string_attribute.key,
        values: policy.string_attribute.values,
        enabledRegexMatching: policy.string_attribute.enabled_regex_matching,
        cacheMaxSize: policy.string_attribute.cache_max_size,
        invertMatch: policy.string_attribute.invert_match,
      });
    case 'numeric_attribute':
      return new NumericAttributeEvaluator({
        key: policy.numeric_attribute.key,
        minValue: policy.numeric_attribute.min_value,
        maxValue: policy.numeric_attribute.max_value,
        invertMatch: policy.numeric_attribute.invert_match,
      });
    case 'boolean_attribute':
      return new BooleanAttributeEvaluator({
        key: policy.boolean_attribute.key,
        value: policy.boolean_attribute.value,
        invertMatch: policy.boolean_attribute.invert_match,
      });
    case 'span_count':
      return new SpanCountEvaluator(policy.span_count.min_spans, policy.span_count.max_spans ?? 0);
    case 'trace_state':
      return new TraceStateEvaluator(policy.trace_state.key, policy.trace_state.values);
    case 'trace_flags':
      return new TraceFlagsEvaluator();
    case 'rate_limiting':
      return new RateLimitingEvaluator(policy.rate_limiting.spans_per_second, policy.rate_limiting.burst_capacity);
    case 'bytes_limiting':
      return new BytesLimitingEvaluator(policy.bytes_limiting.bytes_per_second, policy.bytes_limiting.burst_capacity);
    case 'ottl_condition':
      return new OttlConditionEvaluator(policy.ottl_condition.span ?? [], policy.ottl_condition.spanevent ?? []);
    case 'composite': {
      const { max_total_spans_per_second: total, composite_sub_policy: subs, rate_allocation: allocation = [] } = policy.composite;
      const shares = compositeAllocations(total, subs.map((sub) => sub.name), allocation);
      return new CompositeEvaluator(
        total,
        subs.map((sub, i) => ({
          name: sub.name,
          evaluator: createEvaluator(sub, [...path, 'composite', 'composite_sub_policy', i], context),
          spansPerSecond: shares[i],
        })),
      );
    }
    case 'not':
      return new NotEvaluator(createEvaluator(policy.not.not_sub_policy, [...path, 'not', 'not_sub_policy'], context));
    case 'and':
      return new AndEvaluator(policy.and.and_sub_policy.map((sub, i) => createEvaluator(sub, [...path, 'and', 'and_sub_policy', i], context)));
    case 'drop':
      return new DropEvaluator(policy.drop.drop_sub_policy.map((sub, i) => createEvaluator(sub, [...path, 'drop', 'drop_sub_policy', i], context)));
    case 'dynamic': {
      const d = policy.dynamic;
      return new DynamicEvaluator({
        keyFields: d.key_fields,
        // The policy file requires exactly one of the two goals.
        goal: d.goal_sample_rate !== undefined ? { sampleRate: d.goal_sample_rate } : { throughputPerSec: d.goal_throughput_per_sec as number },
        adjustmentIntervalMs: d.adjustment_interval,
        weight: d.weight,
        ageOutValue: d.age_out_value,
        maxKeys: d.max_keys,
        minTracesPerSec: d.min_traces_per_sec,
        initialSampleRate: d.initial_sample_rate,
        hashSalt: d.hash_salt,
      });
    }
    case 'anomaly':
      return new AnomalyEvaluator(policy.anomaly, context.baselines);
  }
}
