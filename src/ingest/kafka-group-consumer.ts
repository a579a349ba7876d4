import { Kafka, logLevel, type Consumer, type EachBatchPayload, type LogEntry } from 'kafkajs';
import type { Logger } from '../telemetry/logger.js';
import { kafkajsSecurityOptions, type KafkaClientSecurity } from './kafka-client-security.js';

/**
 * The little of a Kafka group consumer the Kafka source needs. kafkajs stays behind this file:
 * the source sees batches of records, a way to keep its group membership alive while it
 * waits, and an explicit commit.
 */
export interface GroupConsumer {
  /**
   * Connects, subscribes, joins the group and starts handing batches to `handler`, one at a
   * time. Resolves once the first join was attempted; a failure to connect or subscribe rejects.
   */
  start(handler: BatchHandler): Promise<void>;
  /** Stops fetching from every partition of the topic this member holds (backpressure). */
  pause(): void;
  /** Undoes `pause`. */
  resume(): void;
  /**
   * Stops fetching, waits until the handler in flight returns, leaves the group and
   * disconnects. Batches fetched but not yet handed over are dropped uncommitted, so the
   * group delivers them again.
   */
  stop(): Promise<void>;
  /** Membership and failure events, for readiness and counters. */
  onStatus(listener: (event: GroupStatusEvent) => void): void;
}

export type BatchHandler = (batch: FetchedBatch, control: BatchControl) => Promise<void>;

/** Records of one partition, in offset order. */
export interface FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly FetchedRecord[];
}

export interface FetchedRecord {
  /** The record's offset, a decimal int64. */
  readonly offset: string;
  readonly key: Buffer | null;
  /** Null for a tombstone. */
  readonly value: Buffer | null;
}

export interface BatchControl {
  /**
   * Tells the group coordinator this member is alive while the handler waits. Rejects when
   * the group is rebalancing; the handler must then let that error propagate so the consumer
   * rejoins (the batch stays uncommitted and is delivered again).
   */
  heartbeat(): Promise<void>;
  /** Marks every record of the batch as processed and commits the group's offset past it. */
  commit(): Promise<void>;
  /** False once the consumer is stopping or the batch was superseded: stop retrying. */
  isActive(): boolean;
}

export type GroupStatusEvent =
  | { readonly type: 'joined'; readonly partitions: readonly number[] }
  | { readonly type: 'rebalancing' }
  | { readonly type: 'crashed'; readonly error: Error; readonly restarting: boolean }
  | { readonly type: 'stopped' };

export interface KafkajsGroupConsumerOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  readonly clientId: string;
  /** Where a group without a committed offset starts: the oldest retained record, or only new ones. */
  readonly initialOffset: 'earliest' | 'latest';
  /** Time the coordinator waits for a heartbeat before it drops this member, ms. */
  readonly sessionTimeoutMs: number;
  /** Largest fetch per partition, bytes; bounds one batch and so one intake call. */
  readonly maxBytesPerPartition: number;
  /** Longest time the broker holds a fetch open waiting for new records, ms. */
  readonly maxFetchWaitMs: number;
  /** SASL and TLS to the brokers. Default: plaintext, no authentication. */
  readonly security?: KafkaClientSecurity;
  readonly logger: Logger;
}

/** A GroupConsumer on kafkajs, committing only when the handler says so. */
export function kafkajsGroupConsumer(options: KafkajsGroupConsumerOptions): GroupConsumer {
  const { topic, logger } = options;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkajsSecurityOptions(options.security, 'source.tls'),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => forwardKafkajsLog(logger, entry),
  });
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    // kafkajs's 3 s, unless the session is too short for it: several heartbeats per session.
    heartbeatInterval: Math.max(100, Math.min(3_000, Math.floor(options.sessionTimeoutMs / 3))),
    maxBytesPerPartition: options.maxBytesPerPartition,
    // Also how long a stop waits for the fetch in flight to come back.
    maxWaitTimeInMs: options.maxFetchWaitMs,
    // The topic is provisioned by whoever produces to it; a typo must not create a new one.
    allowAutoTopicCreation: false,
  });
  const listeners: Array<(event: GroupStatusEvent) => void> = [];
  const emit = (event: GroupStatusEvent): void => {
    for (const listener of listeners) listener(event);
  };
  consumer.on(consumer.events.GROUP_JOIN, (e) => emit({ type: 'joined', partitions: e.payload.memberAssignment[topic] ?? [] }));
  consumer.on(consumer.events.REBALANCING, () => emit({ type: 'rebalancing' }));
  consumer.on(consumer.events.CRASH, (e) => emit({ type: 'crashed', error: e.payload.error, restarting: e.payload.restart }));
  consumer.on(consumer.events.STOP, () => emit({ type: 'stopped' }));

  // kafkajs throws from pause/resume while it rebuilds its group after a crash; the partitions
  // then restart unpaused anyway, so there is nothing left to pause or resume.
  const whileRunning = (action: () => void): void => {
    try {
      action();
    } catch (err) {
      logger.debug({ err }, 'kafka consumer not running; pause/resume skipped');
    }
  };

  return {
    async start(handler) {
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: options.initialOffset === 'earliest' });
      } catch (err) {
        // Nobody calls stop after a failed start; do not leave the connections open.
        await consumer.disconnect().catch(() => undefined);
        throw err;
      }
      await consumer.run({
        // Offsets move only through BatchControl.commit, after the spans are in the buffer.
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => handler(toFetchedBatch(payload), toBatchControl(payload)),
      });
    },
    pause() {
      whileRunning(() => consumer.pause([{ topic }]));
    },
    resume() {
      whileRunning(() => consumer.resume([{ topic }]));
    },
    async stop() {
      await consumer.disconnect();
    },
    onStatus(listener) {
      listeners.push(listener);
    },
  };
}

function toFetchedBatch(payload: EachBatchPayload): FetchedBatch {
  const { batch } = payload;
  return {
    topic: batch.topic,
    partition: batch.partition,
    records: batch.messages.map((m) => ({ offset: m.offset, key: m.key, value: m.value })),
  };
}

function toBatchControl(payload: EachBatchPayload): BatchControl {
  const { batch } = payload;
  return {
    heartbeat: () => payload.heartbeat(),
    async commit() {
      const last = batch.messages[batch.messages.length - 1];
      if (last !== undefined) payload.resolveOffset(last.offset);
      // With autoCommit off, commitOffsetsIfNecessary commits only what it is given; hand it
      // every resolved offset, which are all past records already taken by the buffer.
      const pending = payload.uncommittedOffsets();
      if (pending.topics.length > 0) await payload.commitOffsetsIfNecessary(pending);
    },
    isActive: () => payload.isRunning() && !payload.isStale(),
  };
}

/**
 * kafkajs log lines into our logger, tagged so they can be told apart from ours. Its
 * connection layer logs an error for every failed request, retries included; the operation
 * that made them reports the outcome once (a crash and restart line, a failed start), so those
 * go to debug.
 */
export function forwardKafkajsLog(logger: Logger, entry: LogEntry): void {
  const { message, ...extra } = entry.log;
  const line = { component: 'kafkajs', namespace: entry.namespace, ...extra };
  if (entry.namespace === 'Connection') logger.debug(line, message);
  else if (entry.level === logLevel.ERROR) logger.error(line, message);
  else if (entry.level === logLevel.WARN) logger.warn(line, message);
  else logger.debug(line, message);
}
