import { RE2JS } from 're2js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { formatPath, suggest } from '../config/yaml-validation.js';
import type { PathSegment, Problem } from '../config/yaml-validation.js';
import { OttlSyntaxError, parseOttlCondition } from './ottl-expression.js';

/**
 * Rules of a policy file that span fields, each saying how to fix the problem. They read the
 * raw document so they report alongside the schema's problems; every rule skips values of
 * the wrong type (the schema reports those).
 */
export function policyFileChecks(data: unknown): Problem[] {
  const root = asRecord(data);
  if (!root) return [];
  const problems: Problem[] = [];
  checkDecisionWaits(root, problems);
  const policies = Array.isArray(root.policies) ? root.policies : [];
  checkDuplicateNames(policies, problems);
  policies.forEach((policy, index) => checkPolicy(policy, ['policies', index], problems));
  return problems;
}

function checkDecisionWaits(root: Record<string, unknown>, problems: Problem[]): void {
  const afterRootText = root.decision_wait_after_root_received;
  const afterRoot = parseDuration(afterRootText);
  const waitGiven = root.decision_wait !== undefined;
  const wait = waitGiven ? parseDuration(root.decision_wait) : parseDuration('30s');
  if (!afterRoot.ok || !wait.ok || afterRoot.ms === 0) return;
  if (afterRoot.ms >= wait.ms) {
    const waitText = waitGiven ? String(root.decision_wait) : `${formatDuration(wait.ms)}, the default`;
    problems.push({
      path: ['decision_wait_after_root_received'],
      message: `decision_wait_after_root_received (${String(afterRootText)}) must be shorter than decision_wait (${waitText}); raise decision_wait or lower the other`,
    });
  }
}

function checkDuplicateNames(policies: readonly unknown[], problems: Problem[]): void {
  const firstIndex = new Map<string, number>();
  policies.forEach((policy, index) => {
    const name = asRecord(policy)?.name;
    if (typeof name !== 'string' || name === '') return;
    const first = firstIndex.get(name);
    if (first === undefined) {
      firstIndex.set(name, index);
      return;
    }
    problems.push({
      path: ['policies', index, 'name'],
      message: `duplicate policy name "${name}" (also ${formatPath(['policies', first])}); decisions and metrics name policies, so names must be unique`,
    });
  });
}

function checkPolicy(policyValue: unknown, path: readonly PathSegment[], problems: Problem[]): void {
  const policy = asRecord(policyValue);
  if (!policy || typeof policy.type !== 'string') return;
  const settings = asRecord(policy[policy.type]);
  const at = (...rest: PathSegment[]): PathSegment[] => [...path, policy.type as string, ...rest];
  switch (policy.type) {
    case 'latency': {
      const threshold = settings?.threshold_ms;
      const upper = settings?.upper_threshold_ms;
      if (isNumber(threshold) && isNumber(upper) && upper !== 0 && upper <= threshold) {
        problems.push({
          path: at('upper_threshold_ms'),
          message: `upper_threshold_ms (${upper}) must be greater than threshold_ms (${threshold}); with an upper bound a trace is sampled when threshold_ms < duration <= upper_threshold_ms`,
        });
      }
      break;
    }
    case 'numeric_attribute': {
      const min = settings?.min_value;
      const max = settings?.max_value;
      const minSet = isNumber(min) && min !== 0;
      const maxSet = isNumber(max) && max !== 0;
      const typesOk = (min === undefined || isNumber(min)) && (max === undefined || isNumber(max));
      if (settings && typesOk && !minSet && !maxSet) {
        problems.push({
          path: settings.min_value !== undefined ? at('min_value') : at(),
          at: settings.min_value !== undefined ? 'value' : 'key',
          message: 'set min_value or max_value (a bound of 0 counts as not set, as in the Collector)',
        });
      } else if (minSet && maxSet && (min as number) > (max as number)) {
        problems.push({
          path: at('min_value'),
          message: `min_value (${String(min)}) is greater than max_value (${String(max)}); no value can match, swap them`,
        });
      }
      break;
    }
    case 'span_count': {
      const min = settings?.min_spans;
      const max = settings?.max_spans;
      if (isNumber(min) && isNumber(max) && max !== 0 && max < min) {
        problems.push({
          path: at('max_spans'),
          message: `max_spans (${max}) is less than min_spans (${min}); no trace can match (max_spans 0 means no upper bound)`,
        });
      }
      break;
    }
    case 'string_attribute': {
      if (settings?.enabled_regex_matching !== true || !Array.isArray(settings.values)) break;
      settings.values.forEach((value, index) => {
        if (typeof value !== 'string') return;
        const error = regexError(value);
        if (error !== undefined) problems.push({ path: at('values', index), message: error });
      });
      break;
    }
    case 'ottl_condition':
      if (settings) checkOttl(settings, at, problems);
      break;
    case 'dynamic': {
      if (!settings) break;
      const hasRate = settings.goal_sample_rate !== undefined;
      const hasThroughput = settings.goal_throughput_per_sec !== undefined;
      if (hasRate && hasThroughput) {
        problems.push({
          path: at('goal_throughput_per_sec'),
          at: 'key',
          message: 'set goal_sample_rate or goal_throughput_per_sec, not both: one average rate, or one number of traces per second to keep',
        });
      } else if (!hasRate && !hasThroughput) {
        problems.push({ path: at(), at: 'key', message: 'set goal_sample_rate (keep 1 in N traces on average) or goal_throughput_per_sec (traces per second to keep)' });
      }
      break;
    }
    case 'composite':
      if (settings) checkComposite(settings, at, problems);
      break;
    case 'not':
      checkPolicy(asRecord(settings)?.not_sub_policy, at('not_sub_policy'), problems);
      break;
    case 'and':
    case 'drop': {
      const key = `${policy.type}_sub_policy`;
      const subs = settings?.[key];
      if (Array.isArray(subs)) subs.forEach((sub, index) => checkPolicy(sub, at(key, index), problems));
      break;
    }
  }
}

/** Every condition must parse in its context, and there must be at least one. */
function checkOttl(settings: Record<string, unknown>, at: (...rest: PathSegment[]) => PathSegment[], problems: Problem[]): void {
  let conditions = 0;
  for (const context of ['span', 'spanevent'] as const) {
    const list = settings[context];
    if (!Array.isArray(list)) continue;
    list.forEach((condition, index) => {
      if (typeof condition !== 'string' || condition === '') return;
      conditions++;
      try {
        parseOttlCondition(condition, context);
      } catch (err) {
        if (!(err instanceof OttlSyntaxError)) throw err;
        problems.push({ path: at(context, index), message: `invalid OTTL condition: ${err.message} (column ${err.column} of ${JSON.stringify(condition)})` });
      }
    });
  }
  if (conditions === 0 && (settings.span === undefined || Array.isArray(settings.span)) && (settings.spanevent === undefined || Array.isArray(settings.spanevent))) {
    problems.push({ path: at(), at: 'key', message: 'give at least one condition under span or spanevent' });
  }
}

/** Names tie a composite together: sub-policies, their order and their allocations. */
function checkComposite(settings: Record<string, unknown>, at: (...rest: PathSegment[]) => PathSegment[], problems: Problem[]): void {
  const subs = Array.isArray(settings.composite_sub_policy) ? settings.composite_sub_policy : [];
  const names: string[] = [];
  subs.forEach((sub, index) => {
    checkPolicy(sub, at('composite_sub_policy', index), problems);
    const name = asRecord(sub)?.name;
    if (typeof name !== 'string' || name === '') return;
    if (names.includes(name)) {
      problems.push({ path: at('composite_sub_policy', index, 'name'), message: `duplicate sub-policy name "${name}"; rate_allocation refers to sub-policies by name` });
    }
    names.push(name);
  });
  const unknownName = (name: string): string => {
    const guess = suggest(name, names);
    return `"${name}" is not a sub-policy of this composite${guess ? `; did you mean "${guess}"?` : `; its sub-policies: ${names.join(', ')}`}`;
  };
  const order = Array.isArray(settings.policy_order) ? settings.policy_order : [];
  order.forEach((name, index) => {
    if (typeof name === 'string' && !names.includes(name)) problems.push({ path: at('policy_order', index), message: unknownName(name) });
  });
  const allocations = Array.isArray(settings.rate_allocation) ? settings.rate_allocation : [];
  const allocated = new Set<string>();
  allocations.forEach((allocation, index) => {
    const policy = asRecord(allocation)?.policy;
    if (typeof policy !== 'string') return;
    allocated.add(policy);
    if (!names.includes(policy)) problems.push({ path: at('rate_allocation', index, 'policy'), message: unknownName(policy) });
  });
  subs.forEach((sub, index) => {
    const name = asRecord(sub)?.name;
    if (typeof name === 'string' && name !== '' && !allocated.has(name)) {
      problems.push({
        path: at('composite_sub_policy', index, 'name'),
        message: `sub-policy "${name}" has no rate_allocation entry, so it gets 0 spans per second and never samples; add { policy: ${name}, percent: N } (0 for an equal share)`,
      });
    }
  });
}

/** Why a pattern is not an RE2 regex, or undefined when it compiles. */
export function regexError(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    const described = err as { getDescription?: () => string; getPattern?: () => string | null; message?: string };
    const reason = described.getDescription?.() ?? described.message ?? String(err);
    const where = described.getPattern?.();
    const hint = /\(\?<?[=!]|\\[1-9]|\(\?P=|\\k</.test(pattern) ? ' (RE2 has no lookaround or backreferences)' : '';
    return `invalid regex ${JSON.stringify(pattern)}: ${reason}${where ? ` at ${JSON.stringify(where)}` : ''}${hint}`;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
