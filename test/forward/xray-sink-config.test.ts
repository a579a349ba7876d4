import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { ConfigError } from '../../src/errors.js';
import { resolveAwsRegion } from '../../src/forward/aws-sigv4.js';
import { createSink } from '../../src/forward/sinks.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const parse = (text: string) => parseEngineConfigText(text, 'tailsift.yaml', '/etc/tailsift', { env: {} });

describe('the xray sink entry', () => {
  it('validates with its defaults filled in', () => {
    const result = parse('sinks:\n  - { type: xray, region: eu-west-1 }\n');
    expect(result.ok && result.config.sinks).toEqual([
      {
        type: 'xray',
        region: 'eu-west-1',
        timeout: 10_000,
        traceIdWindow: { check: true, maxAge: 672 * 3_600_000, maxFuture: 300_000 },
      },
    ]);
  });

  it('takes an endpoint, a timeout and a trace-id window', () => {
    const result = parse(
      [
        'sinks:',
        '  - type: xray',
        '    endpoint: "https://xray.us-east-2.amazonaws.com/v1/traces"',
        '    timeout: 3s',
        '    traceIdWindow: { maxAge: 24h, maxFuture: 1m }',
        '',
      ].join('\n'),
    );
    expect(result.ok && result.config.sinks[0]).toEqual({
      type: 'xray',
      endpoint: 'https://xray.us-east-2.amazonaws.com/v1/traces',
      timeout: 3_000,
      traceIdWindow: { check: true, maxAge: 86_400_000, maxFuture: 60_000 },
    });
  });

  it('has no place for credentials: they come from the AWS chain only', () => {
    const result = parse('sinks:\n  - { type: xray, region: eu-west-1, secretAccessKey: abc }\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join('\n')).toMatch(/sinks\[0\].*secretAccessKey/);
  });

  it('refuses a window that is not a duration', () => {
    const result = parse('sinks:\n  - { type: xray, region: eu-west-1, traceIdWindow: { maxAge: soon } }\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join('\n')).toContain('sinks[0].traceIdWindow.maxAge');
  });
});

describe('the xray sink region', () => {
  const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };

  beforeEach(() => {
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
  });

  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('is a clear ConfigError when neither the config nor the environment names one', () => {
    const result = parse('sinks:\n  - { type: xray }\n');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    let failure: unknown;
    try {
      createSink(result.config.sinks[0] as Parameters<typeof createSink>[0], silentLogger);
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).problems).toEqual([
      'sinks: the xray sink has no AWS region; set its region, or AWS_REGION (or AWS_DEFAULT_REGION) in the environment',
    ]);
  });

  it('comes from AWS_REGION, else AWS_DEFAULT_REGION, when not configured', async () => {
    process.env.AWS_DEFAULT_REGION = 'sa-east-1';
    const result = parse('sinks:\n  - { type: xray }\n');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const sink = createSink(result.config.sinks[0] as Parameters<typeof createSink>[0], silentLogger);
    expect(sink.name).toBe('xray https://xray.sa-east-1.amazonaws.com/v1/traces');
    await sink.close();

    expect(resolveAwsRegion(undefined, 'x', { AWS_REGION: 'eu-north-1', AWS_DEFAULT_REGION: 'sa-east-1' })).toBe('eu-north-1');
    expect(resolveAwsRegion('ca-central-1', 'x', { AWS_REGION: 'eu-north-1' })).toBe('ca-central-1');
  });
});
