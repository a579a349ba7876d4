import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineFixture } from '../support/pipeline-fixture.js';
import { localServices } from '../support/services.js';
import { startTestKafkaBroker, type TestKafkaBroker } from '../support/test-kafka-broker.js';
import { eventually } from '../support/engine-process.js';

// A broker of this file's own with a SASL_PLAINTEXT listener; topics are set up and read back
// through its PLAINTEXT listener, the engine talks SASL only.
const USER = 'tailsift-sasl';
const PASSWORD = 'sasl-password-7d1e9c';

describe('Kafka SASL against a real broker', () => {
  let broker: TestKafkaBroker;
  let redisUrl: string;
  const fixtures: PipelineFixture[] = [];

  beforeAll(async () => {
    redisUrl = (await localServices()).redisUrl;
    broker = await startTestKafkaBroker({ lifetimeSeconds: 400, sasl: { username: USER, password: PASSWORD } });
  }, 240_000);

  afterAll(async () => {
    for (const f of fixtures) await f.dispose();
    await broker?.dispose();
  }, 60_000);

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`consumes, reports lag and produces kept traces with ${mechanism}`, async () => {
      const fixture = await PipelineFixture.create(broker.brokers, redisUrl);
      fixtures.push(fixture);
      const sinkTopic = `${fixture.topic}-kept`;
      await createTopic(broker.brokers, sinkTopic);
      const sasl = `sasl: { mechanism: ${mechanism}, username: ${USER}, password: "\${KAFKA_SASL_PASSWORD}" }`;
      const engine = await fixture.startEngine(0, redisUrl, {
        brokers: broker.saslBrokers,
        source: sasl,
        sinks: `[{ type: file, path: kept-0.jsonl }, { type: kafka, brokers: [${JSON.stringify(broker.saslBrokers)}], topic: ${sinkTopic}, ${sasl} }]`,
        env: { KAFKA_SASL_PASSWORD: PASSWORD },
      });
      await fixture.generate({ seconds: 3, rate: 10, seed: 31 });
      const traces = await fixture.manifest();

      const r = await fixture.settle(traces, 1, 60_000);
      expect(r.incomplete).toEqual([]);
      expect(r.unexpected).toEqual([]);
      expect(r.expected.size).toBeGreaterThan(0);

      // The Kafka sink wrote one record per kept trace, keyed by its id, over SASL.
      const keys = await readKeys(broker.brokers, sinkTopic, r.expected.size).catch((err: Error) => {
        throw new Error(`${err.message}; engine warnings:\n${engine.logs.filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify(l)).join('\n')}`);
      });
      expect(new Set(keys)).toEqual(r.expected);

      // The consumer-lag sampler connects with the same credentials: its gauge appears.
      await eventually(
        async () => ((await (await fetch(`${engine.adminUrl}/metrics`)).text()).includes('tailsift_kafka_consumer_lag{') ? true : undefined),
        40_000,
        'the consumer lag gauge',
      );
      expect(engine.logs.filter((l) => String(l.msg).includes('cannot read Kafka consumer lag'))).toEqual([]);
      // The password is in no log line.
      expect(engine.stderr()).not.toContain(PASSWORD);
      expect(await engine.stop()).toBe(0);
    }, 180_000);
  }

  it('a wrong password is refused by the broker and named as an authentication failure, without the password', async () => {
    const fixture = await PipelineFixture.create(broker.brokers, redisUrl);
    fixtures.push(fixture);
    const wrong = 'not-the-password-41';
    const started = fixture
      .startEngine(0, redisUrl, {
        brokers: broker.saslBrokers,
        source: `sasl: { mechanism: scram-sha-256, username: ${USER}, password: "\${KAFKA_SASL_PASSWORD}" }`,
        env: { KAFKA_SASL_PASSWORD: wrong },
      })
      .then(
        (engine) => ({ engine, error: undefined }),
        (error: Error) => ({ engine: undefined, error }),
      );
    const { engine, error } = await started;
    const output = engine === undefined ? error!.message : await eventually(() => (/authenticat/i.test(engine.stderr()) ? engine.stderr() : undefined), 60_000, 'an authentication error');
    expect(output).toMatch(/authenticat/i);
    expect(output).not.toContain(wrong);
    if (engine !== undefined) await engine.stop('SIGKILL');
  }, 120_000);
});

async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Kafka({ clientId: 'tailsift-test-admin', brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function readKeys(brokers: string, topic: string, expected: number): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'tailsift-test-reader', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await eventually(
      async () => {
        const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
        const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
        if (total < expected) return undefined;
        const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}` });
        await consumer.connect();
        const keys: string[] = [];
        await consumer.subscribe({ topic, fromBeginning: true });
        await new Promise<void>((resolve) => {
          void consumer.run({
            eachMessage: async ({ message }) => {
              keys.push(message.key?.toString() ?? '');
              if (keys.length >= total) resolve();
            },
          });
        });
        await consumer.disconnect();
        return keys;
      },
      60_000,
      `${expected} records in ${topic}`,
    );
  } finally {
    await admin.disconnect();
  }
}
