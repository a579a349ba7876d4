import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/engine-config.js';
import { loadPolicyFile, parsePolicyText, toCompletionSettings } from '../../src/policies/policy-file.js';
import type { PolicyFileResult } from '../../src/policies/policy-file.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

function problems(text: string): readonly string[] {
  const result = parsePolicyText(text, 'p.yaml');
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

function ok(text: string): Extract<PolicyFileResult, { ok: true }> {
  const result = parsePolicyText(text, 'p.yaml');
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result;
}

/** The Collector README's example, in its flow style, with the policy types tailsift runs. */
const COLLECTOR_EXAMPLE = `
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
decision_cache:
  sampled_cache_size: 100_000
  non_sampled_cache_size: 100_000
policies:
  [
      { name: test-policy-1, type: always_sample },
      { name: test-policy-2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000} },
      { name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100} },
      { name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10} },
      { name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]} },
      { name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]} },
      { name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10} },
      { name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20} },
      { name: test-policy-12, type: boolean_attribute, boolean_attribute: {key: key4, value: true} },
      {
        name: and-policy-1,
        type: and,
        and: {
          and_sub_policy:
          [
            { name: test-and-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50, max_value: 100 } },
            { name: test-and-policy-2, type: string_attribute, string_attribute: { key: key2, values: [ value1, value2 ] } },
          ]
        }
      },
      {
        name: drop-policy-1,
        type: drop,
        drop: {
          drop_sub_policy:
          [
            { name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\\/health, \\/metrics], enabled_regex_matching: true} }
          ]
        }
      },
      { name: not-policy-1, type: not, not: { not_sub_policy: { name: test-not-policy-1, type: latency, latency: { threshold_ms: 1000 } } } },
    ]
`;

describe('policy file: the Collector format', () => {
  it('loads the Collector README example', () => {
    const result = ok(COLLECTOR_EXAMPLE);
    expect(result.policySet.policyNames).toEqual([
      'test-policy-1',
      'test-policy-2',
      'test-policy-3',
      'test-policy-4',
      'test-policy-5',
      'test-policy-6',
      'test-policy-7',
      'test-policy-10',
      'test-policy-12',
      'and-policy-1',
      'drop-policy-1',
      'not-policy-1',
    ]);
    expect(result.settings).toEqual({
      decisionWaitMs: 10_000,
      decisionWaitAfterRootMs: undefined,
      numTraces: 100,
      expectedNewTracesPerSec: 10,
      sampleOnFirstMatch: false,
      sampledCacheSize: 100_000,
      nonSampledCacheSize: 100_000,
      dropPendingTracesOnShutdown: false,
      maximumTraceSizeBytes: undefined,
      maxSpansPerTrace: 10_000,
    });
    // always_sample is listed first; the drop still wins for a health check.
    expect(result.policySet.decide(makeTrace([{ attributes: { 'url.path': '/health' } }]), ctx)).toEqual({ keep: false, policy: 'drop-policy-1' });
    expect(result.policySet.decide(makeTrace([{ attributes: { 'url.path': '/cart' } }]), ctx)).toEqual({ keep: true, policy: 'test-policy-1' });
  });

  it('uses the Collector\'s defaults for everything but policies', () => {
    const result = ok('policies: [{ name: all, type: always_sample }]\n');
    expect(result.settings).toEqual({
      decisionWaitMs: 30_000,
      decisionWaitAfterRootMs: undefined,
      numTraces: 50_000,
      expectedNewTracesPerSec: 0,
      sampleOnFirstMatch: false,
      sampledCacheSize: 0,
      nonSampledCacheSize: 0,
      dropPendingTracesOnShutdown: false,
      maximumTraceSizeBytes: undefined,
      maxSpansPerTrace: 10_000,
    });
  });

  it('accepts the Collector\'s deployment settings that do not change decisions', () => {
    const result = ok('sampling_strategy: trace-complete\nnum_shards: 8\nblock_on_overflow: true\npolicies: [{ name: all, type: always_sample }]\n');
    expect(result.policySet.policyNames).toEqual(['all']);
  });

  it('converts its settings to the buffer\'s completion settings', () => {
    const result = ok(
      'decision_wait: 1m\ndecision_wait_after_root_received: 1.5s\nnum_traces: 7\nmax_spans_per_trace: 500\ndecision_cache: { sampled_cache_size: 3, non_sampled_cache_size: 4 }\npolicies: [{ name: all, type: always_sample }]\n',
    );
    expect(toCompletionSettings(result.settings)).toEqual({
      decisionWaitMs: 60_000,
      decisionWaitAfterRootMs: 1500,
      maxSpansPerTrace: 500,
      maxTraces: 7,
      sampledCacheSize: 3,
      nonSampledCacheSize: 4,
    });
  });

  it('remembers num_traces decisions when decision_cache is unset, as the Collector\'s trace ring does', () => {
    const result = ok('num_traces: 900\npolicies: [{ name: all, type: always_sample }]\n');
    const completion = toCompletionSettings(result.settings);
    expect([completion.sampledCacheSize, completion.nonSampledCacheSize]).toEqual([900, 900]);
  });

  it('turns sample_on_first_match and maximum_trace_size_bytes into decisions', () => {
    const result = ok('sample_on_first_match: true\nmaximum_trace_size_bytes: 500\npolicies:\n  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n  - { name: all, type: always_sample }\n');
    expect(result.settings.sampleOnFirstMatch).toBe(true);
    expect(result.settings.maximumTraceSizeBytes).toBe(500);
    expect(result.policySet.decide(makeTrace([{ statusCode: 2 }], { byteSize: 400 }), ctx)).toEqual({ keep: true, policy: 'errors' });
    expect(result.policySet.decide(makeTrace([{ statusCode: 2 }], { byteSize: 600 }), ctx)).toEqual({ keep: false, policy: undefined });
  });

  it('accepts a not under and and drop, and the sample rate of a probabilistic keep', () => {
    const result = ok(
      [
        'policies:',
        '  - name: sample-errors-half',
        '    type: and',
        '    and:',
        '      and_sub_policy:',
        '        - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }',
        '        - { name: not-health, type: not, not: { not_sub_policy: { type: string_attribute, string_attribute: { key: url.path, values: [/healthz] } } } }',
        '        - { name: half, type: probabilistic, probabilistic: { sampling_percentage: 50 } }',
        '',
      ].join('\n'),
    );
    const errorTrace = makeTrace([{ statusCode: 2 }], { traceId: 'ffffffffffffffffffffffffffffffff' });
    expect(result.policySet.decide(errorTrace, ctx)).toEqual({ keep: true, policy: 'sample-errors-half', sampleRate: 2 });
    const healthError = makeTrace([{ statusCode: 2, attributes: { 'url.path': '/healthz' } }], { traceId: 'ffffffffffffffffffffffffffffffff' });
    expect(result.policySet.decide(healthError, ctx)).toEqual({ keep: false, policy: undefined });
  });
});

describe('policy file: stateful and trace-context policies', () => {
  it('loads the README\'s rate, bytes, trace_state, trace_flags and ottl_condition policies', () => {
    const result = ok(
      [
        'policies:',
        '  - name: test-policy-13',
        '    type: ottl_condition',
        '    ottl_condition: {',
        '         error_mode: ignore,',
        '         span: [',
        '              "attributes[\\"test_attr_key_1\\"] == \\"test_attr_val_1\\"",',
        '              "attributes[\\"test_attr_key_2\\"] != \\"test_attr_val_1\\"",',
        '         ],',
        '         spanevent: [',
        '              "name != \\"test_span_event_name\\"",',
        '              "attributes[\\"test_event_attr_key_2\\"] != \\"test_event_attr_val_1\\"",',
        '         ]',
        '    }',
        '  - { name: test-policy-8, type: rate_limiting, rate_limiting: { spans_per_second: 35 } }',
        '  - { name: test-policy-9, type: bytes_limiting, bytes_limiting: { bytes_per_second: 1024000, burst_capacity: 2048000 } }',
        '  - { name: test-policy-11, type: trace_state, trace_state: { key: key3, values: [value1, value2] } }',
        '  - { name: upstream-sampled, type: trace_flags }',
        '',
      ].join('\n'),
    );
    expect(result.policySet.policyNames).toEqual(['test-policy-13', 'test-policy-8', 'test-policy-9', 'test-policy-11', 'upstream-sampled']);
    expect(result.policySet.decide(makeTrace([{ attributes: { test_attr_key_1: 'test_attr_val_1' } }]), ctx)).toEqual({ keep: true, policy: 'test-policy-13' });
  });

  it('does not charge a later rate_limiting policy with sample_on_first_match', () => {
    const text = (first: boolean) =>
      [
        `sample_on_first_match: ${first}`,
        'policies:',
        '  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }',
        '  - { name: budget, type: rate_limiting, rate_limiting: { spans_per_second: 1, burst_capacity: 10 } }',
        '',
      ].join('\n');
    const errorTrace = makeTrace(Array.from({ length: 10 }, () => ({ statusCode: 2 })));
    const okTrace = makeTrace(Array.from({ length: 10 }, () => ({ statusCode: 1 })));
    // Without it, the error trace also used up the rate budget, so the next trace is refused.
    const all = ok(text(false)).policySet;
    expect(all.decide(errorTrace, ctx)).toEqual({ keep: true, policy: 'errors' });
    expect(all.decide(okTrace, ctx)).toEqual({ keep: false, policy: undefined });
    const firstMatch = ok(text(true)).policySet;
    expect(firstMatch.decide(errorTrace, ctx)).toEqual({ keep: true, policy: 'errors' });
    expect(firstMatch.decide(okTrace, ctx)).toEqual({ keep: true, policy: 'budget' });
  });

  it('loads a composite and applies its allocations', () => {
    const result = ok(
      [
        'policies:',
        '  - name: composite-policy-1',
        '    type: composite',
        '    composite:',
        '      max_total_spans_per_second: 100',
        '      policy_order: [checkout, everything-else]',
        '      composite_sub_policy:',
        '        - { name: checkout, type: string_attribute, string_attribute: { key: service.name, values: [checkout] } }',
        '        - { name: everything-else, type: always_sample }',
        '      rate_allocation:',
        '        - { policy: checkout, percent: 60 }',
        '        - { policy: everything-else, percent: 40 }',
        '',
      ].join('\n'),
    );
    const trace = (service: string, count: number) => makeTrace(Array.from({ length: count }, () => ({ resource: { 'service.name': service } })));
    expect(result.policySet.decide(trace('checkout', 60), ctx)).toEqual({ keep: true, policy: 'composite-policy-1' });
    expect(result.policySet.decide(trace('checkout', 1), ctx)).toEqual({ keep: false, policy: undefined });
    expect(result.policySet.decide(trace('cart', 40), ctx)).toEqual({ keep: true, policy: 'composite-policy-1' });
  });

  it('reports the names that do not tie a composite together', () => {
    expect(
      problems(
        [
          'policies:',
          '  - name: composite-policy-1',
          '    type: composite',
          '    composite:',
          '      max_total_spans_per_second: 1000',
          '      policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3]',
          '      composite_sub_policy:',
          '        - { name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50 } }',
          '        - { name: test-composite-policy-2, type: string_attribute, string_attribute: { key: key2, values: [value1, value2] } }',
          '        - { name: test-composite-policy-3, type: always_sample }',
          '      rate_allocation:',
          '        - { policy: test-composite-policy-1, percent: 50 }',
          '        - { policy: test-composite-policy-2, percent: 25 }',
          '        - { policy: test-composite-polcy-3, percent: 25 }',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      'p.yaml:10:19: policies[0].composite.composite_sub_policy[2].name: sub-policy "test-composite-policy-3" has no rate_allocation entry, so it gets 0 spans per second and never samples; add { policy: test-composite-policy-3, percent: N } (0 for an equal share)',
      'p.yaml:14:21: policies[0].composite.rate_allocation[2].policy: "test-composite-polcy-3" is not a sub-policy of this composite; did you mean "test-composite-policy-3"?',
    ]);
  });
});

describe('policy file: problems', () => {
  it.each([
    [
      'a misspelt setting, with the key it resembles',
      'policies:\n  - name: slow\n    type: latency\n    latency:\n      treshold_ms: 5000\n',
      ['p.yaml:5:7: policies[0].latency.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?'],
    ],
    [
      'an unknown policy type, with the type it resembles',
      'policies:\n  - name: slow\n    type: lateny\n',
      ['p.yaml:3:11: policies[0].type: unknown type "lateny"; did you mean "latency"?'],
    ],
    [
      'a decision_wait_after_root_received that is not shorter than decision_wait',
      'decision_wait: 2s\ndecision_wait_after_root_received: 5s\npolicies: [{ name: all, type: always_sample }]\n',
      ['p.yaml:2:36: decision_wait_after_root_received: decision_wait_after_root_received (5s) must be shorter than decision_wait (2s); raise decision_wait or lower the other'],
    ],
    [
      'the same against the default decision_wait',
      'decision_wait_after_root_received: 45s\npolicies: [{ name: all, type: always_sample }]\n',
      ['p.yaml:1:36: decision_wait_after_root_received: decision_wait_after_root_received (45s) must be shorter than decision_wait (30s, the default); raise decision_wait or lower the other'],
    ],
    [
      'min_value greater than max_value',
      'policies:\n  - name: codes\n    type: numeric_attribute\n    numeric_attribute: { key: http.status_code, min_value: 500, max_value: 400 }\n',
      ['p.yaml:4:60: policies[0].numeric_attribute.min_value: min_value (500) is greater than max_value (400); no value can match, swap them'],
    ],
    [
      'a numeric policy without bounds',
      'policies:\n  - name: codes\n    type: numeric_attribute\n    numeric_attribute: { key: http.status_code, min_value: 0 }\n',
      ['p.yaml:4:60: policies[0].numeric_attribute.min_value: set min_value or max_value (a bound of 0 counts as not set, as in the Collector)'],
    ],
    [
      'an invalid regex, naming it and why',
      'policies:\n  - name: r\n    type: string_attribute\n    string_attribute:\n      key: url.path\n      enabled_regex_matching: true\n      values: ["^/ok$", "(unclosed"]\n',
      ['p.yaml:7:25: policies[0].string_attribute.values[1]: invalid regex "(unclosed": missing closing ) at "(unclosed"'],
    ],
    [
      'a regex feature RE2 does not have',
      'policies:\n  - name: r\n    type: string_attribute\n    string_attribute: { key: k, enabled_regex_matching: true, values: ["(?<=a)b"] }\n',
      ['p.yaml:4:72: policies[0].string_attribute.values[0]: invalid regex "(?<=a)b": invalid named capture at "(?<=a)b" (RE2 has no lookaround or backreferences)'],
    ],
    [
      'duplicate policy names',
      'policies:\n  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n  - { name: errors, type: always_sample }\n',
      ['p.yaml:3:13: policies[1].name: duplicate policy name "errors" (also policies[0]); decisions and metrics name policies, so names must be unique'],
    ],
    [
      'a status code in the wrong case',
      'policies:\n  - { name: e, type: status_code, status_code: { status_codes: [error] } }\n',
      ['p.yaml:2:65: policies[0].status_code.status_codes[0]: invalid value "error"; did you mean "ERROR"?'],
    ],
    [
      'settings of another type',
      'policies:\n  - name: force\n    type: boolean_attribute\n    string_attribute: { key: app.force_sample, value: true }\n',
      [
        'p.yaml:2:5: policies[0].boolean_attribute: missing required key "boolean_attribute"',
        'p.yaml:4:5: policies[0].string_attribute: "string_attribute" settings do not apply to a policy of type "boolean_attribute"; use type: string_attribute for them, or remove them',
      ],
    ],
    [
      'an OTTL condition outside the supported subset, with its column',
      'policies:\n  - name: o\n    type: ottl_condition\n    ottl_condition:\n      span: [\'attributes["a"] == "x"\', \'duration > 5\']\n',
      [
        'p.yaml:5:40: policies[0].ottl_condition.span[1]: invalid OTTL condition: path duration is not in tailsift\'s OTTL subset for the span context; available: name, kind, status.code, attributes, trace_id.string, span_id.string, parent_span_id.string, trace_state, flags, span.name, span.kind, span.status.code, span.attributes, span.trace_id.string, span.span_id.string, span.parent_span_id.string, span.trace_state, span.flags, resource.attributes (column 1 of "duration > 5")',
      ],
    ],
    [
      'an OTTL policy without conditions',
      'policies:\n  - { name: o, type: ottl_condition, ottl_condition: { error_mode: ignore } }\n',
      ['p.yaml:2:38: policies[0].ottl_condition: give at least one condition under span or spanevent'],
    ],
    [
      'an and nested in an and',
      'policies:\n  - name: a\n    type: and\n    and: { and_sub_policy: [{ name: b, type: and }] }\n',
      [
        'p.yaml:4:46: policies[0].and.and_sub_policy[0].type: type "and" cannot be used here (under and_sub_policy); allowed: always_sample, latency, status_code, probabilistic, string_attribute, numeric_attribute, boolean_attribute, span_count, trace_state, trace_flags, rate_limiting, bytes_limiting, ottl_condition, dynamic, anomaly, not',
      ],
    ],
    [
      'a not nested in a not',
      'policies:\n  - name: n\n    type: not\n    not: { not_sub_policy: { type: not } }\n',
      [
        'p.yaml:4:36: policies[0].not.not_sub_policy.type: type "not" cannot be used here (under not_sub_policy); allowed: always_sample, latency, status_code, probabilistic, string_attribute, numeric_attribute, boolean_attribute, span_count, trace_state, trace_flags, rate_limiting, bytes_limiting, ottl_condition',
      ],
    ],
    [
      'a percentage over 100',
      'policies:\n  - { name: p, type: probabilistic, probabilistic: { sampling_percentage: 150 } }\n',
      ['p.yaml:2:75: policies[0].probabilistic.sampling_percentage: 150 is too big; must be at most 100'],
    ],
    [
      'an upper latency bound below the lower one',
      'policies:\n  - { name: l, type: latency, latency: { threshold_ms: 500, upper_threshold_ms: 100 } }\n',
      ['p.yaml:2:81: policies[0].latency.upper_threshold_ms: upper_threshold_ms (100) must be greater than threshold_ms (500); with an upper bound a trace is sampled when threshold_ms < duration <= upper_threshold_ms'],
    ],
    [
      'a span range that cannot match',
      'policies:\n  - { name: s, type: span_count, span_count: { min_spans: 10, max_spans: 5 } }\n',
      ['p.yaml:2:74: policies[0].span_count.max_spans: max_spans (5) is less than min_spans (10); no trace can match (max_spans 0 means no upper bound)'],
    ],
    [
      'a decision_wait without a unit',
      'decision_wait: 30\npolicies: [{ name: all, type: always_sample }]\n',
      ['p.yaml:1:16: decision_wait: 30 is a bare number, not a duration; add a unit, e.g. "30s" or "30ms"'],
    ],
    [
      'a policy without a name',
      'policies:\n  - type: always_sample\n',
      ['p.yaml:2:5: policies[0].name: missing required key "name"'],
    ],
    [
      'an empty policy list',
      'decision_wait: 5s\npolicies: []\n',
      ['p.yaml:2:11: policies: must not be empty'],
    ],
    [
      'a pasted processor block',
      'tail_sampling:\n  policies: [{ name: all, type: always_sample }]\n',
      [
        'p.yaml:1:1: policies: missing required key "policies"',
        'p.yaml:1:1: tail_sampling: unknown key "tail_sampling"; a policy file is the body of the tail_sampling processor: paste what is under "tail_sampling:" (decision_wait, policies, ...) without that line, or give tailsift the whole Collector config',
      ],
    ],
    [
      'a sampling strategy tailsift does not have, and the Collector\'s tail storage',
      'sampling_strategy: span-ingest\ntail_storage: file_storage\npolicies: [{ name: all, type: always_sample }]\n',
      [
        'p.yaml:1:20: sampling_strategy: invalid value "span-ingest"; expected one of: trace-complete',
        'p.yaml:2:1: tail_storage: tail_storage is not used: tailsift keeps pending traces in the buffer of its engine config (memory or redis); remove it',
      ],
    ],
    ['an empty file', '', ['p.yaml:1:1: (root): the file is empty; expected a map of settings']],
  ])('reports %s', (_, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('reports every problem of a file at once', () => {
    const text = [
      'decision_wait: 2s',
      'decision_wait_after_root_received: 5s',
      'policies:',
      '  - name: a',
      '    type: latency',
      '    latency: { treshold_ms: 1 }',
      '  - name: a',
      '    type: status_code',
      '    status_code: { status_codes: [EROR] }',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      'p.yaml:2:36: decision_wait_after_root_received: decision_wait_after_root_received (5s) must be shorter than decision_wait (2s); raise decision_wait or lower the other',
      'p.yaml:6:16: policies[0].latency.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?',
      'p.yaml:7:11: policies[1].name: duplicate policy name "a" (also policies[0]); decisions and metrics name policies, so names must be unique',
      'p.yaml:9:35: policies[1].status_code.status_codes[0]: invalid value "EROR"; did you mean "ERROR"?',
    ]);
  });

  it('reports a missing file', async () => {
    expect(await loadPolicyFile('/nonexistent/tailsift/p.yaml', 'p.yaml')).toEqual({ ok: false, problems: ['p.yaml:1:1: (file): cannot read file: no such file'] });
  });
});

describe('the default policy file', () => {
  const path = join(packageRoot(), 'policies', 'default.yaml');

  it('validates clean', async () => {
    const result = await loadPolicyFile(path);
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it('waits 10s, or 2s after the root span', async () => {
    const result = await loadPolicyFile(path);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.settings.decisionWaitMs).toBe(10_000);
    expect(result.settings.decisionWaitAfterRootMs).toBe(2000);
  });

  it('keeps errors and slow traces, drops health checks, keeps a small share of the rest', async () => {
    const result = await loadPolicyFile(path);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const { policySet } = result;
    expect(policySet.decide(makeTrace([{ statusCode: 2, durationMs: 10 }]), ctx)).toEqual({ keep: true, policy: 'errors' });
    expect(policySet.decide(makeTrace([{ durationMs: 1500 }]), ctx)).toEqual({ keep: true, policy: 'slow' });
    expect(policySet.decide(makeTrace([{ durationMs: 1500, attributes: { 'url.path': '/healthz' } }]), ctx)).toEqual({
      keep: false,
      policy: 'drop-health-checks',
    });
    expect(policySet.decide(makeTrace([{ durationMs: 1500, attributes: { 'url.path': '/api/healthz/report' } }]), ctx)).toEqual({ keep: true, policy: 'slow' });
    // Hash 1711019809656077869 is 9.28% of the range: outside 5%.
    expect(policySet.decide(makeTrace([{ durationMs: 10 }], { traceId: 'ffffffffffffffffffffffffffffffff' }), ctx)).toEqual({ keep: false, policy: undefined });
    let kept = 0;
    for (let i = 0; i < 2000; i++) {
      const traceId = (i * 2654435761).toString(16).padStart(32, '0').slice(-32);
      const decision = policySet.decide(makeTrace([{ durationMs: 10 }], { traceId }), ctx);
      if (decision.keep) {
        kept++;
        expect(decision).toEqual({ keep: true, policy: 'baseline-5-percent', sampleRate: 20 });
      }
    }
    expect(kept / 2000).toBeGreaterThan(0.03);
    expect(kept / 2000).toBeLessThan(0.07);
  });
});
