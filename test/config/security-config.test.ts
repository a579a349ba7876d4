import { describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { redactedConfig } from '../../src/config/redaction.js';

function parse(text: string, env: Record<string, string> = {}) {
  return parseEngineConfigText(text, '/etc/tailsift/tailsift.yaml', '/etc/tailsift', { env });
}

function problems(text: string, env: Record<string, string> = {}): string[] {
  const result = parse(text, env);
  expect(result.ok).toBe(false);
  return result.ok ? [] : [...result.problems];
}

describe('receiver bearer token', () => {
  it('takes the token from a variable, lists it as a secret and hides it in the logged config', () => {
    const result = parse('source: { type: otlp-http, bearerToken: "${OTLP_TOKEN}" }\n', { OTLP_TOKEN: 'a-long-random-token-0001' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.source).toMatchObject({ type: 'otlp-http', bearerToken: 'a-long-random-token-0001' });
    expect(result.secrets).toContain('a-long-random-token-0001');
    expect(JSON.stringify(redactedConfig(result.config))).not.toContain('a-long-random-token-0001');
    expect(redactedConfig(result.config).source).toMatchObject({ bearerToken: '***' });
  });

  it('refuses a token short enough to guess', () => {
    expect(problems('source: { bearerToken: short }\n')).toEqual([
      expect.stringMatching(/^\/etc\/tailsift\/tailsift\.yaml:1:\d+: source\.bearerToken: must be at least 16 characters/),
    ]);
  });

  it('an unset variable is a problem, never an empty token', () => {
    expect(problems('source: { bearerToken: "${OTLP_TOKEN}" }\n').join('\n')).toContain('environment variable OTLP_TOKEN is not set');
  });
});

describe('Kafka sasl and tls', () => {
  it('accepts the three mechanisms and tls as true or files, resolving the files against the config folder', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
      const result = parse(`source: { type: kafka, sasl: { mechanism: ${mechanism}, username: u, password: pw }, tls: true }\n`);
      expect(result.ok).toBe(true);
    }
    const result = parse('sinks: [{ type: kafka, tls: { ca: certs/ca.pem, cert: /abs/client.pem, key: client.key } }]\n');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.sinks[0]).toMatchObject({
      tls: { ca: '/etc/tailsift/certs/ca.pem', cert: '/abs/client.pem', key: '/etc/tailsift/client.key', rejectUnauthorized: true },
    });
  });

  it('lists SASL passwords as secrets and hides them in the logged config', () => {
    const result = parse(
      'source: { type: kafka, sasl: { mechanism: plain, username: u, password: "src-pass-1" } }\nsinks: [{ type: kafka, sasl: { mechanism: plain, username: u, password: sink-pass-2 } }]\n',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.secrets).toEqual(expect.arrayContaining(['src-pass-1', 'sink-pass-2']));
    const logged = JSON.stringify(redactedConfig(result.config));
    expect(logged).not.toContain('src-pass-1');
    expect(logged).not.toContain('sink-pass-2');
  });

  it('says what is wrong with a sasl or tls block', () => {
    expect(problems('source: { type: kafka, sasl: { mechanism: gssapi, username: u, password: p } }\n').join('\n')).toMatch(/source\.sasl\.mechanism/);
    expect(problems('source: { type: kafka, sasl: { mechanism: plain, username: u } }\n').join('\n')).toMatch(/source\.sasl\.password/);
    expect(problems('source: { type: kafka, tls: { ca: a.pem, verify: false } }\n').join('\n')).toMatch(/source\.tls/);
    expect(problems('source: { type: kafka, tls: { cert: c.pem } }\n').join('\n')).toContain('source.tls.cert: a client certificate needs its private key; add tls.key');
    expect(problems('sinks: [{ type: kafka, tls: { key: k.pem } }]\n').join('\n')).toContain('sinks[0].tls.key: a private key is used with its certificate; add tls.cert');
  });
});

describe('dead-letter topic', () => {
  it('is taken as written', () => {
    const result = parse('source: { type: kafka, topic: spans, deadLetterTopic: spans_dlq }\n');
    expect(result.ok && result.config.source).toMatchObject({ deadLetterTopic: 'spans_dlq' });
  });

  it('must not be the topic consumed', () => {
    expect(problems('source: { type: kafka, topic: spans, deadLetterTopic: spans }\n').join('\n')).toContain(
      'source.deadLetterTopic: the dead-letter topic is the topic consumed ("spans")',
    );
    expect(problems('source: { type: kafka, deadLetterTopic: otlp_spans }\n')).toHaveLength(1);
  });
});

describe('Redis buffer tls', () => {
  it('resolves the files against the config folder and defaults to verifying', () => {
    const result = parse('buffer: { type: redis, url: "rediss://cache:6380", tls: { ca: ca.pem } }\n');
    expect(result.ok && result.config.buffer).toMatchObject({ tls: { ca: '/etc/tailsift/ca.pem', rejectUnauthorized: true } });
  });

  it('lists the URL password as a secret', () => {
    const result = parse('buffer: { type: redis, url: "rediss://tailsift:${REDIS_PASSWORD}@cache:6380" }\n', { REDIS_PASSWORD: 'redis-pass-9' });
    expect(result.ok && result.secrets).toContain('redis-pass-9');
    expect(result.ok && JSON.stringify(redactedConfig(result.config))).not.toContain('redis-pass-9');
  });
});
