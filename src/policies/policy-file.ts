import type { EvaluatorContext } from './create-evaluator.js';
import type { CompletionSettings } from '../buffer/trace-buffer.js';
import { z } from 'zod';
import { formatProblems, parseYaml, readYamlFile, suggest, validateParsed } from '../config/yaml-validation.js';
import type { ParsedYaml, PathSegment, ValidateOptions } from '../config/yaml-validation.js';
import { chooseTailSamplingProcessor, isCollectorConfig, splitPolicyPath, valueAt } from './collector-config.js';
import type { PolicySet } from './evaluator.js';
import { policyFileChecks } from './policy-checks.js';
import { POLICY_TYPES, policyFileSchema } from './policy-schema.js';
import type { PolicyFileConfig } from './policy-schema.js';
import { tryBuildPolicySet } from './policy-set.js';

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

/**
 * Loads, validates and builds a policy file, or the tail_sampling processor of a Collector
 * config (`collector.yaml`, or `collector.yaml#tail_sampling/<name>` when it has several).
 * Problems are `FILE:LINE:COL: path: reason` lines; `fileName` is how they name the file.
 */
export async function loadPolicyFile(path: string, fileName?: string, context: EvaluatorContext = {}): Promise<PolicyFileResult> {
  const { file, processor } = splitPolicyPath(path);
  const parsed = await readYamlFile(file, fileName ?? file);
  if (!('doc' in parsed)) return { ok: false, problems: parsed.problems };
  return validatePolicyDocument(parsed, processor, context);
}

/** Validates and builds policy text (tests, tools, reloads); `processor` as in `validatePolicyDocument`. */
export function parsePolicyText(text: string, fileName: string, processor?: string, context: EvaluatorContext = {}): PolicyFileResult {
  return validatePolicyDocument(parseYaml(text, fileName), processor, context);
}

/**
 * Validates and builds an already parsed policy document: a policy file, or a whole
 * Collector config whose tail_sampling processor (`processor`, e.g. `tail_sampling/eu`, when
 * it has several) holds the policies. Problems point into the document as written.
 */
export function validatePolicyDocument(parsed: ParsedYaml, processor?: string, context: EvaluatorContext = {}): PolicyFileResult {
  if (parsed.syntaxProblems.length > 0) return { ok: false, problems: parsed.syntaxProblems };
  let prefix: readonly PathSegment[] = [];
  if (isCollectorConfig(parsed.data)) {
    const choice = chooseTailSamplingProcessor(parsed.data, processor, parsed.fileName);
    if (!choice.ok) return { ok: false, problems: formatProblems(parsed, [choice.problem]) };
    prefix = choice.path;
  } else if (processor !== undefined) {
    const message = `"#${processor}" names a processor of a Collector config, but this is a policy file (no processors, receivers or service); leave "#${processor}" out`;
    return { ok: false, problems: formatProblems(parsed, [{ path: [], message }]) };
  }
  const result = validateParsed(parsed, schemaAt(prefix), policyValidateOptions(parsed.data, prefix));
  if (!result.ok) return { ok: false, problems: result.problems };
  const config = valueAt(result.value, prefix) as PolicyFileConfig;
  const built = tryBuildPolicySet(config, context);
  if (!built.ok) return { ok: false, problems: formatProblems(parsed, built.problems.map((p) => ({ ...p, path: [...prefix, ...p.path] }))) };
  return { ok: true, settings: policySettings(config), policySet: built.policySet, config };
}

/**
 * The policy file schema, placed where the policies are: at the root of a policy file, or
 * under `processors.<id>` of a Collector config, whose other keys are left alone. Validating
 * the whole document keeps every position pointing into the file as written.
 */
function schemaAt(prefix: readonly PathSegment[]): z.ZodType {
  let schema: z.ZodType = policyFileSchema;
  for (let i = prefix.length - 1; i >= 0; i--) schema = z.looseObject({ [String(prefix[i])]: schema });
  return schema;
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

/**
 * Messages that know the policy language: misplaced settings, unsupported or nested types.
 * `prefix` is where the policies are in the document (empty for a policy file).
 */
function policyValidateOptions(data: unknown, prefix: readonly PathSegment[]): ValidateOptions {
  const block = valueAt(data, prefix);
  const inBlock = (path: readonly PathSegment[]): readonly PathSegment[] | undefined =>
    prefix.every((segment, i) => path[i] === segment) ? path.slice(prefix.length) : undefined;
  return {
    checks: (root) => policyFileChecks(valueAt(root, prefix)).map((problem) => ({ ...problem, path: [...prefix, ...problem.path] })),
    unknownKeyReason: (fullPath, key) => {
      const path = inBlock(fullPath);
      if (path === undefined) return undefined;
      if (path.length === 0 && (key === 'tail_sampling' || key === 'processors')) {
        return `unknown key "${key}"; a policy file is the body of the tail_sampling processor: paste what is under "tail_sampling:" (decision_wait, policies, ...) without that line, or give tailsift the whole Collector config`;
      }
      if (path.length === 0 && key === 'tail_storage') {
        return 'tail_storage is not used: tailsift keeps pending traces in the buffer of its engine config (memory or redis); remove it';
      }
      if (POLICY_TYPES.includes(key)) {
        const type = valueAt(block, [...path, 'type']);
        if (typeof type === 'string') {
          return `"${key}" settings do not apply to a policy of type "${type}"; use type: ${key} for them, or remove them`;
        }
      }
      return undefined;
    },
    unknownVariantReason: (value, options, fullPath) => {
      // A known type refused here is one the Collector does not allow at this depth either.
      if (typeof value !== 'string' || !POLICY_TYPES.includes(value)) return undefined;
      const path = inBlock(fullPath) ?? fullPath;
      const where = [...path].reverse().find((segment) => typeof segment === 'string' && segment.endsWith('_sub_policy'));
      const guess = suggest(value, options);
      return `type "${value}" cannot be used here${where ? ` (under ${where})` : ''}; allowed: ${options.join(', ')}${guess && guess !== value ? `; did you mean "${guess}"?` : ''}`;
    },
  };
}
