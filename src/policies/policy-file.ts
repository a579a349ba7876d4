import type { CompletionSettings } from '../buffer/trace-buffer.js';
import { parseYaml, readYamlFile, suggest, validateParsed } from '../config/yaml-validation.js';
import type { ParsedYaml, PathSegment, ValidateOptions } from '../config/yaml-validation.js';
import type { PolicySet } from './evaluator.js';
import { policyFileChecks } from './policy-checks.js';
import { COLLECTOR_POLICY_TYPES, policyFileSchema } from './policy-schema.js';
import type { PolicyFileConfig } from './policy-schema.js';
import { buildPolicySet } from './policy-set.js';

/** The engine-wide settings of a policy file, in milliseconds. */
export interface PolicySettings {
  /** `decision_wait`. */
  readonly decisionWaitMs: number;
  /** `decision_wait_after_root_received`; undefined when 0s or absent (off). */
  readonly decisionWaitAfterRootMs: number | undefined;
  /** `num_traces`. */
  readonly numTraces: number;
  /** `expected_new_traces_per_sec` (an allocation hint). */
  readonly expectedNewTracesPerSec: number;
  /** `sample_on_first_match`. */
  readonly sampleOnFirstMatch: boolean;
  /** `decision_cache.sampled_cache_size`. */
  readonly sampledCacheSize: number;
  /** `decision_cache.non_sampled_cache_size`. */
  readonly nonSampledCacheSize: number;
  /** `drop_pending_traces_on_shutdown`. */
  readonly dropPendingTracesOnShutdown: boolean;
  /** `maximum_trace_size_bytes`; undefined when 0 (no limit). */
  readonly maximumTraceSizeBytes: number | undefined;
  /** `max_spans_per_trace` (tailsift). */
  readonly maxSpansPerTrace: number;
}

export type PolicyFileResult =
  | { readonly ok: true; readonly settings: PolicySettings; readonly policySet: PolicySet; readonly config: PolicyFileConfig }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Loads, validates and builds a policy file; problems are `FILE:LINE:COL: path: reason` lines. */
export async function loadPolicyFile(path: string, fileName: string = path): Promise<PolicyFileResult> {
  const parsed = await readYamlFile(path, fileName);
  if (!('doc' in parsed)) return { ok: false, problems: parsed.problems };
  return validatePolicyDocument(parsed);
}

/** Validates and builds policy text (tests, tools). */
export function parsePolicyText(text: string, fileName: string): PolicyFileResult {
  return validatePolicyDocument(parseYaml(text, fileName));
}

/** Validates and builds an already parsed policy document. */
export function validatePolicyDocument(parsed: ParsedYaml): PolicyFileResult {
  const result = validateParsed(parsed, policyFileSchema, policyValidateOptions(parsed.data));
  if (!result.ok) return { ok: false, problems: result.problems };
  const config = result.value;
  return { ok: true, settings: policySettings(config), policySet: buildPolicySet(config), config };
}

export function policySettings(config: PolicyFileConfig): PolicySettings {
  return {
    decisionWaitMs: config.decision_wait,
    decisionWaitAfterRootMs: config.decision_wait_after_root_received > 0 ? config.decision_wait_after_root_received : undefined,
    numTraces: config.num_traces,
    expectedNewTracesPerSec: config.expected_new_traces_per_sec,
    sampleOnFirstMatch: config.sample_on_first_match,
    sampledCacheSize: config.decision_cache.sampled_cache_size,
    nonSampledCacheSize: config.decision_cache.non_sampled_cache_size,
    dropPendingTracesOnShutdown: config.drop_pending_traces_on_shutdown,
    maximumTraceSizeBytes: config.maximum_trace_size_bytes > 0 ? config.maximum_trace_size_bytes : undefined,
    maxSpansPerTrace: config.max_spans_per_trace,
  };
}

/** What the trace buffer needs from the policy file. */
export function toCompletionSettings(settings: PolicySettings): CompletionSettings {
  return {
    decisionWaitMs: settings.decisionWaitMs,
    decisionWaitAfterRootMs: settings.decisionWaitAfterRootMs,
    maxSpansPerTrace: settings.maxSpansPerTrace,
    maxTraces: settings.numTraces,
    // The Collector keeps a decided trace in its num_traces ring until evicted, so late spans
    // follow the decision even with decision_cache off; tailsift removes decided traces at
    // once, so an unset (0) cache remembers num_traces decisions to behave the same.
    sampledCacheSize: settings.sampledCacheSize || settings.numTraces,
    nonSampledCacheSize: settings.nonSampledCacheSize || settings.numTraces,
  };
}

/** Messages that know the policy language: misplaced settings, unsupported or nested types. */
function policyValidateOptions(data: unknown): ValidateOptions {
  return {
    checks: policyFileChecks,
    unknownKeyReason: (path, key) => {
      if (path.length === 0 && (key === 'tail_sampling' || key === 'processors')) {
        return `unknown key "${key}"; a policy file is the body of the tail_sampling processor: paste what is under "tail_sampling:" (decision_wait, policies, ...) without that line`;
      }
      if (path.length === 0 && key === 'tail_storage') {
        return 'tail_storage is not used: tailsift keeps pending traces in the buffer of its engine config (memory or redis); remove it';
      }
      if (COLLECTOR_POLICY_TYPES.includes(key)) {
        const type = valueAt(data, [...path, 'type']);
        if (typeof type === 'string') {
          return `"${key}" settings do not apply to a policy of type "${type}"; use type: ${key} for them, or remove them`;
        }
      }
      return undefined;
    },
    unknownVariantReason: (value, options, path) => {
      // A known type refused here is one the Collector does not allow at this depth either.
      if (typeof value !== 'string' || !COLLECTOR_POLICY_TYPES.includes(value)) return undefined;
      const where = [...path].reverse().find((segment) => typeof segment === 'string' && segment.endsWith('_sub_policy'));
      const guess = suggest(value, options);
      return `type "${value}" cannot be used here${where ? ` (under ${where})` : ''}; allowed: ${options.join(', ')}${guess && guess !== value ? `; did you mean "${guess}"?` : ''}`;
    },
  };
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}
