import { describe, expect, it } from 'vitest';
import { validateYamlText } from '../../src/config/yaml-validation.js';
import { ANOMALY_UNAVAILABLE, PolicyBuildError } from '../../src/policies/create-evaluator.js';
import { parsePolicyText } from '../../src/policies/policy-file.js';
import { policyFileSchema } from '../../src/policies/policy-schema.js';
import type { PolicyFileConfig } from '../../src/policies/policy-schema.js';
import { buildPolicySet } from '../../src/policies/policy-set.js';

const WITH_ANOMALY = [
  'policies:',
  '  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }',
  '  - name: unusual',
  '    type: anomaly',
  '    anomaly:',
  '      kinds: [latency, new_operation]',
  '      threshold: 4.5',
  '      min_samples: 500',
  '      window: 30m',
  '',
].join('\n');

function problems(text: string, fileName = 'p.yaml', processor?: string): readonly string[] {
  const result = parsePolicyText(text, fileName, processor);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('anomaly: the settings', () => {
  it('validate, with their defaults', () => {
    const result = validateYamlText('policies:\n  - { name: unusual, type: anomaly }\n  - { name: tuned, type: anomaly, anomaly: { kinds: [error] } }\n', 'p.yaml', policyFileSchema);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.value.policies).toEqual([
      { name: 'unusual', type: 'anomaly', anomaly: { kinds: ['latency', 'error', 'new_operation'], threshold: 3, min_samples: 200, window: 3_600_000 } },
      { name: 'tuned', type: 'anomaly', anomaly: { kinds: ['error'], threshold: 3, min_samples: 200, window: 3_600_000 } },
    ]);
  });

  it('are read as written', () => {
    const result = validateYamlText(WITH_ANOMALY, 'p.yaml', policyFileSchema);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.value.policies[1]).toEqual({
      name: 'unusual',
      type: 'anomaly',
      anomaly: { kinds: ['latency', 'new_operation'], threshold: 4.5, min_samples: 500, window: 1_800_000 },
    });
  });

  it('report their mistakes, before anything is built', () => {
    const text = [
      'policies:',
      '  - name: unusual',
      '    type: anomaly',
      '    anomaly: { kinds: [latncy], threshold: 0, min_samples: 0, window: 0s, windw: 1h }',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      'p.yaml:4:24: policies[0].anomaly.kinds[0]: invalid value "latncy"; did you mean "latency"?',
      'p.yaml:4:44: policies[0].anomaly.threshold: 0 is too small; must be greater than 0',
      'p.yaml:4:60: policies[0].anomaly.min_samples: 0 is too small; must be at least 1',
      'p.yaml:4:71: policies[0].anomaly.window: "0s" must be longer than 0s',
      'p.yaml:4:75: policies[0].anomaly.windw: unknown key "windw"; did you mean "window"?',
    ]);
  });
});

describe('anomaly: building', () => {
  it('fails at the policy, saying that the baselines stage is missing', () => {
    expect(problems(WITH_ANOMALY)).toEqual([`p.yaml:4:11: policies[1].type: ${ANOMALY_UNAVAILABLE}`]);
    expect(ANOMALY_UNAVAILABLE).toMatch(/^anomaly policies need the baselines stage, which this version does not have yet/);
  });

  it('fails at every anomaly policy, nested ones too', () => {
    const text = [
      'policies:',
      '  - name: unusual-checkout',
      '    type: and',
      '    and:',
      '      and_sub_policy:',
      '        - { name: checkout, type: string_attribute, string_attribute: { key: service.name, values: [checkout] } }',
      '        - { name: unusual, type: anomaly }',
      '  - { name: unusual-anywhere, type: anomaly }',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      `p.yaml:7:34: policies[0].and.and_sub_policy[1].type: ${ANOMALY_UNAVAILABLE}`,
      `p.yaml:8:37: policies[1].type: ${ANOMALY_UNAVAILABLE}`,
    ]);
  });

  it('fails at its place in a Collector config', () => {
    const text = [
      'receivers: { otlp: {} }',
      'processors:',
      '  tail_sampling:',
      '    policies:',
      '      - { name: unusual, type: anomaly }',
      'service: {}',
      '',
    ].join('\n');
    expect(problems(text, 'collector.yaml')).toEqual([`collector.yaml:5:32: processors.tail_sampling.policies[0].type: ${ANOMALY_UNAVAILABLE}`]);
  });

  it('throws a PolicyBuildError naming the path when built directly', () => {
    const result = validateYamlText(WITH_ANOMALY, 'p.yaml', policyFileSchema);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    let error: unknown;
    try {
      buildPolicySet(result.value as PolicyFileConfig);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyBuildError);
    expect((error as PolicyBuildError).path).toEqual(['policies', 1, 'type']);
    expect((error as PolicyBuildError).code).toBe('POLICY_UNSUPPORTED');
  });

  it('is not allowed under not', () => {
    const text = 'policies:\n  - name: ordinary\n    type: not\n    not: { not_sub_policy: { type: anomaly } }\n';
    expect(problems(text)[0]).toMatch(/^p\.yaml:4:36: policies\[0\]\.not\.not_sub_policy\.type: type "anomaly" cannot be used here \(under not_sub_policy\)/);
  });
});
