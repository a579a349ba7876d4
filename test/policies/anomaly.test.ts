import { describe, expect, it } from 'vitest';
import { validateYamlText } from '../../src/config/yaml-validation.js';
import { parsePolicyText } from '../../src/policies/policy-file.js';
import { policyFileSchema } from '../../src/policies/policy-schema.js';

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
  it('builds, top level and nested, in policy files and Collector configs', () => {
    const plain = parsePolicyText(WITH_ANOMALY, 'p.yaml');
    expect(plain.ok && plain.policySet.policyNames).toEqual(['errors', 'unusual']);
    const nested = parsePolicyText(
      'policies:\n  - name: unusual-checkout\n    type: and\n    and:\n      and_sub_policy:\n        - { name: checkout, type: string_attribute, string_attribute: { key: service.name, values: [checkout] } }\n        - { name: odd, type: anomaly, anomaly: {} }\n',
      'p.yaml',
    );
    expect(nested.ok).toBe(true);
    const collector = parsePolicyText(
      'receivers: { otlp: {} }\nprocessors:\n  tail_sampling:\n    policies:\n      - { name: odd, type: anomaly, anomaly: { threshold: 4 } }\n',
      'collector.yaml',
    );
    expect(collector.ok).toBe(true);
  });

  it('is not allowed under not', () => {
    const text = 'policies:\n  - name: ordinary\n    type: not\n    not: { not_sub_policy: { type: anomaly } }\n';
    expect(problems(text)[0]).toMatch(/^p\.yaml:4:36: policies\[0\]\.not\.not_sub_policy\.type: type "anomaly" cannot be used here \(under not_sub_policy\)/);
  });
});
