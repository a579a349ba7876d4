import { setTimeout as sleep } from 'node:timers/promises';
import { TailsiftError } from '../errors.js';
import { backoffDelayMs, DEFAULT_RETRY, type RetrySettings } from '../forward/retry.js';
import type { DecodedRequest } from '../otlp/types.js';
import type { Logger } from '../telemetry/logger.js';
import { kafkajsGroupConsumer, type BatchControl, type FetchedBatch, type GroupConsumer, type GroupStatusEvent } from './kafka-group-consumer.js';
import type { KafkaClientSecurity } from './kafka-client-security.js';
import { decodeKafkaBatch, POISON_REASONS, type KafkaEncoding, type PoisonReason, type PoisonRecord } from './kafka-message-decoding.js';
import type { Intake } from './otlp-http-receiver.js';

/** A record the source cannot take, as handed to `onPoison`. */
export interface PoisonMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** What was wrong with it. */
  readonly detail: string;
}

/**
 * Called once per poison record before the batch's offset moves past it; the record is
 * counted either way. The default does nothing (skip). A dead-letter producer goes here: when
 * it rejects, the batch waits and the hook is called again, so a record is never skipped
 * before the hook has taken it.
 */
export type PoisonHandler = (message: PoisonMessage, reason: PoisonReason) => void | Promise<void>;

export interface KafkaSourceOptions {
  /** Bootstrap brokers, each `host:port`. */
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Consumer group; instances sharing it share the topic's partitions. */
  readonly groupId: string;
  /** How record values are written (the Collector's Kafka exporter `traces::encoding`). */
  readonly encoding: KafkaEncoding;
  /** Takes a batch's spans into the engine; 'full' pauses consumption until it accepts. */
  readonly intake: Intake;
  readonly logger: Logger;
  /** Kafka client id, shown in broker logs and quotas. Default `tailsift`. */
  readonly clientId?: string;
  /** SASL and TLS to the brokers. Default: plaintext, no authentication. */
  readonly security?: KafkaClientSecurity;
  /**
   * Where a group without committed offsets starts. Default `earliest`: records already in the
   * topic when a group first starts are consumed, not skipped.
   */
  readonly initialOffset?: 'earliest' | 'latest';
  /** Time the group coordinator waits for a heartbeat before it rebalances this member away, ms. Default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** Largest fetch per partition and so per intake call, bytes. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Longest time the broker holds a fetch open when there is nothing new, ms. Default 250 ms: an idle fetch also holds up `stop` this long. */
  readonly maxFetchWaitMs?: number;
  /** Backoff between intake attempts that threw (the buffer unreachable); `maxElapsedMs` is not used: the source never gives up a batch. */
  readonly retry?: Partial<Pick<RetrySettings, 'initialMs' | 'maxMs' | 'multiplier' | 'jitter'>>;
  /** Longest wait before asking a full intake again, whatever retryAfterMs it gave, ms. Default 30 s. */
  readonly maxFullWaitMs?: number;
  /** Shortest time between two aggregated log lines about poison records, ms. Default 10 s. */
  readonly logIntervalMs?: number;
  readonly onPoison?: PoisonHandler;
  /** The group consumer; a kafkajs one by default (tests pass their own). */
  readonly consumer?: GroupConsumer;
}

export interface KafkaSourceCounters {
  /** Records handed to the source, redeliveries included. */
  readonly records: number;
  /**
   * Records delivered again at an offset this instance had already given to the intake (after
   * a rebalance, or a commit that failed). Their spans reach the intake twice; redeliveries to
   * another instance or after a restart cannot be seen here.
   */
  readonly recordsRedelivered: number;
  /** Records whose offsets were committed: their spans were accepted, or they were poison. */
  readonly recordsCommitted: number;
  /** Spans the intake accepted. */
  readonly spansAccepted: number;
  readonly batchesCommitted: number;
  /** Records skipped, by reason. */
  readonly poison: Readonly<Record<PoisonReason, number>>;
  /** Intake answers 'full' (each one a wait before the same batch is offered again). */
  readonly intakeFull: number;
  /** Intake calls that threw (each one a backoff before the same batch is offered again). */
  readonly intakeErrors: number;
  /** `onPoison` calls that threw. */
  readonly poisonHandlerErrors: number;
  /** Commits that failed after the intake accepted; the batch is redelivered (duplicates). */
  readonly commitErrors: number;
  /** Batches left uncommitted because the source stopped while the intake refused them. */
  readonly batchesAbandoned: number;
  /** Times this member joined its group (the first join and every rebalance). */
  readonly groupJoins: number;
}

/** The Kafka source could not start, or its consumer failed for good. */
export class KafkaSourceError extends TailsiftError {
  constructor(message: string, options: { retriable: boolean; cause?: unknown }) {
    super('KAFKA_SOURCE_FAILED', message, options);
  }
}

const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BYTES_PER_PARTITION = 1024 * 1024;
const DEFAULT_MAX_FETCH_WAIT_MS = 250;
const DEFAULT_MAX_FULL_WAIT_MS = 30_000;
// A full buffer that says "retry now" would otherwise be asked in a tight loop.
const MIN_FULL_WAIT_MS = 10;

/** Why an attempt did not go through, and how long to wait before the next one. */
interface Refusal {
  readonly waitMs: number;
  readonly reason: string;
}

/**
 * Consumes OTLP spans from a Kafka topic as the Collector's Kafka exporter writes them
 * (`otlp_proto` or `otlp_json` values; keyed by trace id or not: the buffer groups spans by
 * trace, so any instance can take any partition).
 *
 * At-least-once: each fetched batch (one partition) is decoded, its spans go to the intake in
 * one call, and only after the intake accepted is the partition's offset committed. A full
 * intake pauses the topic and the same batch is offered again after the wait it asked for; an
 * intake that throws is retried with backoff. Nothing is skipped except poison records, which
 * are counted by reason, handed to `onPoison` and logged in one aggregated line per interval.
 * A rebalance or a crash before the commit means redelivery, never loss.
 */
export class KafkaSource {
  private readonly topic: string;
  private readonly encoding: KafkaEncoding;
  private readonly intake: Intake;
  private readonly logger: Logger;
  private readonly consumer: GroupConsumer;
  private readonly onPoison: PoisonHandler | undefined;
  private readonly retry: RetrySettings;
  private readonly maxFullWaitMs: number;
  private readonly heartbeatEveryMs: number;
  private readonly logIntervalMs: number;

  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly stopSignal = new AbortController();
  private joined = false;
  private fatal: Error | undefined;
  /** Partitions this member was given at its last join. */
  private assigned: readonly number[] = [];

  /** Per partition: the offset after the last record this instance gave to the intake. */
  private readonly takenUpTo = new Map<number, bigint>();
  /** Batches waiting for the intake right now; the topic stays paused while any does. */
  private stalled = 0;
  private stalledSince = 0;

  private readonly counts = {
    records: 0,
    recordsRedelivered: 0,
    recordsCommitted: 0,
    spansAccepted: 0,
    batchesCommitted: 0,
    intakeFull: 0,
    intakeErrors: 0,
    poisonHandlerErrors: 0,
    commitErrors: 0,
    batchesAbandoned: 0,
    groupJoins: 0,
  };
  private readonly poison = Object.fromEntries(POISON_REASONS.map((r) => [r, 0])) as Record<PoisonReason, number>;
  private unloggedPoison = new Map<PoisonReason, number>();
  private lastPoison: { partition: number; offset: string; detail: string } | undefined;
  private lastPoisonLogAt = Number.NEGATIVE_INFINITY;
  private poisonLogTimer: NodeJS.Timeout | undefined;

  constructor(options: KafkaSourceOptions) {
    if (options.brokers.length === 0) throw new TypeError('KafkaSource needs at least one broker');
    this.topic = options.topic;
    this.encoding = options.encoding;
    this.intake = options.intake;
    this.logger = options.logger.child({ source: 'kafka', topic: options.topic, groupId: options.groupId });
    this.onPoison = options.onPoison;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.maxFullWaitMs = options.maxFullWaitMs ?? DEFAULT_MAX_FULL_WAIT_MS;
    this.logIntervalMs = options.logIntervalMs ?? 10_000;
    const sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    // Well inside the session timeout, so a long wait never costs the membership.
    this.heartbeatEveryMs = Math.max(50, Math.min(1_000, Math.floor(sessionTimeoutMs / 5)));
    this.consumer =
      options.consumer ??
      kafkajsGroupConsumer({
        brokers: options.brokers,
        topic: options.topic,
        groupId: options.groupId,
        clientId: options.clientId ?? 'tailsift',
        initialOffset: options.initialOffset ?? 'earliest',
        sessionTimeoutMs,
        maxBytesPerPartition: options.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
        maxFetchWaitMs: options.maxFetchWaitMs ?? DEFAULT_MAX_FETCH_WAIT_MS,
        security: options.security,
        logger: this.logger,
      });
    this.consumer.onStatus((event) => this.onStatus(event));
  }

  /**
   * Connects, joins the group and starts consuming. Idempotent. Rejects with a
   * KafkaSourceError when the brokers cannot be reached or the topic does not exist.
   */
  start(): Promise<void> {
    if (this.stopping !== undefined) return Promise.reject(new KafkaSourceError('the Kafka source was stopped and cannot start again', { retriable: false }));
    this.starting ??= this.begin();
    return this.starting;
  }

  /**
   * Stops fetching, lets the batch in flight finish (its intake call and, when accepted, its
   * commit; a batch still refused is left uncommitted for redelivery), leaves the group and
   * disconnects. Idempotent; concurrent calls share one shutdown.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** True while this member is in its group and consuming. */
  connected(): boolean {
    return this.joined && this.fatal === undefined && this.stopping === undefined;
  }

  counters(): KafkaSourceCounters {
    return { ...this.counts, poison: { ...this.poison } };
  }

  /** True while consumption is paused because the intake refused a batch (backpressure). */
  paused(): boolean {
    return this.stalled > 0;
  }

  /** The partitions this member holds, as of its last join; empty when not in the group. */
  assignment(): readonly number[] {
    return this.joined ? this.assigned : [];
  }

  private async begin(): Promise<void> {
    try {
      await this.consumer.start((batch, control) => this.handle(batch, control));
    } catch (err) {
      if ((err as { type?: unknown } | null)?.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
        throw new KafkaSourceError(`topic ${this.topic} does not exist; create it, or point source.topic at the topic the spans are produced to`, {
          retriable: true,
          cause: err,
        });
      }
      throw new KafkaSourceError(`cannot consume ${this.topic}: ${(err as Error).message}`, { retriable: isRetriable(err), cause: err });
    }
    // kafkajs reports a failed first join as a crash rather than a rejection.
    if (this.fatal !== undefined) {
      throw new KafkaSourceError(`cannot consume ${this.topic}: ${this.fatal.message}`, { retriable: false, cause: this.fatal });
    }
  }

  private async shutdown(): Promise<void> {
    // Wakes any wait between attempts; the attempt in progress still completes.
    this.stopSignal.abort();
    if (this.starting !== undefined) await this.starting.catch(() => undefined);
    try {
      await this.consumer.stop();
    } finally {
      this.joined = false;
      if (this.poisonLogTimer !== undefined) clearTimeout(this.poisonLogTimer);
      this.logPoison();
      this.logger.info({ counters: this.counters() }, 'Kafka source stopped');
    }
  }

  private onStatus(event: GroupStatusEvent): void {
    switch (event.type) {
      case 'joined':
        this.joined = true;
        this.assigned = [...event.partitions];
        this.counts.groupJoins += 1;
        this.logger.info({ partitions: event.partitions }, 'joined the consumer group');
        break;
      case 'rebalancing':
        break;
      case 'crashed':
        this.joined = false;
        if (!event.restarting) {
          this.fatal = event.error;
          this.logger.error({ err: event.error }, 'Kafka consumer failed and will not restart; no spans are consumed');
        }
        break;
      case 'stopped':
        this.joined = false;
        break;
    }
  }

  private async handle(batch: FetchedBatch, control: BatchControl): Promise<void> {
    if (batch.records.length === 0) return;
    this.countArrival(batch);
    const decoded = decodeKafkaBatch(batch.records, this.encoding);

    if (decoded.poison.length > 0 && !(await this.settlePoison(batch, decoded.poison, control))) {
      this.abandon(batch);
      return;
    }
    const request = decoded.request;
    if (request !== undefined && request.spanCount > 0 && !(await this.deliver(request, control))) {
      this.abandon(batch);
      return;
    }
    const last = batch.records[batch.records.length - 1];
    this.takenUpTo.set(batch.partition, BigInt(last.offset) + 1n);
    if (request !== undefined) this.counts.spansAccepted += request.spanCount;

    try {
      await control.commit();
    } catch (err) {
      // The spans are buffered; the records come back after the consumer rejoins (duplicates).
      this.counts.commitErrors += 1;
      this.logger.warn({ err, partition: batch.partition, offset: last.offset }, 'offset commit failed; the batch will be delivered again');
      throw err;
    }
    this.counts.recordsCommitted += batch.records.length;
    this.counts.batchesCommitted += 1;
  }

  private countArrival(batch: FetchedBatch): void {
    this.counts.records += batch.records.length;
    const taken = this.takenUpTo.get(batch.partition);
    if (taken === undefined) return;
    for (const record of batch.records) {
      if (BigInt(record.offset) < taken) this.counts.recordsRedelivered += 1;
    }
  }

  /** Hands every poison record to the hook, in order; false when the source stopped first. */
  private async settlePoison(batch: FetchedBatch, poison: readonly PoisonRecord[], control: BatchControl): Promise<boolean> {
    let next = 0;
    let failures = 0;
    return this.persist(control, async (): Promise<Refusal | undefined> => {
      while (next < poison.length) {
        const p = poison[next];
        if (this.onPoison !== undefined) {
          try {
            await this.onPoison(
              { topic: batch.topic, partition: batch.partition, offset: p.record.offset, key: p.record.key, value: p.record.value, detail: p.detail },
              p.reason,
            );
          } catch (err) {
            this.counts.poisonHandlerErrors += 1;
            if (failures === 0) this.logger.error({ err, partition: batch.partition, offset: p.record.offset }, 'poison record handler failed; retrying');
            return { waitMs: backoffDelayMs(this.retry, failures++), reason: `poison handler failed: ${(err as Error).message}` };
          }
        }
        this.countPoison(batch.partition, p);
        next += 1;
      }
      this.schedulePoisonLog();
      return undefined;
    });
  }

  /** Offers the request to the intake until it accepts; false when the source stopped first. */
  private async deliver(request: DecodedRequest, control: BatchControl): Promise<boolean> {
    let failures = 0;
    return this.persist(control, async (): Promise<Refusal | undefined> => {
      let result;
      try {
        result = await this.intake(request);
      } catch (err) {
        this.counts.intakeErrors += 1;
        // One line per run of failures; a buffer that is down keeps failing.
        if (failures === 0) this.logger.error({ err }, 'intake failed; the batch will be offered again with backoff');
        return { waitMs: backoffDelayMs(this.retry, failures++), reason: `intake failed: ${(err as Error).message}` };
      }
      if (result.status === 'accepted') return undefined;
      this.counts.intakeFull += 1;
      return { waitMs: Math.min(this.maxFullWaitMs, Math.max(MIN_FULL_WAIT_MS, result.retryAfterMs)), reason: result.reason };
    });
  }

  /**
   * Runs `attempt` until it goes through. While it does not, the topic is paused and the
   * member keeps heartbeating through each wait; a rebalance surfaces as a rejected heartbeat,
   * which propagates so the consumer rejoins (the batch is then delivered again). The first
   * attempt always runs; after a refusal, a stop ends the loop with false.
   */
  private async persist(control: BatchControl, attempt: () => Promise<Refusal | undefined>): Promise<boolean> {
    let paused = false;
    try {
      for (;;) {
        const refusal = await attempt();
        if (refusal === undefined) return true;
        if (!this.mayRetry(control)) return false;
        if (!paused) {
          paused = true;
          this.stall(refusal.reason);
        }
        await this.waitHeartbeating(refusal.waitMs, control);
        if (!this.mayRetry(control)) return false;
      }
    } finally {
      if (paused) this.unstall();
    }
  }

  private mayRetry(control: BatchControl): boolean {
    return !this.stopSignal.signal.aborted && control.isActive();
  }

  private async waitHeartbeating(ms: number, control: BatchControl): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || !this.mayRetry(control)) return;
      try {
        await sleep(Math.min(left, this.heartbeatEveryMs), undefined, { signal: this.stopSignal.signal });
      } catch {
        return; // stopping
      }
      await control.heartbeat();
    }
  }

  private stall(reason: string): void {
    this.stalled += 1;
    if (this.stalled > 1) return;
    this.stalledSince = Date.now();
    this.consumer.pause();
    this.logger.warn({ reason }, 'intake refused a batch; consumption paused until it accepts');
  }

  private unstall(): void {
    this.stalled -= 1;
    if (this.stalled > 0) return;
    this.consumer.resume();
    this.logger.info({ pausedMs: Date.now() - this.stalledSince }, 'consumption resumed');
  }

  private abandon(batch: FetchedBatch): void {
    this.counts.batchesAbandoned += 1;
    this.logger.info(
      { partition: batch.partition, firstOffset: batch.records[0].offset, records: batch.records.length },
      'stopped while the intake refused a batch; it stays uncommitted and is delivered again',
    );
  }

  private countPoison(partition: number, p: PoisonRecord): void {
    this.poison[p.reason] += 1;
    this.unloggedPoison.set(p.reason, (this.unloggedPoison.get(p.reason) ?? 0) + 1);
    this.lastPoison = { partition, offset: p.record.offset, detail: p.detail };
  }

  /** At most one line per interval, so a topic full of garbage does not flood the log. */
  private schedulePoisonLog(): void {
    const wait = this.lastPoisonLogAt + this.logIntervalMs - Date.now();
    if (wait <= 0) this.logPoison();
    else if (this.poisonLogTimer === undefined) {
      this.poisonLogTimer = setTimeout(() => {
        this.poisonLogTimer = undefined;
        this.logPoison();
      }, wait);
      this.poisonLogTimer.unref();
    }
  }

  private logPoison(): void {
    if (this.unloggedPoison.size === 0) return;
    this.lastPoisonLogAt = Date.now();
    const skipped = Object.fromEntries(this.unloggedPoison);
    this.unloggedPoison = new Map();
    this.logger.warn({ skipped, last: this.lastPoison }, 'skipped Kafka records that are not OTLP trace requests');
  }
}

function isRetriable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  // When kafkajs gives up retrying it throws a non-retriable wrapper around the last failure;
  // as kafkajs itself does when deciding to restart a consumer, the original failure decides.
  let e = err as { retriable?: unknown; cause?: unknown; name?: unknown };
  while (e.name === 'KafkaJSNumberOfRetriesExceeded' && typeof e.cause === 'object' && e.cause !== null) {
    e = e.cause as typeof e;
  }
  return e.retriable === true;
}
