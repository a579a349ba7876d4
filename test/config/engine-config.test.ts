import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEngineConfig, packageRoot, parseEngineConfigText, renderEngineConfigReference } from '../../src/config/engine-config.js';

describe('loadEngineConfig without a file', () => {
  it('gives the embedded defaults of DESIGN.md', async () => {
    const result = await loadEngineConfig(undefined, { env: {} });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { baselines, alerts, ...rest } = result.config;
    expect(rest).toEqual({
      source: { type: 'otlp-http', host: '127.0.0.1', port: 4318, maxBodyBytes: 16 * 1024 * 1024 },
      buffer: { type: 'memory', pendingOnShutdown: 'decide' },
      policies: join(packageRoot(), 'policies', 'default.yaml'),
      sinks: [{ type: 'file', path: resolve(process.cwd(), 'data/kept.jsonl') }],
      admin: { host: '127.0.0.1', port: 9464 },
      limits: { maxAttributeValueLength: 0 },
    });
    // tailsift's own stages beyond DESIGN.md's example: in memory, alerts to the log.
    expect(baselines.store).toEqual({ type: 'memory' });
    expect(baselines.window).toBe(3_600_000);
    expect(alerts.enabled).toBe(true);
    expect(alerts.sinks).toEqual([{ type: 'log' }]);
  });

  it('finds the package root by its package.json', () => {
    expect(packageRoot()).toBe(resolve(__dirname, '../..'));
  });

  it('is deeply frozen', async () => {
    const result = await loadEngineConfig();
    if (!result.ok) throw new Error('defaults must be valid');
    expect(Object.isFrozen(result.config)).toBe(true);
    expect(Object.isFrozen(result.config.source)).toBe(true);
    expect(Object.isFrozen(result.config.sinks)).toBe(true);
    expect(Object.isFrozen(result.config.sinks[0])).toBe(true);
    expect(() => {
      (result.config.admin as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});

describe('loadEngineConfig from a file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-config-'));
    await mkdir(join(dir, 'conf'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves paths written in the file against the file\'s folder', async () => {
    const path = join(dir, 'conf', 'tailsift.yaml');
    await writeFile(path, 'policies: ../policies/mine.yaml\nsinks:\n  - { type: file, path: out/kept.jsonl }\n  - { type: file }\n');
    const result = await loadEngineConfig(path);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.policies).toBe(join(dir, 'policies', 'mine.yaml'));
    expect(result.config.sinks).toEqual([
      { type: 'file', path: join(dir, 'conf', 'out', 'kept.jsonl') },
      // The default sink path belongs to the run: the working directory, not the config folder.
      { type: 'file', path: resolve(process.cwd(), 'data/kept.jsonl') },
    ]);
  });

  it('keeps the packaged default policy file when the config does not name one', async () => {
    const path = join(dir, 'conf', 'no-policies.yaml');
    await writeFile(path, 'admin: { port: 9999 }\n');
    const result = await loadEngineConfig(path);
    expect(result.ok && result.config.policies).toBe(join(packageRoot(), 'policies', 'default.yaml'));
    expect(result.ok && result.config.admin).toEqual({ host: '127.0.0.1', port: 9999 });
  });

  it('keeps absolute paths as written', async () => {
    const path = join(dir, 'abs.yaml');
    await writeFile(path, `policies: ${join(dir, 'p.yaml')}\n`);
    const result = await loadEngineConfig(path);
    expect(result.ok && result.config.policies).toBe(join(dir, 'p.yaml'));
  });

  it('reports a missing file', async () => {
    const result = await loadEngineConfig(join(dir, 'absent.yaml'));
    expect(result).toEqual({ ok: false, problems: [`${join(dir, 'absent.yaml')}:1:1: (file): cannot read file: no such file`] });
  });
});

describe('engine config validation', () => {
  const parse = (text: string) => parseEngineConfigText(text, 'tailsift.yaml', '/etc/tailsift');

  it('accepts every variant with its defaults filled in', () => {
    const result = parse(
      [
        'source: { type: kafka, brokers: ["10.0.0.1:9092", "[::1]:9093"], encoding: otlp_json }',
        'buffer: { type: redis, url: "redis://cache:6379/2" }',
        'sinks:',
        '  - { type: otlp-http, endpoint: "https://tempo:4318/v1/traces", headers: { x-api-key: s3cret }, timeout: 2.5s }',
        '  - { type: kafka, topic: kept }',
        '  - { type: file, path: /var/lib/tailsift/kept.jsonl }',
        '',
      ].join('\n'),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.source).toEqual({ type: 'kafka', brokers: ['10.0.0.1:9092', '[::1]:9093'], topic: 'otlp_spans', groupId: 'tailsift', encoding: 'otlp_json', sessionTimeout: 30_000 });
    expect(result.config.buffer).toEqual({
      type: 'redis',
      url: 'redis://cache:6379/2',
      prefix: 'tailsift',
      buckets: 64,
      lease: 60_000,
      decisionCacheTtl: 600_000,
      pendingOnShutdown: 'leave',
    });
    expect(result.config.sinks).toEqual([
      { type: 'otlp-http', endpoint: 'https://tempo:4318/v1/traces', encoding: 'protobuf', compression: 'gzip', headers: { 'x-api-key': 's3cret' }, timeout: 2500 },
      { type: 'kafka', brokers: ['127.0.0.1:9092'], topic: 'kept', encoding: 'otlp_proto' },
      { type: 'file', path: '/var/lib/tailsift/kept.jsonl' },
    ]);
    // Not written in the file: the packaged default, wherever the config lives.
    expect(result.config.policies).toBe(join(packageRoot(), 'policies', 'default.yaml'));
  });

  it('takes a source or buffer map without a type as the default variant', () => {
    const result = parse('source: { port: 14318 }\nbuffer: {}\n');
    expect(result.ok && result.config.source).toEqual({ type: 'otlp-http', host: '127.0.0.1', port: 14318, maxBodyBytes: 16 * 1024 * 1024 });
    expect(result.ok && result.config.buffer).toEqual({ type: 'memory', pendingOnShutdown: 'decide' });
  });

  it('gives a sink its 10s timeout by default, in milliseconds', () => {
    const result = parse('sinks: [{ type: otlp-http, endpoint: "http://127.0.0.1:4318/v1/traces" }]\n');
    expect(result.ok && result.config.sinks[0]).toEqual({ type: 'otlp-http', endpoint: 'http://127.0.0.1:4318/v1/traces', encoding: 'protobuf', compression: 'gzip', timeout: 10_000 });
  });

  it('reports each problem with its position', () => {
    const result = parse(
      [
        'source:',
        '  type: kafka',
        '  brokers: [localhost]',
        '  topc: spans',
        'buffer: { type: redis, url: "http://cache" }',
        'sinks:',
        '  - type: otlp-http',
        '    encoding: jsn',
        '    timeout: 5',
        '  - type: s3',
        'admin: { port: 70000 }',
        'metrics: true',
        '',
      ].join('\n'),
    );
    expect(result).toEqual({
      ok: false,
      problems: [
        'tailsift.yaml:3:13: source.brokers[0]: expected "host:port", e.g. "127.0.0.1:9092"',
        'tailsift.yaml:4:3: source.topc: unknown key "topc"; did you mean "topic"?',
        'tailsift.yaml:5:29: buffer.url: expected a redis:// or rediss:// URL, e.g. "redis://127.0.0.1:6379"',
        'tailsift.yaml:7:5: sinks[0].endpoint: missing required key "endpoint"',
        'tailsift.yaml:8:15: sinks[0].encoding: invalid value "jsn"; did you mean "json"?',
        'tailsift.yaml:9:14: sinks[0].timeout: 5 is a bare number, not a duration; add a unit, e.g. "5s" or "5ms"',
        'tailsift.yaml:10:11: sinks[1].type: unknown type "s3"; expected one of: file, otlp-http, kafka, zipkin, xray, google-cloud-trace',
        'tailsift.yaml:11:16: admin.port: 70000 is too big; must be at most 65535',
        'tailsift.yaml:12:1: metrics: unknown key "metrics"; valid keys: source, buffer, policies, sinks, admin, limits, baselines, alerts',
      ],
    });
  });

  it('refuses a receiver and admin server on the same address', () => {
    expect(parse('admin: { port: 4318 }\n')).toEqual({
      ok: false,
      problems: ['tailsift.yaml:1:16: admin.port: the receiver and the admin server both want 127.0.0.1:4318; give one of them another port'],
    });
  });

  it('refuses two file sinks on one file', () => {
    expect(parse('sinks:\n  - { type: file, path: k.jsonl }\n  - { type: file, path: k.jsonl }\n')).toEqual({
      ok: false,
      problems: ['tailsift.yaml:3:25: sinks[1].path: sinks[0] already writes to "k.jsonl"; two sinks appending to one file interleave their lines'],
    });
  });

  it('refuses an empty sink list and a non-http endpoint', () => {
    expect(parse('sinks: []\n')).toEqual({ ok: false, problems: ['tailsift.yaml:1:8: sinks: must not be empty'] });
    expect(parse('sinks: [{ type: otlp-http, endpoint: "ftp://x/v1/traces" }]\n')).toEqual({
      ok: false,
      problems: ['tailsift.yaml:1:38: sinks[0].endpoint: expected an http:// or https:// URL, e.g. "http://127.0.0.1:4318/v1/traces"'],
    });
  });

  it('accepts an empty file as all defaults', () => {
    expect(parse('').ok).toBe(true);
    expect(parse('# nothing but a comment\n').ok).toBe(true);
  });
});

describe('renderEngineConfigReference', () => {
  const reference = renderEngineConfigReference();

  it('documents every key of every variant with its default', () => {
    for (const fragment of [
      '### `source`',
      '#### `source` with `type: otlp-http`',
      '| `maxBodyBytes` | number | Largest request body accepted, in bytes (after gzip decoding); larger requests get 413. Default: 16777216 (16 MiB). |',
      '#### `source` with `type: kafka`',
      '| `groupId` | string | Consumer group id; instances sharing it share the partitions. Default: "tailsift". |',
      '#### `buffer` with `type: redis`',
      '| `prefix` | string |',
      '### `policies`',
      '#### `sinks` with `type: otlp-http`',
      '| `timeout` | duration | Time allowed for one request (Go duration; milliseconds once validated). Default: "10s". |',
      '| `encoding` | `otlp_proto` \\| `otlp_json` |',
      '| `port` | number | TCP port of the admin HTTP server. Default: 9464. |',
    ]) {
      expect(reference).toContain(fragment);
    }
  });

  it('states a default for every optional setting', () => {
    const rows = reference.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(15);
    for (const row of rows) expect(row).toMatch(/Default: |Required\./);
  });
});
