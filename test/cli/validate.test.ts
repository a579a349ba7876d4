import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFileKind, validateCommand } from '../../src/cli/validate.js';
import { packageRoot } from '../../src/config/engine-config.js';

async function run(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await validateCommand(args, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
  return { code, stdout, stderr };
}

const DEFAULT_POLICIES = join(packageRoot(), 'policies', 'default.yaml');

describe('tailsift validate', () => {
  let dir: string;
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-validate-'));
    await writeFile(file('good-policies.yaml'), 'decision_wait: 5s\npolicies:\n  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n');
    await writeFile(file('bad-policies.yaml'), 'policies:\n  - name: slow\n    type: latency\n    latency: { treshold_ms: 100 }\n');
    await writeFile(file('config.yaml'), 'source: { port: 14318 }\npolicies: good-policies.yaml\n');
    await writeFile(file('config-bad-policies.yaml'), 'policies: bad-policies.yaml\n');
    await writeFile(file('config-missing-policies.yaml'), 'admin: { port: 19464 }\npolicies: nowhere.yaml\n');
    await writeFile(file('bad-config.yaml'), 'source:\n  prot: 4318\n');
    await writeFile(file('empty.yaml'), '');
    await writeFile(file('syntax.yaml'), 'policies:\n  - name: a\n   type: always_sample\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 2 with usage when no file is given', async () => {
    const result = await run([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toEqual([]);
    expect(result.stderr[0]).toBe('tailsift validate: no files given');
  });

  it('exits 2 on an unknown option', async () => {
    const result = await run(['--strict', file('good-policies.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr[0]).toBe('tailsift validate: unknown option "--strict"');
  });

  it('prints usage and exits 0 on --help', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout[0]).toMatch(/^Usage: tailsift validate FILE\.\.\./);
  });

  it('exits 0 and prints "FILE: ok" for a valid policy file', async () => {
    expect(await run([file('good-policies.yaml')])).toEqual({ code: 0, stdout: [`${file('good-policies.yaml')}: ok`], stderr: [] });
  });

  it('exits 1 with one line per problem for a broken policy file', async () => {
    expect(await run([file('bad-policies.yaml')])).toEqual({
      code: 1,
      stdout: [`${file('bad-policies.yaml')}:4:16: policies[0].latency.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?`],
      stderr: [],
    });
  });

  it('validates an engine config together with the policy file it names', async () => {
    const policyName = relative(process.cwd(), file('good-policies.yaml'));
    const shown = policyName.startsWith('..') ? file('good-policies.yaml') : policyName;
    expect(await run([file('config.yaml')])).toEqual({ code: 0, stdout: [`${file('config.yaml')}: ok`, `${shown}: ok`], stderr: [] });
  });

  it('reports the problems of the policy file a config names', async () => {
    const result = await run([file('config-bad-policies.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toHaveLength(2);
    expect(result.stdout[0]).toMatch(/bad-policies\.yaml:4:16: policies\[0\]\.latency\.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"\?$/);
    expect(result.stdout[1]).toBe(`${file('config-bad-policies.yaml')}: ok`);
  });

  it('points at the policies line of a config whose policy file is missing', async () => {
    const missing = file('nowhere.yaml');
    const rel = relative(process.cwd(), missing);
    const shown = rel.startsWith('..') ? missing : rel;
    expect(await run([file('config-missing-policies.yaml')])).toEqual({
      code: 1,
      stdout: [`${file('config-missing-policies.yaml')}:2:11: policies: policy file "${shown}": cannot read file: no such file`],
      stderr: [],
    });
  });

  it('reports a broken engine config with its position', async () => {
    expect(await run([file('bad-config.yaml')])).toEqual({
      code: 1,
      stdout: [`${file('bad-config.yaml')}:2:3: source.prot: unknown key "prot"; did you mean "port"?`],
      stderr: [],
    });
  });

  it('accepts an empty file as an engine config with every default, and checks the default policy file', async () => {
    const result = await run([file('empty.yaml')]);
    expect(result.code).toBe(0);
    expect(result.stdout[0]).toBe(`${file('empty.yaml')}: ok`);
    expect(result.stdout[1]).toMatch(/policies\/default\.yaml: ok$/);
  });

  it('reports YAML syntax errors with their position', async () => {
    expect(await run([file('syntax.yaml')])).toEqual({
      code: 1,
      stdout: [`${file('syntax.yaml')}:3:1: (syntax): Sequence item without - indicator`],
      stderr: [],
    });
  });

  it('reports a missing file and exits 1', async () => {
    expect(await run([file('absent.yaml')])).toEqual({ code: 1, stdout: [`${file('absent.yaml')}:1:1: (file): cannot read file: no such file`], stderr: [] });
  });

  it('checks every file and exits 1 when any is invalid', async () => {
    const result = await run([file('good-policies.yaml'), file('bad-policies.yaml'), file('bad-config.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([
      `${file('good-policies.yaml')}: ok`,
      `${file('bad-policies.yaml')}:4:16: policies[0].latency.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?`,
      `${file('bad-config.yaml')}:2:3: source.prot: unknown key "prot"; did you mean "port"?`,
    ]);
  });

  it('validates the packaged default policy file clean', async () => {
    expect(await run([DEFAULT_POLICIES])).toEqual({ code: 0, stdout: [`${DEFAULT_POLICIES}: ok`], stderr: [] });
  });
});

describe('detectFileKind', () => {
  it.each([
    ['a policy list', { policies: [] }, 'policy-file'],
    ['a policy file path', { policies: 'p.yaml' }, 'engine-config'],
    ['engine sections', { source: {}, sinks: [] }, 'engine-config'],
    ['policy settings without policies', { decision_wait: '5s' }, 'policy-file'],
    ['a misspelt policy setting', { decison_wait: '5s' }, 'policy-file'],
    ['a misspelt engine section', { soruce: {} }, 'engine-config'],
    ['a pasted processor block', { tail_sampling: {} }, 'policy-file'],
    ['nothing', undefined, 'engine-config'],
  ])('takes %s for a %s', (_, data, kind) => {
    expect(detectFileKind(data)).toBe(kind);
  });
});
