import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { cliPath, eventually, repoRoot, startEngine, type RunningEngine } from '../support/engine-process.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { postSpans, readKeptSpans, startInProcess } from '../telemetry/in-process-engine.js';
import { sampleValue, scrape } from '../telemetry/prometheus-text.js';

/** The Redis buffer as operated: what SIGTERM does with pending traces, and secrets kept out of logs. */
let dir: string | undefined;
const engines: RunningEngine[] = [];
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const e of engines.splice(0)) if (e.child.exitCode === null) await e.stop('SIGKILL');
  for (const c of cleanup.splice(0)) await c();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function engineOn(redisUrl: string, prefix: string, name: string, extra: { buffer?: string; sinks?: string; env?: Record<string, string> } = {}): Promise<RunningEngine> {
  const d = dir as string;
  await writeFile(
    join(d, `${name}.yaml`),
    [
      'source: { type: otlp-http, port: 0 }',
      'admin: { port: 0 }',
      `buffer: { type: redis, url: ${JSON.stringify(redisUrl)}, prefix: ${prefix}${extra.buffer ?? ''} }`,
      'policies: policies.yaml',
      extra.sinks ?? `sinks: [{ type: file, path: ${name}.jsonl }]`,
      '',
    ].join('\n'),
  );
  const e = await startEngine(join(d, `${name}.yaml`), { env: extra.env });
  engines.push(e);
  return e;
}

async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

async function pendingTracesIn(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keys(`${prefix}:{*}:t:*`);
    return keys.length;
  } finally {
    redis.disconnect();
  }
}

describe('SIGTERM with the Redis buffer', () => {
  it('leaves pending traces in Redis by default, and decides them with pendingOnShutdown: decide', async () => {
    const { redisUrl } = await localServices();
    dir = await mkdtemp(join(tmpdir(), 'tailsift-redis-ops-'));
    const prefix = uniquePrefix('ops');
    cleanup.push(() => deleteKeys(redisUrl, prefix));
    await writeFile(join(dir, 'policies.yaml'), 'decision_wait: 1h\npolicies:\n  - { name: all, type: always_sample }\n');

    const leaving = await engineOn(redisUrl, prefix, 'leaving');
    await postSpans(leaving.receiverUrl, makeSdkSpans({ traces: 3, spansPerTrace: 2 }));
    const m = await scrape(leaving.adminUrl);
    expect(sampleValue(m, 'tailsift_traces_pending')).toBe(3);
    expect(sampleValue(m, 'tailsift_redis_roundtrip_seconds_count', { operation: 'append' })).toBeGreaterThanOrEqual(1);
    expect(await leaving.stop()).toBe(0);
    expect(await readKeptSpans(join(dir, 'leaving.jsonl'))).toEqual([]);
    expect(await pendingTracesIn(redisUrl, prefix)).toBe(3);
    expect(leaving.logs.find((l) => String(l.msg).startsWith('undecided traces left in Redis'))).toMatchObject({ traces: 3 });

    // Another instance told to decide on shutdown takes them over at once.
    const deciding = await engineOn(redisUrl, prefix, 'deciding', { buffer: ', pendingOnShutdown: decide' });
    expect(await deciding.stop()).toBe(0);
    expect(await readKeptSpans(join(dir, 'deciding.jsonl'))).toHaveLength(6);
    expect(await pendingTracesIn(redisUrl, prefix)).toBe(0);
  });
});

describe('per-trace limits in Redis', () => {
  it('decides a trace at once when it grows past maximum_trace_size_bytes', async () => {
    const { redisUrl } = await localServices();
    const prefix = uniquePrefix('ops-limit');
    const r = await startInProcess({
      policy: 'decision_wait: 1h\nmaximum_trace_size_bytes: 3000\npolicies:\n  - { name: all, type: always_sample }\n',
      config: [`buffer: { type: redis, url: ${JSON.stringify(redisUrl)}, prefix: ${prefix} }`],
    });
    cleanup.push(async () => {
      await r.dispose();
      await deleteKeys(redisUrl, prefix);
    });
    const small = makeSdkSpans({ traces: 1, spansPerTrace: 2 });
    const big = makeSdkSpans({ traces: 1, spansPerTrace: 30 });
    await postSpans(r.receiverUrl, small);
    await postSpans(r.receiverUrl, big);
    const m = await eventually(async () => {
      const s = await scrape(r.adminUrl);
      return sampleValue(s, 'tailsift_traces_over_limit_total', { limit: 'maximum_trace_size_bytes' }) === 1 ? s : undefined;
    }, 10_000, 'the big trace decided before its decision_wait');
    expect(sampleValue(m, 'tailsift_traces_decided_total', { policy: '(no policy matched)', decision: 'drop' })).toBe(1);
    expect(sampleValue(m, 'tailsift_traces_pending')).toBe(1);
    expect(await pendingTracesIn(redisUrl, prefix)).toBe(1);
  });
});

describe('secrets in logs', () => {
  it('never writes the Redis password or a sink token, even when things fail', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-redact-'));
    const password = 'correct-horse-battery-9';
    const token = 'tok_5d1c9e77aa';
    const redis = await startRedisWithPassword(password);
    cleanup.push(redis.stop);
    // A trace store that refuses the token, so the sink logs its failures.
    let authorization: string | undefined;
    const store: Server = createHttpServer((req, res) => {
      authorization = req.headers.authorization;
      req.resume();
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end(`bad credentials: ${req.headers.authorization ?? ''}`);
    });
    await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      store.closeAllConnections();
      await new Promise((resolve) => store.close(resolve));
    });
    await writeFile(join(dir, 'policies.yaml'), 'decision_wait: 100ms\npolicies:\n  - { name: all, type: always_sample }\n');
    const sinks = `sinks: [{ type: otlp-http, endpoint: "http://127.0.0.1:${(store.address() as AddressInfo).port}/v1/traces", headers: { Authorization: "Bearer \${SINK_TOKEN}" } }]`;
    const url = `redis://:\${REDIS_PASSWORD}@127.0.0.1:${redis.port}`;

    const e = await engineOn(url, uniquePrefix('redact'), 'secret', { sinks, env: { REDIS_PASSWORD: password, SINK_TOKEN: token } });
    await postSpans(e.receiverUrl, makeSdkSpans({ traces: 1, spansPerTrace: 2 }));
    await eventually(() => e.logs.find((l) => String(l.msg).startsWith('sink refused')), 15_000, 'the sink refusal logged');
    expect(authorization).toBe(`Bearer ${token}`);
    expect(await e.stop()).toBe(0);
    const config = e.logs.find((l) => l.msg === 'config in effect') as { config: { buffer: { url: string }; sinks: { headers: unknown }[] } };
    expect(config.config.buffer.url).toBe(`redis://:***@127.0.0.1:${redis.port}`);
    expect(config.config.sinks[0].headers).toEqual({ Authorization: '***' });
    expect(e.stderr()).not.toContain(password);
    expect(e.stderr()).not.toContain(token);

    // A wrong password fails the start; the failure is logged without it.
    const wrong = 'wrong-horse-battery-1';
    const failed = await runToExit(join(dir, 'wrong.yaml'), `buffer: { type: redis, url: "redis://:${wrong}@127.0.0.1:${redis.port}" }\nadmin: { port: 0 }\nsource: { port: 0 }\npolicies: policies.yaml\n`);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/could not start/);
    expect(failed.stderr).not.toContain(wrong);
  });
});

async function runToExit(configPath: string, text: string): Promise<{ code: number | null; stderr: string }> {
  await writeFile(configPath, text);
  const child = spawn(process.execPath, [cliPath, 'run', '--config', configPath], {
    cwd: repoRoot,
    env: { ...process.env, TAILSIFT_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

/** A redis-server of its own with `requirepass`, ending by itself after a minute at most. */
async function startRedisWithPassword(password: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const child: ChildProcess = spawn('timeout', ['60', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  for (let attempt = 0; ; attempt++) {
    const probe = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (attempt > 100 || child.exitCode !== null) throw err;
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
  return {
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
