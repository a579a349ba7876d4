import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from '../support/services.js';

/**
 * A throwaway redis-server on a free loopback port, for tests that need to stop Redis or run
 * it in cluster mode. It runs under `timeout`, so it ends by itself even if a test crashes.
 */
export interface TestRedisServer {
  /** With `password`, the URL carries it (`redis://:password@...`); with `tls`, it is `rediss://`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server; with `save`, writes its data first so that `start` brings it back. */
  stop(options?: { save?: boolean }): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

const LIFETIME_SECONDS = 120;

/** PEM files for a TLS-only server: its certificate and key, and the CA clients must trust. */
export interface TestRedisTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface TestRedisServerOptions {
  cluster?: boolean;
  aof?: boolean;
  lifetimeSeconds?: number;
  /** `requirepass`: clients must AUTH with it. */
  password?: string;
  /** Serve TLS only (no plain port), with these files. */
  tls?: TestRedisTls;
}

export async function startTestRedisServer(options: TestRedisServerOptions = {}): Promise<TestRedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tailsift-redis-'));
  const port = await freePort();
  const listen = options.tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-ca-cert-file', options.tls.ca, '--tls-auth-clients', 'no'];
  const args = [...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.aof ? 'yes' : 'no', '--appendfsync', 'always', '--dbfilename', 'dump.rdb'];
  if (options.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf');
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  const url = `${options.tls === undefined ? 'redis' : 'rediss'}://${auth}127.0.0.1:${port}`;
  const clientOptions: RedisOptions = options.tls === undefined ? {} : { tls: { ca: await readFile(options.tls.ca) } };
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn('timeout', [String(options.lifetimeSeconds ?? LIFETIME_SECONDS), 'redis-server', ...args], { stdio: 'ignore' });
    child = proc;
    await waitForPing(url, proc, clientOptions);
    if (options.cluster) await ownAllSlots(url, clientOptions);
  };
  const stop = async ({ save = false } = {}): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const admin = new Redis(url, { ...clientOptions, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      await admin.call('SHUTDOWN', save ? 'SAVE' : 'NOSAVE').catch(() => undefined);
    } catch {
      proc.kill('SIGTERM');
    } finally {
      admin.disconnect();
    }
    await exited;
    child = undefined;
  };
  await start();
  return {
    url,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(url: string, proc: ChildProcess, clientOptions: RedisOptions): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const probe = new Redis(url, { ...clientOptions, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
  throw new Error(`redis-server at ${url} did not answer`);
}

/** A one-node cluster that serves every slot: it still refuses cross-slot requests. */
async function ownAllSlots(url: string, clientOptions: RedisOptions): Promise<void> {
  const admin = new Redis(url, { ...clientOptions, maxRetriesPerRequest: 0 });
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let attempt = 0; attempt < 100; attempt++) {
      const info = String(await admin.call('CLUSTER', 'INFO'));
      if (info.includes('cluster_state:ok')) return;
      await sleep(50);
    }
    throw new Error('one-node cluster did not reach cluster_state:ok');
  } finally {
    admin.disconnect();
  }
}
