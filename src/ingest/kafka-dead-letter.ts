import { Kafka, logLevel, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from '../telemetry/logger.js';
import { kafkajsSecurityOptions, type KafkaClientSecurity } from './kafka-client-security.js';
import { forwardKafkajsLog } from './kafka-group-consumer.js';
import type { PoisonReason } from './kafka-message-decoding.js';
import type { PoisonHandler, PoisonMessage } from './kafka-source.js';

/** Headers a dead-letter record carries; the record's key and value are the original's. */
export const DEAD_LETTER_HEADERS = {
  /** Why the record was not taken: a PoisonReason (`malformed`, `no_value`). */
  reason: 'tailsift.dlq.reason',
  /** What the decoder said, at most DETAIL_MAX_LENGTH characters. */
  detail: 'tailsift.dlq.detail',
  sourceTopic: 'tailsift.dlq.source.topic',
  /** Decimal. */
  sourcePartition: 'tailsift.dlq.source.partition',
  /** Decimal int64. */
  sourceOffset: 'tailsift.dlq.source.offset',
} as const;

// A decoder message is short; the cap keeps a header from growing with whatever a record held.
const DETAIL_MAX_LENGTH = 1_000;

export interface DeadLetterRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** The little of a Kafka producer the dead-letter writer needs (tests pass their own). */
export interface DeadLetterProducer {
  connect(): Promise<void>;
  /** Resolves once the broker acknowledged the record (all in-sync replicas). */
  send(topic: string, record: DeadLetterRecord): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaDeadLetterOptions {
  readonly brokers: readonly string[];
  /** The dead-letter topic; it must exist (it is never created on the fly). */
  readonly topic: string;
  /** Kafka client id. Default `tailsift`. */
  readonly clientId?: string;
  readonly security?: KafkaClientSecurity;
  readonly logger: Logger;
  /** Time the broker has to acknowledge one record, ms. Default 30 s. */
  readonly ackTimeoutMs?: number;
  readonly producer?: DeadLetterProducer;
}

/**
 * Produces poison records of the source topic to a dead-letter topic, with headers saying why
 * and where they came from, so they can be inspected and replayed. Used as the Kafka source's
 * `onPoison`: `handle` resolves only once the broker acknowledged the record, and the source
 * commits past a poison record only after that, so a record is never lost between the two
 * topics. A failed write rejects; the source waits and calls again.
 */
export class KafkaDeadLetter {
  readonly topic: string;
  private readonly producer: DeadLetterProducer;
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private produced = 0;

  constructor(options: KafkaDeadLetterOptions) {
    this.topic = options.topic;
    this.producer =
      options.producer ??
      kafkajsDeadLetterProducer({
        brokers: options.brokers,
        clientId: options.clientId ?? 'tailsift',
        security: options.security,
        ackTimeoutMs: options.ackTimeoutMs ?? 30_000,
        logger: options.logger.child({ deadLetterTopic: options.topic }),
      });
  }

  /** The source's poison handler. */
  readonly handle: PoisonHandler = async (message, reason) => {
    if (this.closing !== undefined) throw new Error('the dead-letter producer is closed');
    // A failed connect is forgotten so the next call dials again.
    this.connecting ??= this.producer.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    await this.connecting;
    await this.producer.send(this.topic, deadLetterRecord(message, reason));
    this.produced += 1;
  };

  /** Records the broker acknowledged. */
  count(): number {
    return this.produced;
  }

  /** Disconnects; call after the source stopped, so no handler is running. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.connecting === undefined) return;
      await this.connecting.catch(() => undefined);
      await this.producer.disconnect();
    })();
    return this.closing;
  }
}

/** The dead-letter record of a poison message: its own key and value, and where and why in headers. */
export function deadLetterRecord(message: PoisonMessage, reason: PoisonReason): DeadLetterRecord {
  return {
    key: message.key,
    value: message.value,
    headers: {
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.detail]: message.detail.slice(0, DETAIL_MAX_LENGTH),
      [DEAD_LETTER_HEADERS.sourceTopic]: message.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(message.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: message.offset,
    },
  };
}

interface KafkajsDeadLetterProducerOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security: KafkaClientSecurity | undefined;
  readonly ackTimeoutMs: number;
  readonly logger: Logger;
}

/** An idempotent kafkajs producer, acks from all in-sync replicas, no topic auto-creation. */
function kafkajsDeadLetterProducer(options: KafkajsDeadLetterProducerOptions): DeadLetterProducer {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkajsSecurityOptions(options.security, 'source.tls'),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => forwardKafkajsLog(options.logger, entry),
  });
  const producer: Producer = kafka.producer({
    idempotent: true,
    // Bounded so a failing write comes back to the source, which logs it once and retries.
    retry: { retries: 3, initialRetryTime: 200 },
    // A typo in deadLetterTopic must not create a topic nobody reads.
    allowAutoTopicCreation: false,
  });
  return {
    connect: () => producer.connect(),
    async send(topic, record) {
      await producer.send({
        topic,
        acks: -1,
        timeout: options.ackTimeoutMs,
        messages: [{ key: record.key, value: record.value, headers: { ...record.headers } }],
      });
    },
    disconnect: () => producer.disconnect(),
  };
}
