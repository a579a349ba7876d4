import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCommand } from '../../src/cli/validate.js';
import { isCollectorConfig, splitPolicyPath } from '../../src/policies/collector-config.js';
import { loadPolicyFile, parsePolicyText } from '../../src/policies/policy-file.js';
import type { PolicyFileResult } from '../../src/policies/policy-file.js';
import type { SpanSpec } from '../support/trace-builder.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

/** A Collector config as a platform team runs it: tail sampling between the memory limiter and the batch processor. */
const COLLECTOR_CONFIG = `extensions:
  health_check:
    endpoint: 0.0.0.0:13133

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318

processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 25
  batch:
    send_batch_size: 8192
    timeout: 200ms
  tail_sampling:
    decision_wait: 10s
    num_traces: 100_000
    expected_new_traces_per_sec: 1000
    decision_cache:
      sampled_cache_size: 500_000
    policies:
      - name: drop-health-checks
        type: drop
        drop:
          drop_sub_policy:
            - name: health-path
              type: string_attribute
              string_attribute:
                key: url.path
                values: ['^/(healthz|readyz)$']
                enabled_regex_matching: true
      - name: errors
        type: status_code
        status_code: { status_codes: [ERROR] }
      - name: slow-checkout
        type: and
        and:
          and_sub_policy:
            - name: checkout-service
              type: string_attribute
              string_attribute: { key: service.name, values: [checkout] }
            - name: slower-than-500ms
              type: latency
              latency: { threshold_ms: 500 }
      - name: budget
        type: composite
        composite:
          max_total_spans_per_second: 100
          policy_order: [vip-customers, everything-else]
          composite_sub_policy:
            - name: vip-customers
              type: string_attribute
              string_attribute: { key: customer.tier, values: [vip] }
            - name: everything-else
              type: always_sample
          rate_allocation:
            - { policy: vip-customers, percent: 60 }
            - { policy: everything-else, percent: 40 }
  attributes/strip-pii:
    actions:
      - key: user.email
        action: delete

exporters:
  otlp/tempo:
    endpoint: \${env:TEMPO_ENDPOINT}
    tls:
      insecure: true
  debug:
    verbosity: basic

service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, tail_sampling, attributes/strip-pii, batch]
      exporters: [otlp/tempo, debug]
  telemetry:
    logs:
      level: info
`;

/** Two tail samplers, one per region, as a Collector config with two pipelines has them. */
const TWO_SAMPLERS = `receivers:
  otlp:
    protocols: { http: {} }
processors:
  tail_sampling/eu:
    policies:
      - { name: eu-errors, type: status_code, status_code: { status_codes: [ERROR] } }
  tail_sampling/us:
    decision_wait: 5s
    policies:
      - { name: us-everything, type: always_sample }
exporters:
  debug: {}
service:
  pipelines:
    traces/eu: { receivers: [otlp], processors: [tail_sampling/eu], exporters: [debug] }
    traces/us: { receivers: [otlp], processors: [tail_sampling/us], exporters: [debug] }
`;

function loaded(result: PolicyFileResult): Extract<PolicyFileResult, { ok: true }> {
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result;
}

function problemsOf(result: PolicyFileResult): readonly string[] {
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

/** `FILE:LINE:COL` of the first occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string, fileName: string): string {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes(needle));
  return `${fileName}:${line + 1}:${lines[line].indexOf(needle) + 1}`;
}

describe('a whole Collector config as the policy file', () => {
  it('is told apart from a policy file by its top-level keys', () => {
    expect(isCollectorConfig({ receivers: {}, processors: {}, service: {} })).toBe(true);
    expect(isCollectorConfig({ service: {} })).toBe(true);
    expect(isCollectorConfig({ decision_wait: '10s', policies: [] })).toBe(false);
    expect(isCollectorConfig([])).toBe(false);
  });

  it('takes the settings and policies of its tail_sampling processor', () => {
    const result = loaded(parsePolicyText(COLLECTOR_CONFIG, 'collector.yaml'));
    expect(result.policySet.policyNames).toEqual(['drop-health-checks', 'errors', 'slow-checkout', 'budget']);
    expect(result.settings).toMatchObject({ decisionWaitMs: 10_000, numTraces: 100_000, expectedNewTracesPerSec: 1000, sampledCacheSize: 500_000 });
  });

  it('decides a second of traffic as the Collector would', () => {
    const { policySet } = loaded(parsePolicyText(COLLECTOR_CONFIG, 'collector.yaml'));
    const ctx = { nowMs: TEST_BASE_MS + 100 };
    const checkout = { 'service.name': 'checkout' };
    const catalog = { 'service.name': 'catalog' };
    const payments = { 'service.name': 'payments' };
    let id = 0;
    const trace = (specs: SpanSpec[]) => makeTrace(specs, { traceId: (++id).toString(16).padStart(32, '0') });
    const workload = [
      // Probes, one of them failing: dropped whatever the error policy says.
      ...Array.from({ length: 5 }, (_, i) => trace([{ resource: catalog, statusCode: i === 0 ? 2 : 0, attributes: { 'url.path': '/healthz' } }])),
      // Failures: kept by "errors"; they still use up the composite's budget (20 of its 40 spans), as in the Collector.
      ...Array.from({ length: 10 }, () => trace([{ resource: payments, statusCode: 2 }, { resource: payments, parentSpanId: 'aaaaaaaaaaaaaaaa' }])),
      // Slow checkouts: kept by the and, 6 more spans of the budget.
      ...Array.from({ length: 3 }, () => trace([{ resource: checkout, durationMs: 800 }, { resource: checkout, parentSpanId: 'aaaaaaaaaaaaaaaa' }])),
      // A slow catalog call is not a slow checkout: only the budget can keep it.
      ...Array.from({ length: 10 }, () => trace([{ resource: catalog, durationMs: 800 }, { resource: catalog, parentSpanId: 'aaaaaaaaaaaaaaaa' }])),
      // VIP traffic has 60 spans a second of its own: 20 traces of 3 spans.
      ...Array.from({ length: 30 }, () => trace([{ resource: checkout, attributes: { 'customer.tier': 'vip' } }, {}, {}])),
    ];
    const reasons = new Map<string, number>();
    for (const t of workload) {
      const decision = policySet.decide(t, ctx);
      const reason = `${decision.keep ? 'kept' : 'not kept'}: ${decision.policy ?? '-'}`;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    expect(Object.fromEntries(reasons)).toEqual({
      'not kept: drop-health-checks': 5,
      'kept: errors': 10,
      'kept: slow-checkout': 3,
      // 14 spans of the 40 left: 7 catalog traces; then 20 VIP traces.
      'kept: budget': 27,
      'not kept: -': 13,
    });
  });

  it('reports problems at their line and column in the Collector config, with their path in it', () => {
    const text = COLLECTOR_CONFIG.replace('latency: { threshold_ms: 500 }', 'latency: { threshold_msec: 500 }').replace(
      'decision_wait: 10s',
      'decision_wait: 10s\n    decision_wait_after_root_received: 20s',
    );
    expect(problemsOf(parsePolicyText(text, 'collector.yaml'))).toEqual([
      `${positionOf(text, '20s', 'collector.yaml')}: processors.tail_sampling.decision_wait_after_root_received: decision_wait_after_root_received (20s) must be shorter than decision_wait (10s); raise decision_wait or lower the other`,
      `${positionOf(text, 'threshold_msec', 'collector.yaml')}: processors.tail_sampling.policies[2].and.and_sub_policy[1].latency.threshold_msec: unknown key "threshold_msec"; did you mean "threshold_ms"?`,
    ]);
  });

  it('does not judge the rest of the Collector config', () => {
    const text = COLLECTOR_CONFIG.replace('verbosity: basic', 'verbosity: basic\n    some_future_option: [1, 2]');
    expect(parsePolicyText(text, 'collector.yaml').ok).toBe(true);
  });

  it('asks which tail_sampling processor to use when there are several', () => {
    expect(problemsOf(parsePolicyText(TWO_SAMPLERS, 'collector.yaml'))).toEqual([
      `${positionOf(TWO_SAMPLERS, 'processors:', 'collector.yaml')}: processors: this Collector config has several tail_sampling processors (tail_sampling/eu, tail_sampling/us); name the one to use, e.g. collector.yaml#tail_sampling/eu`,
    ]);
    const us = loaded(parsePolicyText(TWO_SAMPLERS, 'collector.yaml', 'tail_sampling/us'));
    expect(us.policySet.policyNames).toEqual(['us-everything']);
    expect(us.settings.decisionWaitMs).toBe(5000);
    expect(loaded(parsePolicyText(TWO_SAMPLERS, 'collector.yaml', 'tail_sampling/eu')).policySet.policyNames).toEqual(['eu-errors']);
  });

  it('names the processors there are when the one asked for is not there', () => {
    expect(problemsOf(parsePolicyText(TWO_SAMPLERS, 'collector.yaml', 'tail_sampling/apac'))).toEqual([
      `${positionOf(TWO_SAMPLERS, 'processors:', 'collector.yaml')}: processors: no processor "tail_sampling/apac" in this Collector config; its tail_sampling processors: tail_sampling/eu, tail_sampling/us`,
    ]);
  });

  it('says so when a Collector config has no tail_sampling processor', () => {
    const text = 'receivers:\n  otlp: {}\nprocessors:\n  batch: {}\nservice: {}\n';
    expect(problemsOf(parsePolicyText(text, 'collector.yaml'))).toEqual([
      'collector.yaml:3:1: processors: this Collector config has no tail_sampling processor; tailsift takes its policies from processors.tail_sampling',
    ]);
    expect(problemsOf(parsePolicyText('receivers:\n  otlp: {}\n', 'collector.yaml'))).toEqual([
      'collector.yaml:1:1: (root): this Collector config has no processors; tailsift takes its policies from the tail_sampling processor (processors.tail_sampling)',
    ]);
  });

  it('refuses a processor name on a plain policy file', () => {
    expect(problemsOf(parsePolicyText('policies:\n  - { name: all, type: always_sample }\n', 'p.yaml', 'tail_sampling/eu'))).toEqual([
      'p.yaml:1:1: (root): "#tail_sampling/eu" names a processor of a Collector config, but this is a policy file (no processors, receivers or service); leave "#tail_sampling/eu" out',
    ]);
  });

  it('splits FILE#tail_sampling/<name>, and only that', () => {
    expect(splitPolicyPath('/etc/otel/collector.yaml#tail_sampling/eu')).toEqual({ file: '/etc/otel/collector.yaml', processor: 'tail_sampling/eu' });
    expect(splitPolicyPath('collector.yaml#tail_sampling')).toEqual({ file: 'collector.yaml', processor: 'tail_sampling' });
    expect(splitPolicyPath('policies/team#1.yaml')).toEqual({ file: 'policies/team#1.yaml', processor: undefined });
  });

  describe('from files', () => {
    let dir: string;
    const misspelt = TWO_SAMPLERS.replace('us-everything, type: always_sample', 'us-everything, type: always_sampel');

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tailsift-collector-'));
      await writeFile(join(dir, 'collector.yaml'), COLLECTOR_CONFIG);
      await writeFile(join(dir, 'two.yaml'), misspelt);
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('loads FILE#tail_sampling/<name>, and problems name the file without the processor', async () => {
      const path = join(dir, 'two.yaml');
      expect(loaded(await loadPolicyFile(`${path}#tail_sampling/eu`)).policySet.policyNames).toEqual(['eu-errors']);
      expect(problemsOf(await loadPolicyFile(`${path}#tail_sampling/us`))).toEqual([
        `${positionOf(misspelt, 'always_sampel', path)}: processors["tail_sampling/us"].policies[0].type: unknown type "always_sampel"; did you mean "always_sample"?`,
      ]);
    });

    it('passes `tailsift validate`', async () => {
      const lines: string[] = [];
      const code = await validateCommand([join(dir, 'collector.yaml')], { stdout: (l) => lines.push(l), stderr: (l) => lines.push(l) });
      expect({ code, lines }).toEqual({ code: 0, lines: [`${join(dir, 'collector.yaml')}: ok`] });
    });

    it('passes `tailsift validate FILE#tail_sampling/<name>` per processor, also through an engine config', async () => {
      const run = async (args: string[]) => {
        const lines: string[] = [];
        const code = await validateCommand(args, { stdout: (l) => lines.push(l), stderr: (l) => lines.push(l) });
        return { code, lines };
      };
      const two = join(dir, 'two.yaml');
      expect(await run([`${two}#tail_sampling/eu`])).toEqual({ code: 0, lines: [`${two}#tail_sampling/eu: ok`] });
      expect(await run([`${two}#tail_sampling/us`])).toEqual({
        code: 1,
        lines: [`${positionOf(misspelt, 'always_sampel', two)}: processors["tail_sampling/us"].policies[0].type: unknown type "always_sampel"; did you mean "always_sample"?`],
      });
      await writeFile(join(dir, 'engine.yaml'), 'policies: two.yaml#tail_sampling/eu\n');
      const viaConfig = await run([join(dir, 'engine.yaml')]);
      expect(viaConfig.code).toBe(0);
      expect(viaConfig.lines[0]).toBe(`${join(dir, 'engine.yaml')}: ok`);
    });
  });
});
