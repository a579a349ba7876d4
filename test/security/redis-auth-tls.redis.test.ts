import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTraceBuffer, redisConnectionOptions, type RedisTraceBufferOptions } from '../../src/buffer/redis/redis-trace-buffer.js';
import type { CompletionSettings } from '../../src/buffer/trace-buffer.js';
import { ConfigError, TailsiftError } from '../../src/errors.js';
import { decodeProtobufRequest } from '../../src/otlp/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startTestRedisServer, type TestRedisServer } from '../buffer/redis-test-server.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';
import { cliPath, repoRoot, startEngine } from '../support/engine-process.js';
import { uniquePrefix } from '../support/services.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

const PASSWORD = 'pw-with:odd@chars-9f8e7d';

const settings: CompletionSettings = {
  decisionWaitMs: 60_000,
  decisionWaitAfterRootMs: undefined,
  maxSpansPerTrace: 1_000,
  maxTraces: 1_000,
  sampledCacheSize: 100,
  nonSampledCacheSize: 100,
};

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

async function connectError(options: Partial<RedisTraceBufferOptions> & { url: string }): Promise<TailsiftError> {
  const buffer = await RedisTraceBuffer.connect({ prefix: uniquePrefix('security'), settings, ...options }).then(
    async (b) => {
      await b.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  expect(buffer).toBeInstanceOf(TailsiftError);
  return buffer as TailsiftError;
}

/** Appends one trace and reads the pending count back: the connection really works. */
async function roundTrip(buffer: RedisTraceBuffer): Promise<void> {
  const decoded = decodeProtobufRequest(ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces: 1, spansPerTrace: 2 }))!);
  if (!decoded.ok) throw decoded.error;
  expect((await buffer.append(decoded.value.fragments, Date.now())).status).toBe('accepted');
  expect(await buffer.pending()).toMatchObject({ traces: 1, spans: 2 });
}

describe('Redis buffer with AUTH (requirepass)', () => {
  let server: TestRedisServer;
  beforeAll(async () => {
    server = await startTestRedisServer({ password: PASSWORD });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('connects with the password in the URL', async () => {
    expect(server.url).toContain(encodeURIComponent(PASSWORD));
    const buffer = await RedisTraceBuffer.connect({ url: server.url, prefix: uniquePrefix('security'), settings });
    try {
      await roundTrip(buffer);
    } finally {
      await buffer.close();
    }
  });

  it('connects with a user and password (the default ACL user)', async () => {
    const url = server.url.replace('redis://:', 'redis://default:');
    const buffer = await RedisTraceBuffer.connect({ url, prefix: uniquePrefix('security'), settings });
    await buffer.close();
  });

  it('fails at start with a clear, non-retriable error on a wrong or missing password, naming neither password', async () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream, secrets: ['wrong-password-123'] });
    const wrong = await connectError({ url: `redis://:wrong-password-123@127.0.0.1:${server.port}`, logger });
    expect(wrong.code).toBe('BUFFER_AUTH_FAILED');
    expect(wrong.retriable).toBe(false);
    expect(wrong.message).toMatch(/WRONGPASS.*check the user and password in buffer\.url/);
    expect(wrong.message).not.toContain('wrong-password-123');
    logger.error({ err: wrong }, 'start failed');
    expect(out.text()).not.toContain('wrong-password-123');

    const missing = await connectError({ url: `redis://127.0.0.1:${server.port}` });
    expect(missing.code).toBe('BUFFER_AUTH_FAILED');
    expect(missing.message).toMatch(/NOAUTH/);
  });

  it('`tailsift run` with a wrong password exits 1 with the reason, and no log line holds the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailsift-security-'));
    try {
      const config = join(dir, 'tailsift.yaml');
      await writeFile(
        config,
        [
          'source: { type: otlp-http, port: 0 }',
          'admin: { port: 0 }',
          `buffer: { type: redis, url: "redis://:\${REDIS_PASSWORD}@127.0.0.1:${server.port}", prefix: ${uniquePrefix('security')} }`,
          'sinks: [{ type: file, path: kept.jsonl }]',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [cliPath, 'run', '--config', config], {
        cwd: repoRoot,
        env: { ...process.env, REDIS_PASSWORD: 'not-the-password-42', TAILSIFT_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      clearTimeout(timer);
      expect(code).toBe(1);
      expect(output).toContain('check the user and password in buffer.url');
      expect(output).not.toContain('not-the-password-42');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis buffer over TLS', () => {
  let pki: TestPki;
  let server: TestRedisServer;
  let ca: string;

  beforeAll(async () => {
    pki = await makeTestPki('tailsift-redis-tls-');
    ca = pki.ca;
    server = await startTestRedisServer({ password: PASSWORD, tls: { cert: pki.serverCert, key: pki.serverKey, ca } });
  });
  afterAll(async () => {
    await server?.dispose();
    await pki?.dispose();
  });

  it('connects with rediss:// and the CA file, password included', async () => {
    expect(server.url.startsWith('rediss://')).toBe(true);
    const buffer = await RedisTraceBuffer.connect({ url: server.url, tls: { ca }, prefix: uniquePrefix('security'), settings });
    try {
      await roundTrip(buffer);
    } finally {
      await buffer.close();
    }
  });

  it('turns TLS on from the tls settings alone, even with redis://', async () => {
    const url = server.url.replace('rediss://', 'redis://');
    const buffer = await RedisTraceBuffer.connect({ url, tls: { ca }, prefix: uniquePrefix('security'), settings });
    await buffer.close();
  });

  it('refuses a server certificate it cannot verify, unless told not to check', async () => {
    const err = await connectError({ url: server.url });
    expect(err.code).toBe('BUFFER_UNAVAILABLE');
    expect(err.message).toMatch(/certificate/i);

    const unchecked = await RedisTraceBuffer.connect({ url: server.url, tls: { rejectUnauthorized: false }, prefix: uniquePrefix('security'), settings });
    await unchecked.close();
  });

  it('runs the engine with the buffer, the baselines store and the alert state all on TLS Redis', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailsift-redis-tls-engine-'));
    try {
      const config = join(dir, 'tailsift.yaml');
      const prefix = uniquePrefix('security');
      // The CA path is relative: it resolves against the config file's directory.
      await writeFile(join(dir, 'ca.pem'), await readFile(ca));
      await writeFile(
        config,
        [
          'source: { type: otlp-http, port: 0 }',
          'admin: { port: 0 }',
          `buffer: { type: redis, url: "rediss://:\${REDIS_PASSWORD}@127.0.0.1:${server.port}", prefix: ${prefix}, tls: { ca: ca.pem } }`,
          `baselines: { store: { type: redis, url: "rediss://:\${REDIS_PASSWORD}@127.0.0.1:${server.port}", prefix: ${prefix}, tls: { ca: ca.pem } } }`,
          'alerts: { enabled: true }',
          'sinks: [{ type: file, path: kept.jsonl }]',
          '',
        ].join('\n'),
      );
      // Engine.create connects the buffer, the baselines store and the alert state before it
      // says it runs; a connection that cannot do TLS with these files stops it with exit 1.
      const engine = await startEngine(config, { env: { REDIS_PASSWORD: PASSWORD }, timeoutMs: 60_000 });
      try {
        // A few baselines flushes and alert evaluations go by without a failure.
        await new Promise((r) => setTimeout(r, 5_000));
        expect(engine.logs.filter((l) => Number(l.level) >= 40)).toEqual([]);
        expect(engine.stderr()).not.toContain(PASSWORD);
      } finally {
        expect(await engine.stop()).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('a plain connection to the TLS port does not get in', async () => {
    const err = await connectError({ url: server.url.replace('rediss://', 'redis://') });
    expect(err.retriable).toBe(true);
  });
});

describe('redisConnectionOptions', () => {
  it('reads the PEM files into the ioredis tls option and keeps the fail-fast settings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailsift-pem-'));
    try {
      await writeFile(join(dir, 'ca.pem'), 'CA');
      await writeFile(join(dir, 'cert.pem'), 'CERT');
      await writeFile(join(dir, 'key.pem'), 'KEY');
      const options = redisConnectionOptions({ ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), rejectUnauthorized: false });
      expect(options).toMatchObject({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      expect(options.tls).toEqual({ ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY'), rejectUnauthorized: false });
      expect(redisConnectionOptions({}).tls).toEqual({ rejectUnauthorized: true });
      expect(redisConnectionOptions(undefined).tls).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the setting and file it cannot read', () => {
    const read = (): unknown => redisConnectionOptions({ ca: '/nonexistent/tailsift/ca.pem' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/buffer\.tls\.ca: cannot read \/nonexistent\/tailsift\/ca\.pem/);
  });
});
