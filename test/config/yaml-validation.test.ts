import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatPath, parseYaml, suggest, validateYamlFile, validateYamlText } from '../../src/config/yaml-validation.js';

const schema = z.strictObject({
  name: z.string().min(1),
  limits: z
    .strictObject({
      threshold_ms: z.number().int().min(0),
      upper_threshold_ms: z.number().int().optional(),
    })
    .optional(),
  mode: z.enum(['fast', 'careful']).optional(),
  items: z
    .array(
      z.discriminatedUnion('type', [
        z.strictObject({ type: z.literal('latency'), latency: z.strictObject({ threshold_ms: z.number() }) }),
        z.strictObject({ type: z.literal('always_sample') }),
      ]),
    )
    .optional(),
});

function problemsOf(text: string): readonly string[] {
  const result = validateYamlText(text, 'f.yaml', schema);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('validateYamlText', () => {
  it('returns the parsed value when the document is valid', () => {
    const result = validateYamlText('name: x\nlimits: { threshold_ms: 5 }\n', 'f.yaml', schema);
    expect(result.ok && result.value).toEqual({ name: 'x', limits: { threshold_ms: 5 } });
  });

  it.each([
    [
      'an unknown key at its own position, with the closest valid key',
      'name: x\nlimits:\n  treshold_ms: 5\n',
      ['f.yaml:3:3: limits.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?'],
    ],
    [
      'an unknown key with nothing close lists the valid keys',
      'name: x\ncolour: red\n',
      ['f.yaml:2:1: colour: unknown key "colour"; valid keys: name, limits, mode, items'],
    ],
    [
      'a missing required key at the parent object',
      'name: x\nlimits:\n  upper_threshold_ms: 5\n',
      ['f.yaml:3:3: limits.threshold_ms: missing required key "threshold_ms"'],
    ],
    [
      'a missing key of an empty parent at the parent key',
      'name: x\nitems:\n  - type: latency\n    latency:\n',
      ['f.yaml:4:5: items[0].latency: expected a map, got nothing'],
    ],
    [
      'a wrong type at the value',
      'name: x\nlimits: { threshold_ms: "soon" }\n',
      ['f.yaml:2:25: limits.threshold_ms: expected a number, got string "soon"'],
    ],
    [
      'a fraction where an integer is needed',
      'name: x\nlimits: { threshold_ms: 1.5 }\n',
      ['f.yaml:2:25: limits.threshold_ms: expected an integer, got number 1.5'],
    ],
    [
      'a number below the minimum',
      'name: x\nlimits: { threshold_ms: -1 }\n',
      ['f.yaml:2:25: limits.threshold_ms: -1 is too small; must be at least 0'],
    ],
    [
      'an enum value differing only in case',
      'name: x\nmode: FAST\n',
      ['f.yaml:2:7: mode: invalid value "FAST"; did you mean "fast"?'],
    ],
    [
      'an unknown discriminator with a suggestion',
      'name: x\nitems:\n  - type: lateny\n',
      ['f.yaml:3:11: items[0].type: unknown type "lateny"; did you mean "latency"?'],
    ],
    [
      'a missing discriminator at the item',
      'name: x\nitems:\n  - latency: { threshold_ms: 1 }\n',
      ['f.yaml:3:5: items[0].type: missing required key "type"; one of: latency, always_sample'],
    ],
    [
      'an empty string',
      'name: ""\n',
      ['f.yaml:1:7: name: must not be empty'],
    ],
    [
      'a typo of a required key once, not also as the missing key',
      'name: x\nitems:\n  - type: latency\n    latency: { treshold_ms: 5 }\n',
      ['f.yaml:4:16: items[0].latency.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?'],
    ],
    [
      'a document that is not a map',
      '- a\n- b\n',
      ['f.yaml:1:1: (root): expected a map, got a list'],
    ],
  ])('reports %s', (_, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('reports every problem at once, in source order', () => {
    const text = ['mode: slow', 'name: 5', 'limits:', '  threshold_ms: x', '  extra: 1', 'items:', '  - type: nope', ''].join('\n');
    expect(problemsOf(text)).toEqual([
      'f.yaml:1:7: mode: invalid value "slow"; expected one of: fast, careful',
      'f.yaml:2:7: name: expected a string, got number 5',
      'f.yaml:4:17: limits.threshold_ms: expected a number, got string "x"',
      'f.yaml:5:3: limits.extra: unknown key "extra"; valid keys: threshold_ms, upper_threshold_ms',
      'f.yaml:7:11: items[0].type: unknown type "nope"; expected one of: latency, always_sample',
    ]);
  });

  it.each([
    ['a duplicate key', 'name: x\nname: y\n', 'f.yaml:2:1: (syntax): Map keys must be unique'],
    ['an unclosed flow sequence', 'name: x\nitems: [\n', 'f.yaml:3:1: (syntax): Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['a tab indentation', 'limits:\n\tthreshold_ms: 1\n', 'f.yaml:2:1: (syntax): Tabs are not allowed as indentation'],
    ['two documents', 'name: x\n---\nname: y\n', 'f.yaml:2:1: (syntax): Source contains multiple documents; please use YAML.parseAllDocuments()'],
  ])('reports %s as a syntax problem with its position', (_, text, expected) => {
    expect(problemsOf(text)[0]).toBe(expected);
  });

  it('runs extra checks alongside the schema problems', () => {
    const result = validateYamlText('name: x\nlimits: { threshold_ms: 9, upper_threshold_ms: 3 }\nmode: nope\n', 'f.yaml', schema, {
      checks: () => [{ path: ['limits', 'upper_threshold_ms'], message: 'must be above threshold_ms' }],
    });
    expect(result.ok ? [] : result.problems).toEqual([
      'f.yaml:2:48: limits.upper_threshold_ms: must be above threshold_ms',
      'f.yaml:3:7: mode: invalid value "nope"; expected one of: fast, careful',
    ]);
  });

  it('reads integers with digit separators as the Collector does', () => {
    const result = validateYamlText('name: x\nlimits: { threshold_ms: 100_000 }\n', 'f.yaml', schema);
    expect(result.ok && result.value.limits?.threshold_ms).toBe(100_000);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const parsed = parseYaml(lines.join('\n'), 'bomb.yaml');
    expect(parsed.syntaxProblems).toHaveLength(1);
    expect(parsed.syntaxProblems[0]).toMatch(/^bomb\.yaml:1:1: \(syntax\): .*alias/i);
  });
});

describe('validateYamlFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-yaml-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the file as given and reads it', async () => {
    const path = join(dir, 'ok.yaml');
    await writeFile(path, 'name: x\n');
    const result = await validateYamlFile(path, schema, {}, 'ok.yaml');
    expect(result.ok).toBe(true);
  });

  it('reports a missing file as one problem', async () => {
    const result = await validateYamlFile(join(dir, 'absent.yaml'), schema, {}, 'absent.yaml');
    expect(result.ok ? [] : result.problems).toEqual(['absent.yaml:1:1: (file): cannot read file: no such file']);
  });
});

describe('formatPath', () => {
  it.each([
    [[], '(root)'],
    [['policies', 2, 'latency', 'threshold_ms'], 'policies[2].latency.threshold_ms'],
    [['sinks', 0, 'headers', 'x-api-key'], 'sinks[0].headers.x-api-key'],
    [['attrs', 'service.name'], 'attrs["service.name"]'],
  ])('%j reads %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});

describe('suggest', () => {
  it.each([
    ['treshold_ms', ['threshold_ms', 'upper_threshold_ms'], 'threshold_ms'],
    ['error', ['OK', 'ERROR', 'UNSET'], 'ERROR'],
    ['lateny', ['latency', 'always_sample'], 'latency'],
    ['prot', ['host', 'port'], 'port'],
    ['colour', ['name', 'limits'], undefined],
    ['x', ['OK', 'ERROR'], undefined],
    ['x', [], undefined],
  ])('%s among %j suggests %s', (word, candidates, expected) => {
    expect(suggest(word, candidates)).toBe(expected);
  });
});
