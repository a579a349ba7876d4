import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineConfigSchema, loadEngineConfig, parseEngineConfigText } from '../../src/config/engine-config.js';
import { envSettings, envVariableFor, upperSnake } from '../../src/config/env-overrides.js';

describe('TAILSIFT_* variable names', () => {
  it('are the path in UPPER_SNAKE_CASE', () => {
    expect(upperSnake('maxBodyBytes')).toBe('MAX_BODY_BYTES');
    expect(envVariableFor(['source', 'port'])).toBe('TAILSIFT_SOURCE_PORT');
    expect(envVariableFor(['buffer', 'decisionCacheTtl'])).toBe('TAILSIFT_BUFFER_DECISION_CACHE_TTL');
    expect(envVariableFor(['sinks', 0, 'endpoint'])).toBe('TAILSIFT_SINKS_0_ENDPOINT');
  });

  it('cover every setting of the schema except maps', () => {
    const variables = envSettings(engineConfigSchema).map((s) => `${s.variable} ${s.kind}`);
    expect(variables).toEqual(
      expect.arrayContaining([
        'TAILSIFT_SOURCE_TYPE string',
        'TAILSIFT_SOURCE_PORT number',
        'TAILSIFT_SOURCE_BROKERS list',
        'TAILSIFT_BUFFER_URL string',
        'TAILSIFT_BUFFER_PENDING_ON_SHUTDOWN string',
        'TAILSIFT_POLICIES string',
        'TAILSIFT_SINKS_<n>_ENDPOINT string',
        'TAILSIFT_ADMIN_PORT number',
        'TAILSIFT_LIMITS_MAX_ATTRIBUTE_VALUE_LENGTH number',
      ]),
    );
    expect(variables.some((v) => v.includes('HEADERS'))).toBe(false);
  });
});

describe('loadEngineConfig with TAILSIFT_* variables', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-env-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('overrides the defaults without a file', async () => {
    const result = await loadEngineConfig(undefined, {
      env: { TAILSIFT_SOURCE_PORT: '4319', TAILSIFT_BUFFER_TYPE: 'redis', TAILSIFT_BUFFER_URL: 'redis://cache:6380', TAILSIFT_ADMIN_HOST: '0.0.0.0' },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.source).toMatchObject({ type: 'otlp-http', port: 4319 });
    expect(result.config.buffer).toMatchObject({ type: 'redis', url: 'redis://cache:6380', pendingOnShutdown: 'leave' });
    expect(result.config.admin).toEqual({ host: '0.0.0.0', port: 9464 });
  });

  it('wins over the file, and reads lists comma-separated', async () => {
    const path = join(dir, 'kafka.yaml');
    await writeFile(path, 'source: { type: kafka, topic: spans, brokers: ["a:9092"] }\nadmin: { port: 9000 }\n');
    const result = await loadEngineConfig(path, { env: { TAILSIFT_SOURCE_BROKERS: 'k1:9092, k2:9092', TAILSIFT_ADMIN_PORT: '9100' } });
    expect(result.ok && result.config.source).toMatchObject({ type: 'kafka', topic: 'spans', brokers: ['k1:9092', 'k2:9092'] });
    expect(result.ok && result.config.admin.port).toBe(9100);
  });

  it('sets a list entry by its index, and resolves paths from variables against the working directory', async () => {
    const path = join(dir, 'sinks.yaml');
    await writeFile(path, 'sinks:\n  - { type: file, path: kept.jsonl }\n');
    const result = await loadEngineConfig(path, {
      env: { TAILSIFT_SINKS_0_PATH: 'out/kept.jsonl', TAILSIFT_SINKS_1_TYPE: 'otlp-http', TAILSIFT_SINKS_1_ENDPOINT: 'http://tempo:4318/v1/traces' },
    });
    expect(result.ok && result.config.sinks).toEqual([
      { type: 'file', path: resolve(process.cwd(), 'out/kept.jsonl') },
      { type: 'otlp-http', endpoint: 'http://tempo:4318/v1/traces', encoding: 'protobuf', compression: 'gzip', timeout: 10_000 },
    ]);
  });

  it('names the variable in a problem with its value', async () => {
    const result = await loadEngineConfig(undefined, { env: { TAILSIFT_ADMIN_PORT: '99999', TAILSIFT_SOURCE_PORT: 'http', TAILSIFT_BUFFER_TYPE: 'disk' } });
    expect(result).toEqual({
      ok: false,
      problems: [
        'env:TAILSIFT_SOURCE_PORT: source.port: expected a number, got "http"',
        'env:TAILSIFT_BUFFER_TYPE: buffer.type: unknown type "disk"; expected one of: memory, redis',
        'env:TAILSIFT_ADMIN_PORT: admin.port: 99999 is too big; must be at most 65535',
      ],
    });
  });

  it('refuses a misspelt setting under a known key, with a suggestion', async () => {
    const result = await loadEngineConfig(undefined, { env: { TAILSIFT_SOURCE_PROT: '4319' } });
    expect(result).toEqual({ ok: false, problems: ['env:TAILSIFT_SOURCE_PROT: no such setting; did you mean TAILSIFT_SOURCE_PORT?'] });
  });

  it('refuses a setting the chosen variant does not have', async () => {
    const result = await loadEngineConfig(undefined, { env: { TAILSIFT_SOURCE_TOPIC: 'spans' } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual(['env:TAILSIFT_SOURCE_TOPIC: source.topic: unknown key "topic"; valid keys: type, host, port, maxBodyBytes, bearerToken']);
  });

  it('names the variable that created a list entry missing a key', async () => {
    const result = await loadEngineConfig(undefined, { env: { TAILSIFT_SINKS_0_ENDPOINT: 'http://x:4318/v1/traces' } });
    expect(!result.ok && result.problems).toEqual(['env:TAILSIFT_SINKS_0_ENDPOINT: sinks[0].type: missing required key "type"; one of: file, otlp-http, kafka, zipkin, xray, google-cloud-trace']);
  });

  it('adds list entries in order only', async () => {
    const result = await loadEngineConfig(undefined, { env: { TAILSIFT_SINKS_2_PATH: 'x.jsonl' } });
    expect(!result.ok && result.problems).toEqual(['env:TAILSIFT_SINKS_2_PATH: sinks[2].path: the list has 0 entries here; a variable can add entry 0, not skip to 2']);
  });

  it('leaves TAILSIFT_* variables that are not settings alone', async () => {
    const result = await loadEngineConfig(undefined, { env: { TAILSIFT_LOG_LEVEL: 'debug', TAILSIFT_SERVICES_DIR: '/tmp/x', TAILSIFT_KAFKA_CACHE: '/tmp/k' } });
    expect(result.ok).toBe(true);
  });

  it('is not applied when validating a file as written', () => {
    const result = parseEngineConfigText('admin: { port: 9000 }\n', 'tailsift.yaml', '/etc', { env: { TAILSIFT_ADMIN_PORT: '1' } });
    expect(result.ok && result.config.admin.port).toBe(9000);
  });
});
