import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as KafkajsModule from 'kafkajs';
import type { KafkaConfig } from 'kafkajs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { ConfigError } from '../../src/errors.js';
import { kafkajsSecurityOptions } from '../../src/ingest/kafka-client-security.js';
import { createSource } from '../../src/ingest/span-source.js';
import { createSink } from '../../src/forward/sinks.js';
import { silentLogger } from '../../src/telemetry/logger.js';

// Every kafkajs client tailsift builds goes through this constructor; the test reads what it got.
const built = vi.hoisted(() => [] as KafkaConfig[]);

vi.mock('kafkajs', async (importOriginal) => {
  const original = await importOriginal<typeof KafkajsModule>();
  class Kafka {
    constructor(config: KafkaConfig) {
      built.push(config);
    }
    consumer() {
      return { events: {}, on: () => undefined };
    }
    producer() {
      return {};
    }
  }
  return { ...original, Kafka };
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tailsift-kafka-tls-'));
  await writeFile(join(dir, 'ca.pem'), 'CA PEM');
  await writeFile(join(dir, 'client.pem'), 'CLIENT CERT PEM');
  await writeFile(join(dir, 'client.key'), 'CLIENT KEY PEM');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  built.length = 0;
});

function config(text: string, env: Record<string, string> = {}) {
  const result = parseEngineConfigText(text, join(dir, 'tailsift.yaml'), dir, { env });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result;
}

describe('kafkajsSecurityOptions', () => {
  it('maps each SASL mechanism and TLS setting to kafkajs sasl/ssl', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
      expect(kafkajsSecurityOptions({ sasl: { mechanism, username: 'u', password: 'p' } }, 'source.tls')).toEqual({
        sasl: { mechanism, username: 'u', password: 'p' },
      });
    }
    expect(kafkajsSecurityOptions({ tls: true }, 'source.tls')).toEqual({ ssl: true });
    expect(kafkajsSecurityOptions({ tls: false }, 'source.tls')).toEqual({});
    expect(kafkajsSecurityOptions(undefined, 'source.tls')).toEqual({});
    expect(kafkajsSecurityOptions({ tls: { ca: join(dir, 'ca.pem') } }, 'source.tls')).toEqual({
      ssl: { ca: Buffer.from('CA PEM'), rejectUnauthorized: true },
    });
  });

  it('names the setting and the file it cannot read', () => {
    const read = (): unknown => kafkajsSecurityOptions({ tls: { ca: join(dir, 'missing.pem') } }, 'sinks[].tls');
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/sinks\[\]\.tls\.ca: cannot read .*missing\.pem/);
  });
});

describe('Kafka clients built from the config', () => {
  const secured = [
    '  sasl: { mechanism: scram-sha-512, username: tailsift, password: "${KAFKA_PASSWORD}" }',
    '  tls: { ca: ca.pem, cert: client.pem, key: client.key, rejectUnauthorized: false }',
  ];

  it('the source consumer and its dead-letter producer get the same sasl and ssl', () => {
    const loaded = config(
      ['source:', '  type: kafka', '  brokers: ["broker-1:9093"]', '  deadLetterTopic: otlp_spans_dlq', ...secured, ''].join('\n'),
      { KAFKA_PASSWORD: 'kafka-secret-pw' },
    );
    createSource(loaded.config.source, async () => ({ status: 'accepted' }), silentLogger);
    expect(built).toHaveLength(2);
    for (const client of built) {
      expect(client.brokers).toEqual(['broker-1:9093']);
      expect(client.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'tailsift', password: 'kafka-secret-pw' });
      expect(client.ssl).toEqual({
        ca: Buffer.from('CA PEM'),
        cert: Buffer.from('CLIENT CERT PEM'),
        key: Buffer.from('CLIENT KEY PEM'),
        rejectUnauthorized: false,
      });
    }
    expect(loaded.secrets).toContain('kafka-secret-pw');
  });

  it('the Kafka sink producer gets sasl and ssl: true', () => {
    const loaded = config(
      ['sinks:', '  - type: kafka', '    brokers: ["broker-1:9093"]', '    tls: true', '    sasl: { mechanism: plain, username: u1, password: p1-long-enough }', ''].join('\n'),
    );
    createSink(loaded.config.sinks[0], silentLogger);
    expect(built).toHaveLength(1);
    expect(built[0].ssl).toBe(true);
    expect(built[0].sasl).toEqual({ mechanism: 'plain', username: 'u1', password: 'p1-long-enough' });
    expect(loaded.secrets).toContain('p1-long-enough');
  });

  it('without sasl or tls the clients are plaintext, as before', () => {
    const loaded = config('source: { type: kafka }\nsinks: [{ type: kafka }]\n');
    createSource(loaded.config.source, async () => ({ status: 'accepted' }), silentLogger);
    createSink(loaded.config.sinks[0], silentLogger);
    expect(built).toHaveLength(2);
    for (const client of built) {
      expect(client.ssl).toBeUndefined();
      expect(client.sasl).toBeUndefined();
    }
  });
});
