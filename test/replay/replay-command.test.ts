import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { replayCommand } from '../../src/cli/replay.js';
import type { ReplaySummary } from '../../src/replay/replay-summary.js';
import { Captured, KEEP_ERRORS, generateShopTraffic, scratch, spansOfJsonLines, writePolicy, type GeneratedInput } from './replay-fixtures.js';

const cliPath = fileURLToPath(new URL('../../bin/tailsift.js', import.meta.url));

async function replay(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Captured();
  const stderr = new Captured();
  const code = await replayCommand(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('tailsift replay', () => {
  const { dir, cleanup } = scratch();
  let input: GeneratedInput;
  let policies: string;

  beforeAll(async () => {
    input = await generateShopTraffic(dir, { rate: 20, durationSeconds: 5 });
    policies = writePolicy(dir, 'errors.yaml', KEEP_ERRORS);
  });
  afterAll(cleanup);

  it('writes kept traces, the summary, the report and the alerts file', async () => {
    const out = join(dir, 'run', 'kept.jsonl');
    const summaryPath = join(dir, 'run', 'summary.json');
    const alerts = join(dir, 'run', 'alerts.jsonl');
    const report = join(dir, 'run', 'report.html');
    const result = await replay(['--policies', policies, '--input', input.path, '--out', out, '--summary', summaryPath, '--alerts', alerts, '--report', report]);

    expect(result.code).toBe(0);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as ReplaySummary;
    const errorTraces = input.manifest.filter((t) => t.hasError);
    expect(summary.traces).toEqual({ total: input.manifest.length, kept: errorTraces.length });
    expect(summary.spans.kept).toBe(spansOfJsonLines(out).length);
    expect(result.stdout).toContain(`kept ${errorTraces.length} of ${input.manifest.length} traces`);
    // Five seconds of traffic are too few for baselines to judge anything: no alert, and nothing to say about it.
    expect(readFileSync(alerts, 'utf8')).toBe('');
    expect(summary.alerts).toMatchObject({ count: 0, source: expect.stringContaining('baselines') });
    expect(result.stdout).toContain('alerts: none');
    expect(result.stderr).toBe('');
    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('replaces the kept file instead of adding to it', async () => {
    const out = join(dir, 'again.jsonl');
    await replay(['--policies', policies, '--input', input.path, '--out', out]);
    const first = readFileSync(out, 'utf8');
    await replay(['--policies', policies, '--input', input.path, '--out', out]);
    expect(first).not.toBe('');
    expect(readFileSync(out, 'utf8')).toBe(first);
  });

  it('takes the policy file from an engine config', async () => {
    const config = join(dir, 'tailsift.yaml');
    writeFileSync(config, 'policies: errors.yaml\n');
    const result = await replay(['--config', config, '--input', input.path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`kept ${input.manifest.filter((t) => t.hasError).length} of`);
  });

  it('stops at the first bad line with FILE:LINE: reason and exit code 1', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${input.lines[0]}\n\n{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}\n${input.lines[1]}\n`);
    const result = await replay(['--policies', policies, '--input', bad]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`${bad}:3: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex characters, got "xyz"\n`);
  });

  it('refuses JSON lines that are not OTLP, such as a manifest', async () => {
    const manifest = join(dir, 'traffic.manifest.jsonl');
    const result = await replay(['--policies', policies, '--input', manifest]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${manifest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: not an OTLP/JSON ExportTraceServiceRequest: no "resourceSpans" key \\(found "traceId", "spans"`));
  });

  it('reports invalid JSON and unreadable paths', async () => {
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, '{"resourceSpans": [\n');
    expect((await replay(['--policies', policies, '--input', broken])).stderr).toMatch(/broken\.jsonl:1: invalid JSON: /);
    const missing = join(dir, 'missing.jsonl');
    expect(await replay(['--policies', policies, '--input', missing])).toEqual({ code: 1, stdout: '', stderr: `${missing}: no such file or directory\n` });
  });

  it('reports an invalid policy file as FILE:LINE:COL problems with exit code 1', async () => {
    const invalid = writePolicy(dir, 'invalid.yaml', 'decision_wait: 10s\npolicies:\n  - name: errors\n    type: status_code\n    status_code: { status_codes: [BROKEN] }\n');
    const result = await replay(['--policies', invalid, '--input', input.path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${invalid.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: policies\\[0\\]`));
  });

  it.each([
    [[], '--input is required'],
    [['--input', 'x.jsonl'], '--policies is required'],
    [['--policies', 'p.yaml', '--input', 'x.jsonl', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['--policies', 'p.yaml', '--input', 'x.jsonl', '--trace-url', 'http://jaeger/trace/'], 'must contain {traceId}'],
    [['--policies', 'p.yaml', '--input', 'x.jsonl', '--trace-url', 'javascript:alert({traceId})'], 'must be an http:// or https:// URL'],
    [['--policies', 'p.yaml', '--input', 'x.jsonl', '--report', 'r.html', '--summary', 'r.html'], 'must name different files'],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const result = await replay(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('refuses to write its output over an input', async () => {
    const copy = join(dir, 'copy.jsonl');
    writeFileSync(copy, input.lines.join('\n'));
    const result = await replay(['--policies', policies, '--input', copy, '--out', copy]);
    expect(result.code).toBe(2);
    expect(readFileSync(copy, 'utf8')).toBe(input.lines.join('\n'));
  });

  it('runs as `tailsift replay` from the built CLI', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [cliPath, 'replay', '--policies', policies, '--input', input.path], { timeout: 20_000 });
    expect(stdout).toContain(`kept ${input.manifest.filter((t) => t.hasError).length} of ${input.manifest.length} traces`);
  });
});
