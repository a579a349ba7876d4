import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

/**
 * The policy file: the body of the OpenTelemetry Collector's `tail_sampling` processor
 * config, keys and defaults as the Collector has them, plus tailsift's `max_spans_per_trace`
 * and its own policy types (`dynamic`, `anomaly`).
 *
 * Stricter than the Collector on purpose: unknown keys are errors (the Collector ignores a
 * misspelt `treshold_ms` and samples with 0), and the setting that gives a policy its meaning
 * is required (a `latency` policy without `threshold_ms` would keep every trace).
 */

/** Every policy type the Collector knows, to recognise settings placed under the wrong type. */
export const COLLECTOR_POLICY_TYPES: readonly string[] = [
  'always_sample',
  'latency',
  'numeric_attribute',
  'probabilistic',
  'status_code',
  'string_attribute',
  'rate_limiting',
  'bytes_limiting',
  'span_count',
  'trace_state',
  'trace_flags',
  'boolean_attribute',
  'ottl_condition',
  'and',
  'not',
  'drop',
  'composite',
];

/** tailsift's own policy types. */
export const TAILSIFT_POLICY_TYPES: readonly string[] = ['dynamic', 'anomaly'];

/** Every policy type a policy file may name somewhere. */
export const POLICY_TYPES: readonly string[] = [...COLLECTOR_POLICY_TYPES, ...TAILSIFT_POLICY_TYPES];

const int = () => z.number().int();
const nonNegativeInt = () => z.number().int().min(0);

function duration(options: { allowZero: boolean }) {
  return z.unknown().transform((value, ctx) => {
    const parsed = parseDuration(value);
    if (!parsed.ok) {
      ctx.issues.push({ code: 'custom', message: parsed.error, input: value });
      return z.NEVER;
    }
    if (parsed.ms < 0 || (!options.allowZero && parsed.ms === 0)) {
      ctx.issues.push({ code: 'custom', message: `"${String(value)}" must be ${options.allowZero ? 'at least 0s' : 'longer than 0s'}`, input: value });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

const latencySettings = z.strictObject({
  threshold_ms: nonNegativeInt().describe('Lower bound, ms: sampled when duration >= threshold_ms (or > with an upper bound).'),
  upper_threshold_ms: nonNegativeInt().optional().describe('Upper bound, ms, inclusive; 0 or absent: none.'),
});

const statusCodeSettings = z.strictObject({
  status_codes: z.array(z.enum(['OK', 'ERROR', 'UNSET'])).min(1).describe('Sampled when any span has one of these codes.'),
});

const probabilisticSettings = z.strictObject({
  hash_salt: z.string().optional().describe('Salt of the trace id hash; default "default-hash-seed". Use different salts in layered samplers.'),
  sampling_percentage: z.number().min(0).max(100).describe('Percentage of traces sampled, 0..100 (fractions allowed).'),
});

const stringAttributeSettings = z.strictObject({
  key: z.string().min(1),
  values: z.array(z.string()).min(1).describe('Exact values, or RE2 regexes with enabled_regex_matching.'),
  enabled_regex_matching: z.boolean().optional(),
  cache_max_size: nonNegativeInt().optional().describe('Regex results cached per distinct value; default 128.'),
  invert_match: z.boolean().optional(),
});

const numericAttributeSettings = z.strictObject({
  key: z.string().min(1),
  min_value: int().optional().describe('Inclusive lower bound; 0 counts as unset, as in the Collector.'),
  max_value: int().optional().describe('Inclusive upper bound; 0 counts as unset, as in the Collector.'),
  invert_match: z.boolean().optional(),
});

const booleanAttributeSettings = z.strictObject({
  key: z.string().min(1),
  value: z.boolean(),
  invert_match: z.boolean().optional(),
});

const traceStateSettings = z.strictObject({
  key: z.string().min(1).describe('tracestate key, e.g. "ot" or "vendor@tenant".'),
  values: z.array(z.string()).min(1).describe('Sampled when the key has one of these values.'),
});

const rateLimitingSettings = z.strictObject({
  spans_per_second: int().min(1).describe('Spans per second the bucket refills with.'),
  burst_capacity: int().min(1).optional().describe('Spans the bucket holds; default 2 × spans_per_second.'),
});

const bytesLimitingSettings = z.strictObject({
  bytes_per_second: int().min(1).describe('Bytes per second the bucket refills with.'),
  burst_capacity: int().min(1).optional().describe('Bytes the bucket holds; default 2 × bytes_per_second.'),
});

const ottlConditionSettings = z.strictObject({
  error_mode: z.enum(['ignore', 'silent', 'propagate']).optional().describe('Accepted for compatibility; evaluation of the supported subset cannot fail.'),
  span: z.array(z.string().min(1)).optional().describe('OTTL conditions on spans; any one true samples the trace.'),
  spanevent: z.array(z.string().min(1)).optional().describe('OTTL conditions on span events; any one true samples the trace.'),
});

const spanCountSettings = z.strictObject({
  min_spans: nonNegativeInt().describe('Inclusive lower bound on the number of spans.'),
  max_spans: nonNegativeInt().optional().describe('Inclusive upper bound; 0 or absent: none.'),
});

const dynamicSettings = z.strictObject({
  key_fields: z
    .array(z.string().min(1))
    .min(1)
    .describe('Span or resource attributes whose values form the key, e.g. [service.name, http.route, http.response.status_code]; every distinct value in the trace is part of it.'),
  goal_sample_rate: int().min(1).optional().describe('Average sample rate to reach, 1 in N traces. Set this or goal_throughput_per_sec.'),
  goal_throughput_per_sec: z.number().positive().optional().describe('Traces per second to keep on average. Set this or goal_sample_rate.'),
  adjustment_interval: duration({ allowZero: false }).prefault('15s').describe('How often the rates are recomputed from the counts seen. Default: 15s.'),
  weight: z.number().gt(0).max(1).prefault(0.5).describe('Weight of the last interval in the moving average of counts, (0, 1]; higher adapts faster. Default: 0.5.'),
  age_out_value: z.number().min(0).optional().describe('A key whose moving average falls below this is forgotten, and its traces are rare again. Default: weight.'),
  max_keys: int().min(1).prefault(500).describe('Keys tracked at most; traces of further keys share one rate. Default: 500.'),
  min_traces_per_sec: z.number().min(0).prefault(0).describe('When fewer traces per second than this reached the policy in an interval, all are kept next interval. Default: 0 (off).'),
  initial_sample_rate: int().min(1).optional().describe('Sample rate until the first adjustment. Default: goal_sample_rate, or 10 with goal_throughput_per_sec.'),
  hash_salt: z.string().optional().describe('Salt of the trace id hash; default "tailsift-dynamic".'),
});

export const ANOMALY_KINDS = ['latency', 'error', 'new_operation'] as const;

const anomalySettings = z.strictObject({
  kinds: z.array(z.enum(ANOMALY_KINDS)).min(1).prefault([...ANOMALY_KINDS]).describe('What counts as anomalous: latency, error, new_operation. Default: all three.'),
  threshold: z.number().positive().prefault(3).describe('Score (deviations from the baseline) from which a trace counts as anomalous: the trace\'s span scores corrected for how many spans were judged, so a trace of many spans reaches it by chance about as rarely as a single span would. Default: 3.'),
  min_samples: int().min(1).prefault(200).describe('Spans a (service, operation) baseline needs before it scores anything. Default: 200.'),
  window: duration({ allowZero: false }).prefault('1h').describe('How far back the baselines look. Default: 1h.'),
});

/** Name is required on top-level policies (metrics and decisions name them), optional below. */
function sharedVariants<N extends z.ZodType>(name: N) {
  return [
    z.strictObject({ name, type: z.literal('always_sample') }),
    z.strictObject({ name, type: z.literal('latency'), latency: latencySettings }),
    z.strictObject({ name, type: z.literal('status_code'), status_code: statusCodeSettings }),
    z.strictObject({ name, type: z.literal('probabilistic'), probabilistic: probabilisticSettings }),
    z.strictObject({ name, type: z.literal('string_attribute'), string_attribute: stringAttributeSettings }),
    z.strictObject({ name, type: z.literal('numeric_attribute'), numeric_attribute: numericAttributeSettings }),
    z.strictObject({ name, type: z.literal('boolean_attribute'), boolean_attribute: booleanAttributeSettings }),
    z.strictObject({ name, type: z.literal('span_count'), span_count: spanCountSettings }),
    z.strictObject({ name, type: z.literal('trace_state'), trace_state: traceStateSettings }),
    z.strictObject({ name, type: z.literal('trace_flags') }),
    z.strictObject({ name, type: z.literal('rate_limiting'), rate_limiting: rateLimitingSettings }),
    z.strictObject({ name, type: z.literal('bytes_limiting'), bytes_limiting: bytesLimitingSettings }),
    z.strictObject({ name, type: z.literal('ottl_condition'), ottl_condition: ottlConditionSettings }),
  ] as const;
}

/** tailsift's types: wherever the plain types may be, except under `not` (the complement of a random share or of an anomaly means little). */
function ownVariants<N extends z.ZodType>(name: N) {
  return [
    z.strictObject({ name, type: z.literal('dynamic'), dynamic: dynamicSettings }),
    z.strictObject({ name, type: z.literal('anomaly'), anomaly: anomalySettings.prefault({}) }),
  ] as const;
}

const subPolicyName = z.string().optional();
const topPolicyName = z.string().min(1);

/** The one policy under `not` (the Collector allows only the plain types there). */
const notSubPolicy = z.discriminatedUnion('type', [...sharedVariants(subPolicyName)]);

const notSettings = z.strictObject({ not_sub_policy: notSubPolicy });

/** A policy under `and` or `drop`: the plain types, or `not`. */
const andSubPolicy = z.discriminatedUnion('type', [
  ...sharedVariants(subPolicyName),
  ...ownVariants(subPolicyName),
  z.strictObject({ name: subPolicyName, type: z.literal('not'), not: notSettings }),
]);

const andSettings = z.strictObject({ and_sub_policy: z.array(andSubPolicy).min(1) });
const dropSettings = z.strictObject({ drop_sub_policy: z.array(andSubPolicy).min(1) });

/** A policy under `composite`: the plain types, or `and`. Named, since allocations name it. */
const compositeSubPolicy = z.discriminatedUnion('type', [
  ...sharedVariants(topPolicyName),
  ...ownVariants(topPolicyName),
  z.strictObject({ name: topPolicyName, type: z.literal('and'), and: andSettings }),
]);

const compositeSettings = z.strictObject({
  max_total_spans_per_second: int().min(1).describe('Spans per second the composite samples at most.'),
  policy_order: z.array(z.string()).optional().describe('Names of the sub-policies; evaluation follows composite_sub_policy.'),
  composite_sub_policy: z.array(compositeSubPolicy).min(1),
  rate_allocation: z
    .array(z.strictObject({ policy: z.string().min(1), percent: int() }))
    .optional()
    .describe('Share of max_total_spans_per_second per sub-policy, in percent; 0: an equal share.'),
});

const topPolicy = z.discriminatedUnion('type', [
  ...sharedVariants(topPolicyName),
  ...ownVariants(topPolicyName),
  z.strictObject({ name: topPolicyName, type: z.literal('not'), not: notSettings }),
  z.strictObject({ name: topPolicyName, type: z.literal('and'), and: andSettings }),
  z.strictObject({ name: topPolicyName, type: z.literal('drop'), drop: dropSettings }),
  z.strictObject({ name: topPolicyName, type: z.literal('composite'), composite: compositeSettings }),
]);

export const policyFileSchema = z.strictObject({
  decision_wait: duration({ allowZero: false })
    .prefault('30s')
    .describe('Time from a trace\'s first span to its decision. Default: 30s.'),
  decision_wait_after_root_received: duration({ allowZero: true })
    .prefault('0s')
    .describe('Decide this long after the root span arrives, when earlier than decision_wait; 0s: off. Default: 0s.'),
  num_traces: int().min(1).prefault(50_000).describe('Undecided traces held at most; past it intake is refused (tailsift never evicts). Default: 50000.'),
  expected_new_traces_per_sec: nonNegativeInt().prefault(0).describe('Allocation hint, accepted for compatibility. Default: 0.'),
  sample_on_first_match: z.boolean().prefault(false).describe('Stop evaluating at the first policy that samples. Default: false.'),
  decision_cache: z
    .strictObject({
      sampled_cache_size: nonNegativeInt().prefault(0).describe('Kept trace ids remembered for late spans; 0: as many as num_traces (the Collector remembers decided traces in its num_traces ring). Default: 0.'),
      non_sampled_cache_size: nonNegativeInt().prefault(0).describe('Dropped trace ids remembered for late spans; 0: as many as num_traces. Default: 0.'),
    })
    .prefault({})
    .describe('Decisions remembered after a trace left the buffer, so late spans follow them.'),
  block_on_overflow: z
    .boolean()
    .optional()
    .describe('Accepted for compatibility; tailsift always blocks (refuses intake) when num_traces is reached and never evicts.'),
  drop_pending_traces_on_shutdown: z.boolean().prefault(false).describe('On shutdown, drop undecided traces instead of deciding them early. Default: false.'),
  maximum_trace_size_bytes: nonNegativeInt().prefault(0).describe('A trace growing past this many bytes is not sampled, at once; 0: no limit. Default: 0.'),
  sampling_strategy: z
    .enum(['trace-complete'])
    .optional()
    .describe('Accepted for compatibility: tailsift always decides on the whole trace (the Collector\'s trace-complete); span-ingest is not supported.'),
  num_shards: int()
    .min(1)
    .max(256)
    .optional()
    .describe('Accepted for compatibility; tailsift spreads traces over its buffer instead of in-process shards.'),
  max_spans_per_trace: int().min(1).prefault(10_000).describe('tailsift: a trace reaching this many spans is decided at once. Default: 10000.'),
  policies: z.array(topPolicy).min(1).describe('The policies; see the policy types.'),
});

export type PolicyFileConfig = z.output<typeof policyFileSchema>;
export type TopPolicyConfig = PolicyFileConfig['policies'][number];
export type AndSubPolicyConfig = z.output<typeof andSubPolicy>;
export type NotSubPolicyConfig = z.output<typeof notSubPolicy>;
export type CompositeSubPolicyConfig = z.output<typeof compositeSubPolicy>;
export type DynamicSettings = z.output<typeof dynamicSettings>;
export type AnomalySettings = z.output<typeof anomalySettings>;
export type PolicyConfig = TopPolicyConfig | AndSubPolicyConfig | NotSubPolicyConfig | CompositeSubPolicyConfig;

/** Top-level keys of a policy file (used to tell policy files from engine configs). */
export const POLICY_FILE_KEYS: readonly string[] = Object.keys(policyFileSchema.shape);
