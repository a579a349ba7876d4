import { Redis } from 'ioredis';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localServices, uniquePrefix, type LocalServices } from '../support/services.js';

const messageWaitMs = 30_000;

function withinMs<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

describe('local services from scripts/services.sh', () => {
  let services: LocalServices;

  beforeAll(async () => {
    services = await localServices();
  }, 300_000);

  describe('kafka', () => {
    let admin: Admin | undefined;
    let producer: Producer | undefined;
    let consumer: Consumer | undefined;
    const topic = uniquePrefix('services-smoke');

    afterAll(async () => {
      await consumer?.disconnect();
      await producer?.disconnect();
      if (admin) {
        await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => undefined);
        await admin.disconnect();
      }
    });

    it('creates a fresh topic, then a message produced to it comes back to a consumer', async () => {
      const kafka = new Kafka({
        clientId: 'services-smoke',
        brokers: services.kafkaBrokers.split(','),
        logLevel: logLevel.ERROR,
        connectionTimeout: 5_000,
        requestTimeout: 15_000,
        retry: { retries: 5 },
      });

      admin = kafka.admin();
      await admin.connect();
      const created = await admin.createTopics({
        topics: [{ topic, numPartitions: 2, replicationFactor: 1 }],
        waitForLeaders: true,
        timeout: 15_000,
      });
      expect(created).toBe(true);
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0].name).toBe(topic);
      expect(metadata.topics[0].partitions).toHaveLength(2);

      producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const value = `hello ${uniquePrefix('value')}`;
      const [sent] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: 'trace-1', value, headers: { encoding: 'otlp_proto' } }],
      });
      expect(sent.errorCode).toBe(0);

      const groupConsumer = kafka.consumer({ groupId: uniquePrefix('services-smoke-group') });
      consumer = groupConsumer;
      await groupConsumer.connect();
      await groupConsumer.subscribe({ topic, fromBeginning: true });
      const received = new Promise<{ key: string; value: string; encoding: string; partition: number }>(
        (resolve, reject) => {
          groupConsumer.run({
            eachMessage: async ({ message, partition }) => {
              resolve({
                key: message.key?.toString() ?? '',
                value: message.value?.toString() ?? '',
                encoding: message.headers?.encoding?.toString() ?? '',
                partition,
              });
            },
          }).catch(reject);
        },
      );
      const got = await withinMs(messageWaitMs, `consuming from ${topic}`, received);

      expect(got).toEqual({ key: 'trace-1', value, encoding: 'otlp_proto', partition: sent.partition });
    }, 90_000);
  });

  describe('redis', () => {
    let redis: Redis | undefined;

    afterAll(async () => {
      await redis?.quit().catch(() => redis?.disconnect());
    });

    it('answers PING and round-trips SET/GET/DEL on a unique key', async () => {
      redis = new Redis(services.redisUrl, {
        lazyConnect: true,
        connectTimeout: 5_000,
        maxRetriesPerRequest: 2,
        retryStrategy: () => null,
      });
      // Commands reject with the connection error; the event would only repeat it on the console.
      redis.on('error', () => undefined);
      await redis.connect();
      const key = `${uniquePrefix('services-smoke')}:key`;
      const value = uniquePrefix('value');

      expect(await redis.ping()).toBe('PONG');
      expect(await redis.set(key, value, 'PX', 60_000)).toBe('OK');
      expect(await redis.get(key)).toBe(value);
      expect(await redis.del(key)).toBe(1);
      expect(await redis.get(key)).toBeNull();
    });
  });
});
