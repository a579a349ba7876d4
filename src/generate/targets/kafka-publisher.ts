import { Kafka, Partitioners, logLevel, type LogEntry, type Producer } from 'kafkajs';
import { SinkError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';

/** One Kafka record: the Collector's Kafka exporter writes no headers for OTLP payloads. */
export interface KafkaRecord {
  readonly key: string | null;
  readonly value: Buffer;
}

/**
 * The little of a Kafka producer the generator needs, so kafkajs stays behind this file and
 * tests can stand in for a broker.
 */
export interface KafkaPublisher {
  connect(): Promise<void>;
  /** Sends records to `topic`; failures are SinkErrors carrying kafkajs's retriable flag. */
  publish(topic: string, records: readonly KafkaRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export type KafkaPublisherFactory = (brokers: readonly string[]) => KafkaPublisher;

/** A kafkajs producer writing with acks from all in-sync replicas, as the Collector's exporter does by default. */
export function kafkajsPublisher(brokers: readonly string[], logger: Logger): KafkaPublisher {
  const name = `kafka://${brokers.join(',')}`;
  const kafka = new Kafka({
    clientId: 'tailsift-generate',
    brokers: [...brokers],
    // kafkajs retries inside a send too; keep that short and let our retry loop (with its counts) do the rest.
    retry: { retries: 2, initialRetryTime: 200 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      const line = { component: 'kafkajs', namespace: entry.namespace, ...extra };
      if (entry.level === logLevel.ERROR) logger.error(line, message);
      else logger.warn(line, message);
    },
  });
  // The Java-compatible partitioner, so a trace id key lands where other Kafka clients would put it.
  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const wrap = (err: unknown): SinkError => {
    const retriable = typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
    const message = err instanceof Error ? err.message : String(err);
    return new SinkError(name, message, { retriable, cause: err });
  };
  return {
    async connect() {
      try {
        await producer.connect();
      } catch (err) {
        throw wrap(err);
      }
    },
    async publish(topic, records) {
      try {
        await producer.send({ topic, messages: records.map((r) => ({ key: r.key, value: r.value })) });
      } catch (err) {
        throw wrap(err);
      }
    },
    async disconnect() {
      await producer.disconnect();
    },
  };
}
