import { Kafka, logLevel } from 'kafkajs';
import { kafkajsSecurityOptions, type KafkaClientSecurity } from '../ingest/kafka-client-security.js';
import { forwardKafkajsLog } from '../ingest/kafka-group-consumer.js';
import type { Logger } from './logger.js';

/** The two kafkajs admin calls lag needs (a narrow seam so the sampler reads plainly). */
export interface LagAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]>;
  fetchOffsets(options: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

export interface KafkaLagSamplerOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  /** SASL and TLS to the brokers: the source's own, so a secured cluster reports lag too. */
  readonly security?: KafkaClientSecurity;
  readonly logger: Logger;
  /** Time between samples, ms. Default 10 s: two admin requests each, never per message. */
  readonly intervalMs?: number;
  /**
   * The partitions to report (this member's assignment), asked at every sample; undefined
   * reports every partition of the topic.
   */
  readonly partitions?: () => readonly number[];
  /** The admin client; a kafkajs one by default. */
  readonly admin?: LagAdmin;
}

/** Records not yet committed by the consumer group, per partition, at one moment. */
export interface LagSample {
  /** When the sample was taken, Unix ms. */
  readonly atMs: number;
  readonly partitions: ReadonlyMap<number, number>;
  readonly total: number;
}

const DEFAULT_INTERVAL_MS = 10_000;
// A sample this many intervals old is not shown: a lag frozen by a failing admin connection
// would look like a healthy consumer.
const STALE_AFTER_INTERVALS = 3;

/**
 * Kafka consumer lag, sampled periodically: the topic's end offsets against the group's
 * committed offsets, per partition. A partition the group never committed counts from its
 * oldest retained record, where a new group starts (`earliest`).
 *
 * Offsets are committed only once spans are in the buffer, so this lag is what Kafka still
 * holds for tailsift to take: it grows while intake is paused by a full buffer.
 */
export class KafkaLagSampler {
  private readonly admin: LagAdmin;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private connected: Promise<void> | undefined;
  private last: LagSample | undefined;
  private failing = false;
  private stopped = false;

  constructor(private readonly options: KafkaLagSamplerOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.admin = options.admin ?? kafkajsAdmin(options);
  }

  /** Takes a sample now and then every interval. Idempotent. */
  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and disconnects. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    if (this.connected !== undefined) await this.admin.disconnect().catch(() => undefined);
    this.connected = undefined;
  }

  /** The latest sample, unless it is too old to trust. */
  latest(nowMs = Date.now()): LagSample | undefined {
    const last = this.last;
    if (last === undefined || nowMs - last.atMs > STALE_AFTER_INTERVALS * this.intervalMs) return undefined;
    return last;
  }

  /** Takes one sample (also what the timer does). */
  async sample(): Promise<LagSample> {
    this.connected ??= this.admin.connect().catch((err: unknown) => {
      this.connected = undefined;
      throw err;
    });
    await this.connected;
    const { topic, groupId } = this.options;
    const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(topic), this.admin.fetchOffsets({ groupId, topics: [topic] })]);
    const committedBy = new Map<number, bigint>();
    for (const t of committed) {
      if (t.topic !== topic) continue;
      for (const p of t.partitions) committedBy.set(p.partition, BigInt(p.offset));
    }
    const wanted = this.options.partitions === undefined ? undefined : new Set(this.options.partitions());
    const partitions = new Map<number, number>();
    let total = 0;
    for (const end of ends) {
      if (wanted !== undefined && !wanted.has(end.partition)) continue;
      const high = BigInt(end.high);
      const at = committedBy.get(end.partition) ?? -1n;
      const from = at < 0n ? BigInt(end.low) : at;
      const lag = Number(high > from ? high - from : 0n);
      partitions.set(end.partition, lag);
      total += lag;
    }
    const sample = { atMs: Date.now(), partitions, total };
    this.last = sample;
    return sample;
  }

  private tick(): void {
    if (this.inFlight !== undefined || this.stopped) return;
    this.inFlight = this.sample()
      .then(
        () => {
          if (this.failing) this.options.logger.info({ topic: this.options.topic }, 'Kafka consumer lag can be read again');
          this.failing = false;
        },
        (err: unknown) => {
          // One line per run of failures; the lag metric goes stale and disappears meanwhile.
          if (!this.failing) this.options.logger.warn({ err, topic: this.options.topic }, 'cannot read Kafka consumer lag; retrying every interval');
          this.failing = true;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}

function kafkajsAdmin(options: KafkaLagSamplerOptions): LagAdmin {
  const logger = options.logger.child({ component: 'kafka-lag' });
  const kafka = new Kafka({
    clientId: 'tailsift-lag',
    brokers: [...options.brokers],
    ...kafkajsSecurityOptions(options.security, 'source.tls'),
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => forwardKafkajsLog(logger, entry),
  });
  return kafka.admin();
}
