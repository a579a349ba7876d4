import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, eventually, repoRoot, startEngine, type RunningEngine } from '../support/engine-process.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { postSpans, readKeptSpans } from '../telemetry/in-process-engine.js';

/** `tailsift run` as a process: signals, and settings from the environment. */
let dir: string | undefined;
let engine: RunningEngine | undefined;
let server: Server | undefined;

afterEach(async () => {
  if (engine !== undefined && engine.child.exitCode === null) await engine.stop('SIGKILL');
  engine = undefined;
  if (server !== undefined) {
    server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const ALWAYS = 'decision_wait: 1h\npolicies:\n  - { name: all, type: always_sample }\n';

describe('signals', () => {
  it('exits at once with 130 on a second signal while the first one drains', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-signal-'));
    // A trace store that takes the request and never answers: the drain waits on it.
    let requests = 0;
    server = createServer(() => {
      requests++;
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await writeFile(join(dir, 'policies.yaml'), ALWAYS);
    await writeFile(
      join(dir, 'tailsift.yaml'),
      [
        'source: { type: otlp-http, port: 0 }',
        'admin: { port: 0 }',
        'policies: policies.yaml',
        `sinks: [{ type: otlp-http, endpoint: "http://127.0.0.1:${port}/v1/traces", timeout: 60s }]`,
        '',
      ].join('\n'),
    );
    engine = await startEngine(join(dir, 'tailsift.yaml'));
    expect((await postSpans(engine.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 2 }))).status).toBe(200);

    engine.child.kill('SIGTERM');
    await eventually(() => (requests > 0 ? true : undefined), 10_000, 'the drain sending to the silent sink');
    expect(engine.child.exitCode).toBe(null);
    expect(await engine.stop('SIGTERM')).toBe(130);
    expect(engine.logs.some((l) => l.msg === 'second signal: exiting without draining')).toBe(true);
    expect(engine.logs.some((l) => l.msg === 'stopped')).toBe(false);
  });

  it('drains pending traces into the sink on SIGINT as on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-sigint-'));
    await writeFile(join(dir, 'policies.yaml'), ALWAYS);
    await writeFile(join(dir, 'tailsift.yaml'), 'source: { port: 0 }\nadmin: { port: 0 }\npolicies: policies.yaml\nsinks: [{ type: file, path: kept.jsonl }]\n');
    engine = await startEngine(join(dir, 'tailsift.yaml'));
    await postSpans(engine.receiverUrl, makeSdkSpans({ traces: 2, spansPerTrace: 3 }));
    expect(await engine.stop('SIGINT')).toBe(0);
    expect(await readKeptSpans(join(dir, 'kept.jsonl'))).toHaveLength(6);
  });
});

describe('settings from the environment', () => {
  it('takes ${VAR} values and TAILSIFT_* overrides', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-env-'));
    await writeFile(join(dir, 'my-policies.yaml'), ALWAYS);
    await writeFile(
      join(dir, 'tailsift.yaml'),
      ['source: { type: otlp-http, port: 0 }', 'admin: { port: 0 }', 'policies: "${POLICY_FILE}"', 'sinks: [{ type: file, path: from-file.jsonl }]', ''].join('\n'),
    );
    engine = await startEngine(join(dir, 'tailsift.yaml'), {
      env: { POLICY_FILE: join(dir, 'my-policies.yaml'), TAILSIFT_SINKS_0_PATH: join(dir, 'from-env.jsonl') },
    });
    await postSpans(engine.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 2 }));
    expect(await engine.stop()).toBe(0);
    expect(await readKeptSpans(join(dir, 'from-env.jsonl'))).toHaveLength(2);
    await expect(stat(join(dir, 'from-file.jsonl'))).rejects.toThrow();
    const running = engine.logs.find((l) => l.msg === 'tailsift running');
    expect(running?.policies).toBe(join(dir, 'my-policies.yaml'));
  });

  it('refuses to start on a bad TAILSIFT_* value, naming the variable', async () => {
    const child = spawn(process.execPath, [cliPath, 'run'], {
      cwd: repoRoot,
      env: { ...process.env, TAILSIFT_ADMIN_PORT: 'nine', TAILSIFT_SOURCE_PROT: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      'env:TAILSIFT_ADMIN_PORT: admin.port: expected a number, got "nine"',
      'env:TAILSIFT_SOURCE_PROT: no such setting; did you mean TAILSIFT_SOURCE_PORT?',
    ]);
  });
});
