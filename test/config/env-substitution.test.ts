import { describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';

/** `${VAR}` references in an engine config, resolved against a given environment. */
const parse = (text: string, env: Record<string, string>) => parseEngineConfigText(text, 'tailsift.yaml', '/etc/tailsift', { env });

describe('${VAR} substitution in engine configs', () => {
  it('puts a secret from the environment into a URL', () => {
    const result = parse('buffer: { type: redis, url: "redis://:${REDIS_PASSWORD}@cache:6379" }\n', { REDIS_PASSWORD: 'pa55word' });
    expect(result.ok && result.config.buffer).toMatchObject({ url: 'redis://:pa55word@cache:6379' });
  });

  it('takes the default after :- when the variable is unset or empty', () => {
    const text = 'admin: { host: "${ADMIN_HOST:-0.0.0.0}" }\nsinks: [{ type: file, path: "${OUT:-kept.jsonl}" }]\n';
    const unset = parse(text, {});
    expect(unset.ok && unset.config.admin.host).toBe('0.0.0.0');
    const empty = parse(text, { ADMIN_HOST: '' });
    expect(empty.ok && empty.config.admin.host).toBe('0.0.0.0');
    const set = parse(text, { ADMIN_HOST: '10.1.2.3', OUT: '/data/out.jsonl' });
    expect(set.ok && set.config.admin.host).toBe('10.1.2.3');
    expect(set.ok && set.config.sinks[0]).toEqual({ type: 'file', path: '/data/out.jsonl' });
  });

  it('reads the Collector\'s ${env:VAR} form', () => {
    const result = parse('sinks: [{ type: otlp-http, endpoint: "${env:TEMPO_URL}" }]\n', { TEMPO_URL: 'http://tempo:4318/v1/traces' });
    expect(result.ok && result.config.sinks[0]).toMatchObject({ endpoint: 'http://tempo:4318/v1/traces' });
  });

  it('types a plain value that is one reference, and keeps quoted ones strings', () => {
    const plain = parse('admin:\n  port: ${ADMIN_PORT}\n', { ADMIN_PORT: '9555' });
    expect(plain.ok && plain.config.admin.port).toBe(9555);
    // Quoted: the author asked for a string, and the schema says so.
    const quoted = parse('admin:\n  port: "${ADMIN_PORT}"\n', { ADMIN_PORT: '9555' });
    expect(quoted).toEqual({ ok: false, problems: ['tailsift.yaml:2:9: admin.port: expected a number, got string "9555"'] });
  });

  it('reads $$ as a literal dollar sign', () => {
    const result = parse('sinks: [{ type: otlp-http, endpoint: "http://x/v1/traces", headers: { x-token: "a$$b${T}" } }]\n', { T: 'c' });
    expect(result.ok && result.config.sinks[0]).toMatchObject({ headers: { 'x-token': 'a$bc' } });
  });

  it('reports an unset variable without a default at its value', () => {
    const result = parse('buffer:\n  type: redis\n  url: "redis://:${REDIS_PASSWORD}@cache:6379"\n', {});
    expect(result).toEqual({
      ok: false,
      problems: ['tailsift.yaml:3:8: buffer.url: environment variable REDIS_PASSWORD is not set; set it, or give a default: ${REDIS_PASSWORD:-value}'],
    });
  });

  it('reports a reference that is not a variable name', () => {
    const result = parse('policies: "${1BAD}"\n', {});
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems[0]).toBe(
      'tailsift.yaml:1:11: policies: "${1BAD}" is not a variable reference; write ${NAME} or ${NAME:-default}, and $$ for a literal $',
    );
  });

  it('leaves keys alone', () => {
    const result = parse('sinks: [{ type: otlp-http, endpoint: "http://x/v1/traces", headers: { "${H}": v } }]\n', { H: 'x-h' });
    expect(result.ok && result.config.sinks[0]).toMatchObject({ headers: { '${H}': 'v' } });
  });
});
