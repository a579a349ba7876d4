import { describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { parseYaml } from '../../src/config/yaml-validation.js';
import { parsePolicyText } from '../../src/policies/policy-file.js';

/*
 * Engine configs and policy files are YAML read with the `yaml` package's core schema:
 * no tag can construct a function, a RegExp or a class instance, nothing in a file is ever
 * run, and aliases are expanded within a budget (maxAliasCount) so a small file cannot
 * become a huge document.
 */

const CANARY = '__tailsiftYamlCanary';

/** Tags other YAML loaders turn into code or objects; here each must stay inert data. */
const HOSTILE_TAGS = [
  `!!js/function "function () { globalThis.${CANARY} = 1; return 1 }"`,
  `!!js/function "() => { globalThis.${CANARY} = 1 }"`,
  '!!js/regexp /(a+)+$/',
  "!!js/undefined ''",
  '!!python/object/apply:os.system ["touch /tmp/tailsift-yaml-canary"]',
  '!!python/name:os.system ""',
  '!custom value',
  '!<tag:example.com,2026:thing> value',
  '!!binary aGVsbG8=',
  '!!set { a, b }',
  '!!omap [ { a: 1 } ]',
  '!!timestamp 2026-11-21',
];

/**
 * True when the value is data all the way down: JSON-like values, plus the built-in
 * containers YAML's own !!binary, !!set, !!omap and !!timestamp tags make. No function,
 * no RegExp, no instance of a class the file could choose.
 */
function isPlainData(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (value instanceof Uint8Array || value instanceof Date) return true;
  if (Array.isArray(value)) return value.every(isPlainData);
  if (value instanceof Set) return [...value].every(isPlainData);
  if (value instanceof Map) return [...value].every(([k, v]) => isPlainData(k) && isPlainData(v));
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value as Record<string, unknown>).every(isPlainData);
}

function policyProblems(text: string): readonly string[] {
  const result = parsePolicyText(text, 'p.yaml');
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.problems;
}

describe('YAML tags never run code or build objects', () => {
  it.each(HOSTILE_TAGS)('%s reads as data', (tagged) => {
    const parsed = parseYaml(`policies:\n  - name: p\n    type: always_sample\n    extra: ${tagged}\nvalue: ${tagged}\n`, 'p.yaml');
    expect(isPlainData(parsed.data)).toBe(true);
    expect((globalThis as Record<string, unknown>)[CANARY]).toBeUndefined();
  });

  it.each(HOSTILE_TAGS)('%s in a policy name is never called: the file is refused with the position', (tagged) => {
    const result = parsePolicyText(`policies:\n  - name: ${tagged}\n    type: always_sample\n`, 'p.yaml');
    // YAML's own tags (!!binary, !!set, ...) build data the schema refuses where a name belongs;
    // any other tag is refused as unknown. Either way the file is not taken.
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems.join('\n')).toMatch(/^p\.yaml:2:\d+: /m);
    expect((globalThis as Record<string, unknown>)[CANARY]).toBeUndefined();
  });

  it('a tag the core schema does not know is a problem naming the file, line and column, wherever it stands', () => {
    expect(policyProblems(`decision_wait: !!js/regexp /x/\npolicies: [{ name: a, type: always_sample }]\n`)).toEqual([
      'p.yaml:1:16: (syntax): Unresolved tag: tag:yaml.org,2002:js/regexp; tags are not supported, write the value as plain YAML',
    ]);
    const config = parseEngineConfigText(`source: { type: otlp-http, port: !!js/function "function () { return 4318 }" }\n`, 'tailsift.yaml', '/etc/tailsift', { env: {} });
    expect(config.ok ? [] : config.problems).toEqual([
      'tailsift.yaml:1:34: (syntax): Unresolved tag: tag:yaml.org,2002:js/function; tags are not supported, write the value as plain YAML',
    ]);
  });
});

describe('aliases are expanded within a budget', () => {
  /** Ten levels of ten aliases each: 10^10 strings if expanded. */
  function billionLaughs(): string {
    const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    return `${lines.join('\n')}\n`;
  }

  it('refuses a "billion laughs" policy file or engine config with a clear problem, without expanding it', () => {
    const before = process.memoryUsage().heapUsed;
    const policy = policyProblems(`${billionLaughs()}policies: [{ name: a, type: always_sample }]\n`);
    expect(policy).toEqual(['p.yaml:1:1: (syntax): Excessive alias count indicates a resource exhaustion attack']);
    const config = parseEngineConfigText(billionLaughs(), 'tailsift.yaml', '/etc/tailsift', { env: {} });
    expect(config.ok ? [] : config.problems).toEqual(['tailsift.yaml:1:1: (syntax): Excessive alias count indicates a resource exhaustion attack']);
    // Expanding even the first million strings would take far more than this.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('shares, rather than copies, what a wide fan-out of aliases points at', () => {
    // 500 aliases of one policy with 2,000 values: one object referenced 500 times.
    const values = Array.from({ length: 2000 }, (_, i) => `v${i}`).join(', ');
    const parsed = parseYaml(
      `base: &p { name: big, type: string_attribute, string_attribute: { key: k, values: [${values}] } }\npolicies: [${Array(500).fill('*p').join(', ')}]\n`,
      'p.yaml',
    );
    expect(parsed.syntaxProblems).toEqual([]);
    const policies = (parsed.data as { policies: unknown[] }).policies;
    expect(policies).toHaveLength(500);
    expect(new Set(policies).size).toBe(1);
  });

  it('leaves ordinary anchors working', () => {
    const result = parsePolicyText(
      [
        'policies:',
        '  - { name: slow-checkout, type: latency, latency: &slow { threshold_ms: 500 } }',
        '  - { name: slow-cart, type: latency, latency: *slow }',
        '',
      ].join('\n'),
      'p.yaml',
    );
    expect(result.ok && result.policySet.policyNames).toEqual(['slow-checkout', 'slow-cart']);
  });
});

describe('deeply nested YAML', () => {
  it('is a problem with a position, not a crash', () => {
    for (const text of [`policies: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, `policies: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n`]) {
      let problems: readonly string[] = [];
      expect(() => {
        problems = policyProblems(text);
      }).not.toThrow();
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) expect(p).toMatch(/^p\.yaml:1:\d+: /);
    }
  });
});
