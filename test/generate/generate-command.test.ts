import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCommand } from '../../src/cli/generate.js';
import { runGenerate } from '../../src/generate/index.js';
import { readJsonLines, readManifest } from './otlp-reader.js';
import { scratchDir } from './run-to-file.js';

const { dir, cleanup } = scratchDir();
afterAll(cleanup);

async function command(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await generateCommand(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('tailsift generate', () => {
  it.each([
    [[], '--target is required'],
    [['--target', 'file:x', '--rate', 'fast'], '--rate "fast": not a number'],
    [['--target', 'file:x', '--rate', '0'], '--rate 0: must be a number of traces per second above 0'],
    [['--target', 'file:x', '--duration=-1'], '--duration -1'],
    [['--target', 'file:x', '--seed', '1.5'], '--seed "1.5": must be a non-negative integer'],
    [['--target', 'file:x', '--start', 'yesterday'], '--start "yesterday": expected RFC 3339'],
    [['--target', 'file:x', '--scenario', 'bank'], '--scenario "bank": unknown; choose one of shop, rag, bench'],
    [['--target', 'file:x', '--fault', 'payment:latency=5@1-2'], 'latency "5" must be a multiplier like x5'],
    [['--target', 'file:x', '--fault', 'ghost:errors=0.1@1-2'], 'scenario shop has no service ghost'],
    [['--target', 'udp://127.0.0.1:1'], '--target "udp://127.0.0.1:1"'],
    [['--target', 'file:x', '--bogus'], "Unknown option '--bogus'"],
    [['--target', 'file:x', 'extra'], "Unexpected argument 'extra'"],
  ])('exits 2 on %j with one line naming the problem', async (args, message) => {
    const { code, stderr, stdout } = await command(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
    expect(lines[0]).toMatch(/^tailsift generate: /);
  });

  it('prints help and exits 0', async () => {
    const { code, stdout } = await command(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('usage: tailsift generate --target URL');
    expect(stdout).toContain('bench');
  });

  it('generates a file, prints the seed first and a one-line summary last, exit 0', async () => {
    const out = `${dir}/cli.jsonl`;
    const manifest = `${dir}/cli.manifest.jsonl`;
    const { code, stdout, stderr } = await command([
      '--target', `file:${out}`, '--scenario', 'rag', '--rate', '25', '--duration', '2', '--manifest', manifest,
    ]);
    expect(code).toBe(0);
    const seed = /seed (\d+)/.exec(stderr)?.[1];
    expect(seed).toBeDefined();
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const traces = readManifest(manifest).length;
    expect(traces).toBeGreaterThan(20);
    const { spans, requests } = readJsonLines(out);
    expect(lines[0]).toContain(`generated ${traces} traces (${spans.length} spans) in ${requests} requests`);
    expect(lines[0]).toContain(`0 failed requests (0 spans), 0 retries; scenario rag, seed ${seed}`);
  });

  it('repeats byte for byte with --seed and --start (RFC 3339 or epoch ms)', async () => {
    const run = async (name: string, start: string) => {
      const out = `${dir}/${name}.jsonl`;
      const result = await command(['--target', `file:${out}`, '--rate', '30', '--duration', '2', '--seed', '5', '--start', start]);
      expect(result.code).toBe(0);
      return digest(out);
    };
    const a = await run('rfc', '2024-05-01T12:00:00Z');
    const b = await run('epoch', String(Date.parse('2024-05-01T12:00:00Z')));
    const c = await run('other', '2024-05-01T12:00:01Z');
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe('interrupting a run', () => {
  it('stops making traces and still sends every trace it made', async () => {
    const out = `${dir}/interrupted.jsonl`;
    const manifestPath = `${dir}/interrupted.manifest.jsonl`;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const summary = await runGenerate(
      { target: `file:${out}`, scenario: 'rag', rate: 50, durationSeconds: 0, seed: 3, manifestPath },
      controller.signal,
    );
    expect(summary.traces).toBeGreaterThan(0);
    const manifest = readManifest(manifestPath);
    const { spans } = readJsonLines(out);
    expect(manifest).toHaveLength(summary.traces);
    expect(spans).toHaveLength(manifest.reduce((n, m) => n + m.spans, 0));
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set(manifest.map((m) => m.traceId)));
  });
});
