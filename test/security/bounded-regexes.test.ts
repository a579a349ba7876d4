import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import { parsePolicyText } from '../../src/policies/policy-file.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

/*
 * Policy regexes (string_attribute with enabled_regex_matching, OTTL IsMatch) are RE2:
 * matching takes time linear in the input, so a pattern that makes backtracking engines
 * run for ages cannot stall the decision loop; and what RE2 cannot do in linear time
 * (backreferences, lookaround) is refused when the file is validated, with its position.
 */

const ctx = { nowMs: TEST_BASE_MS };
/** 100 KB of "a" and one "b": (a+)+$ backtracks through 2^100000 ways on it. */
const HOSTILE_VALUE = `${'a'.repeat(100_000)}b`;

describe('catastrophic-backtracking patterns', () => {
  it('compile with RE2 and answer on a 100 KB input', () => {
    expect(RE2JS.compile('(a+)+$').matcher(HOSTILE_VALUE).find()).toBe(false);
    expect(RE2JS.compile('(a+)+b$').matcher(HOSTILE_VALUE).find()).toBe(true);
    expect(RE2JS.compile('^(a|aa)+$').matches(HOSTILE_VALUE)).toBe(false);
    expect(RE2JS.compile('(.*a){12}').matcher(HOSTILE_VALUE).find()).toBe(true);
  });

  it.each([
    ['string_attribute', '{ type: string_attribute, string_attribute: { key: url.path, enabled_regex_matching: true, values: ["(a+)+$"] } }', false],
    ['OTTL IsMatch', `{ type: ottl_condition, ottl_condition: { span: ['IsMatch(attributes["url.path"], "^(a|aa)+$")'] } }`, false],
    ['OTTL IsMatch (matching)', `{ type: ottl_condition, ottl_condition: { span: ['IsMatch(attributes["url.path"], "(a+)+b$")'] } }`, true],
  ])('a %s policy decides on a 100 KB attribute', (_name, policy, keep) => {
    const result = parsePolicyText(`policies:\n  - ${policy.replace('{ ', '{ name: p, ')}\n`, 'p.yaml');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const trace = makeTrace([{ attributes: { 'url.path': HOSTILE_VALUE } }]);
    expect(result.policySet.decide(trace, ctx).keep).toBe(keep);
  });
});

describe('patterns RE2 cannot run in linear time', () => {
  it.each([
    ['a backreference', '(a)\\\\1', 'invalid escape sequence', true],
    ['a named backreference', '(?P<x>a)(?P=x)', 'invalid or unsupported Perl syntax', false],
    ['lookahead', 'a(?=b)', 'invalid or unsupported Perl syntax', true],
    ['negative lookbehind', '(?<!a)b', 'invalid named capture', true],
  ])('%s is refused with the file, line and column of the pattern', (_name, pattern, reason, hint) => {
    const result = parsePolicyText(
      [
        'policies:',
        '  - name: r',
        '    type: string_attribute',
        `    string_attribute: { key: k, enabled_regex_matching: true, values: ["${pattern}"] }`,
        '  - name: o',
        '    type: ottl_condition',
        '    ottl_condition:',
        `      span: ['IsMatch(name, "${pattern}")']`,
        '',
      ].join('\n'),
      'p.yaml',
    );
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(new RegExp(`^p\\.yaml:4:72: policies\\[0\\]\\.string_attribute\\.values\\[0\\]: invalid regex .*${reason}`));
    if (hint) expect(problems[0]).toMatch(/\(RE2 has no lookaround or backreferences\)$/);
    expect(problems[1]).toMatch(new RegExp(`^p\\.yaml:8:14: policies\\[1\\]\\.ottl_condition\\.span\\[0\\]: invalid OTTL condition: invalid regex .*${reason}`));
  });
});
