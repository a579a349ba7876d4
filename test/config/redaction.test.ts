import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { configSecrets, redactedConfig, redactText, redactUrl } from '../../src/config/redaction.js';
import { createLogger } from '../../src/telemetry/logger.js';

function capture(): { stream: Writable; lines: () => string[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

describe('redactUrl and redactText', () => {
  it('masks the password of a URL and keeps the rest', () => {
    expect(redactUrl('redis://:s3cr3t@cache:6379/2')).toBe('redis://:***@cache:6379/2');
    expect(redactUrl('rediss://admin:p%40ss@cache:6380')).toBe('rediss://admin:***@cache:6380');
    expect(redactUrl('http://127.0.0.1:4318/v1/traces')).toBe('http://127.0.0.1:4318/v1/traces');
  });

  it('masks URLs inside free text and known secrets wherever they are', () => {
    const text = 'connect to redis://:hunter22@db:6379 failed; header Bearer tok-123456 refused';
    expect(redactText(text, ['tok-123456'])).toBe('connect to redis://:***@db:6379 failed; header Bearer *** refused');
  });

  it('finds a secret in its JSON-escaped form', () => {
    const secret = 'a"b\\c-secret';
    const line = JSON.stringify({ msg: `value ${secret}` });
    expect(redactText(line, [secret])).not.toContain(JSON.stringify(secret).slice(1, -1));
  });
});

describe('configSecrets', () => {
  it('collects URL passwords, secret headers and secret variables', () => {
    const result = parseEngineConfigText(
      [
        'buffer: { type: redis, url: "redis://:${REDIS_PASSWORD}@cache:6379" }',
        'sinks:',
        '  - type: otlp-http',
        '    endpoint: "https://u:endpointpw@tempo/v1/traces"',
        '    headers: { Authorization: "Bearer ${TOKEN}", X-Scope-OrgID: team-a, x-other: "${REGION}" }',
        '',
      ].join('\n'),
      'tailsift.yaml',
      '/etc',
      { env: { REDIS_PASSWORD: 'redis-pw-1', TOKEN: 'tkn-abcdef', REGION: 'eu-west-1' } },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(new Set(result.secrets)).toEqual(new Set(['redis-pw-1', 'endpointpw', 'Bearer tkn-abcdef', 'tkn-abcdef']));
  });

  it('drops secrets too short to search for', () => {
    expect(configSecrets({ buffer: { type: 'redis', url: 'redis://:ab@h:1' }, sinks: [] })).toEqual([]);
  });
});

describe('redactedConfig', () => {
  it('hides every header value and URL password', () => {
    const config = {
      buffer: { type: 'redis', url: 'redis://:pw12345@cache:6379' },
      sinks: [{ type: 'otlp-http', endpoint: 'http://tempo/v1/traces', headers: { 'x-scope-orgid': 'a', authorization: 'Basic xyz' } }],
    };
    expect(redactedConfig(config)).toEqual({
      buffer: { type: 'redis', url: 'redis://:***@cache:6379' },
      sinks: [{ type: 'otlp-http', endpoint: 'http://tempo/v1/traces', headers: { 'x-scope-orgid': '***', authorization: '***' } }],
    });
  });
});

describe('createLogger', () => {
  it('never writes a secret or a URL password, in the message, fields, errors or child loggers', () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream, secrets: ['tkn-abcdef'] });
    logger.info({ url: 'redis://:hunter22@db:6379' }, 'connecting');
    logger.error({ err: new Error('auth failed for redis://:hunter22@db:6379 with tkn-abcdef') }, 'failed');
    logger.child({ sink: 'otlp-http' }).warn('sent Authorization: Bearer tkn-abcdef');
    const lines = out.lines();
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain('hunter22');
      expect(line).not.toContain('tkn-abcdef');
    }
    expect(lines[0]).toContain('redis://:***@db:6379');
  });
});
