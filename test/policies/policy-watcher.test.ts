import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { PolicyWatcher } from '../../src/policies/policy-watcher.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { ReloadOutcome } from '../../src/policies/policy-watcher.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };

const KEEP_ALL = 'decision_wait: 10s\npolicies:\n  - { name: keep-all, type: always_sample }\n';
const ERRORS_ONLY = 'decision_wait: 10s\npolicies:\n  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n';
const BROKEN = [
  'decision_wait: 10s',
  'policies:',
  '  - name: slow',
  '    type: latency',
  '    latency: { treshold_ms: 100 }',
  '  - { name: errors, type: status_code, status_code: { status_codes: [EROR] } }',
  '',
].join('\n');

interface LogLine {
  level: number;
  msg: string;
}

/** A watcher on a real file, with its log lines and a way to wait for the next reload attempt. */
async function watched(dir: string, text: string) {
  const path = join(dir, 'policies.yaml');
  await writeFile(path, text);
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const waiting: ((outcome: ReloadOutcome) => void)[] = [];
  const watcher = new PolicyWatcher({ path, logger, debounceMs: 50, onReload: (outcome) => waiting.shift()?.(outcome) });
  /** Resolves with the outcome of the first reload attempt after the call. */
  const nextReload = () => new Promise<ReloadOutcome>((resolve) => waiting.push(resolve));
  return { path, logs, watcher, nextReload };
}

describe('PolicyWatcher', () => {
  let dir: string;
  let stopWatcher: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-watch-'));
  });

  afterEach(async () => {
    await stopWatcher?.();
    stopWatcher = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('swaps in a valid change, keeps the old policies on a broken file, and swaps again once it is fixed', async () => {
    const { path, logs, watcher, nextReload } = await watched(dir, KEEP_ALL);
    await watcher.start();
    stopWatcher = () => watcher.stop();
    const plain = makeTrace([{ statusCode: 0 }]);
    expect(watcher.current().decide(plain, ctx)).toEqual({ keep: true, policy: 'keep-all' });

    let reloaded = nextReload();
    await writeFile(path, ERRORS_ONLY);
    expect(await reloaded).toMatchObject({ ok: true, restartNeeded: [] });
    expect(watcher.current().policyNames).toEqual(['errors']);
    expect(watcher.current().decide(plain, ctx)).toEqual({ keep: false, policy: undefined });
    expect(watcher.counters()).toEqual({ reloads: 1, failures: 0 });

    reloaded = nextReload();
    await writeFile(path, BROKEN);
    const failed = await reloaded;
    expect(failed.ok).toBe(false);
    expect(watcher.current().policyNames).toEqual(['errors']);
    expect(watcher.counters()).toEqual({ reloads: 1, failures: 1 });
    const expectedProblems = [
      `${path}:5:16: policies[0].latency.treshold_ms: unknown key "treshold_ms"; did you mean "threshold_ms"?`,
      `${path}:6:70: policies[1].status_code.status_codes[0]: invalid value "EROR"; did you mean "ERROR"?`,
    ];
    expect(failed.ok ? [] : failed.problems).toEqual(expectedProblems);
    // Every problem logged once, as an error line of its own.
    for (const problem of expectedProblems) expect(logs.filter((l) => l.msg === problem && l.level === 50)).toHaveLength(1);

    reloaded = nextReload();
    await writeFile(path, KEEP_ALL);
    expect((await reloaded).ok).toBe(true);
    expect(watcher.current().policyNames).toEqual(['keep-all']);
    expect(watcher.counters()).toEqual({ reloads: 2, failures: 1 });
    // The broken file's problems were not logged again.
    for (const problem of expectedProblems) expect(logs.filter((l) => l.msg === problem)).toHaveLength(1);
  });

  it('follows an editor that saves by renaming a new file over the old one', async () => {
    const { path, watcher, nextReload } = await watched(dir, KEEP_ALL);
    await watcher.start();
    stopWatcher = () => watcher.stop();

    for (const [text, name] of [
      [ERRORS_ONLY, 'errors'],
      [KEEP_ALL, 'keep-all'],
    ]) {
      const reloaded = nextReload();
      const temp = join(dir, '.policies.yaml.swp');
      await writeFile(temp, text);
      await rename(temp, path);
      expect((await reloaded).ok).toBe(true);
      expect(watcher.current().policyNames).toEqual([name]);
    }
    expect(watcher.counters()).toEqual({ reloads: 2, failures: 0 });
  });

  it('follows a Kubernetes ConfigMap volume, which swaps a ..data link to a new folder', async () => {
    await mkdir(join(dir, '..2024_01'));
    await writeFile(join(dir, '..2024_01', 'policies.yaml'), KEEP_ALL);
    await symlink('..2024_01', join(dir, '..data'));
    const path = join(dir, 'policies.yaml');
    await symlink(join('..data', 'policies.yaml'), path);
    const waiting: ((outcome: ReloadOutcome) => void)[] = [];
    const watcher = new PolicyWatcher({ path, logger: silentLogger, debounceMs: 50, onReload: (outcome) => waiting.shift()?.(outcome) });
    await watcher.start();
    stopWatcher = () => watcher.stop();
    expect(watcher.current().policyNames).toEqual(['keep-all']);

    const reloaded = new Promise<ReloadOutcome>((resolve) => waiting.push(resolve));
    await mkdir(join(dir, '..2024_02'));
    await writeFile(join(dir, '..2024_02', 'policies.yaml'), ERRORS_ONLY);
    await symlink('..2024_02', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    expect((await reloaded).ok).toBe(true);
    expect(watcher.current().policyNames).toEqual(['errors']);
  });

  it('counts a deleted file as a failed reload and keeps the policies', async () => {
    const { path, watcher, nextReload } = await watched(dir, KEEP_ALL);
    await watcher.start();
    stopWatcher = () => watcher.stop();
    const reloaded = nextReload();
    await rm(path);
    expect(await reloaded).toEqual({ ok: false, problems: [`${path}:1:1: (file): cannot read file: no such file`] });
    expect(watcher.current().policyNames).toEqual(['keep-all']);
    expect(watcher.counters()).toEqual({ reloads: 0, failures: 1 });
  });

  it('applies new policies at once but says that a changed decision_wait waits for a restart', async () => {
    const { path, logs, watcher, nextReload } = await watched(dir, KEEP_ALL);
    await watcher.start();
    stopWatcher = () => watcher.stop();
    const reloaded = nextReload();
    await writeFile(path, ERRORS_ONLY.replace('decision_wait: 10s', 'decision_wait: 5s\nnum_traces: 1000\nsample_on_first_match: true'));
    expect(await reloaded).toMatchObject({ ok: true, restartNeeded: ['decision_wait', 'num_traces'] });
    expect(watcher.current().policyNames).toEqual(['errors']);
    expect(watcher.settings()).toMatchObject({ decisionWaitMs: 10_000, numTraces: 50_000, sampleOnFirstMatch: true });
    expect(logs.map((l) => l.msg)).toContain(
      'decision_wait changed from 10s to 5s; it takes effect on restart (the trace buffer was set up with the old value)',
    );
  });

  it('refuses to start on an invalid file, with its problems', async () => {
    const { watcher } = await watched(dir, BROKEN);
    const error = await watcher.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(2);
    expect(() => watcher.current()).toThrow(/before start/);
  });

  it('stops idempotently', async () => {
    const { watcher } = await watched(dir, KEEP_ALL);
    await watcher.start();
    await watcher.stop();
    await watcher.stop();
    expect(watcher.current().policyNames).toEqual(['keep-all']);
  });
});
