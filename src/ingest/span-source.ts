import type { SourceConfig } from '../config/engine-config.js';
import type { Logger } from '../telemetry/logger.js';
import { KafkaDeadLetter } from './kafka-dead-letter.js';
import { KafkaSource, type KafkaSourceCounters } from './kafka-source.js';
import { OtlpHttpReceiver, type Intake, type ReceiverCounters } from './otlp-http-receiver.js';

/** Where spans come from: the engine starts it, hands it the intake, and stops it first on shutdown. */
export interface SpanSource {
  /** Starts taking spans; resolves with where it takes them from (a URL). */
  start(): Promise<string>;
  /** Stops taking spans and waits until what it took is in the buffer (or refused). Idempotent. */
  stop(): Promise<void>;
  /** Whether it can take spans now (listening, or joined to its consumer group). */
  connected(): boolean;
  /** The source's own counters, read when metrics or /status are asked for. */
  telemetry(): SourceTelemetry;
}

export type SourceTelemetry =
  | { readonly type: 'otlp-http'; readonly receiver: ReceiverCounters }
  | {
      readonly type: 'kafka';
      readonly kafka: KafkaSourceCounters;
      /** Consumption paused because the intake refused a batch. */
      readonly paused: boolean;
      /** Partitions this member holds. */
      readonly assignment: readonly number[];
    };

class OtlpHttpSource implements SpanSource {
  private listening = false;
  constructor(private readonly receiver: OtlpHttpReceiver) {}

  async start(): Promise<string> {
    const { host, port } = await this.receiver.start();
    this.listening = true;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1/traces`;
  }

  async stop(): Promise<void> {
    this.listening = false;
    await this.receiver.stop();
  }

  connected(): boolean {
    return this.listening;
  }

  telemetry(): SourceTelemetry {
    return { type: 'otlp-http', receiver: this.receiver.counters() };
  }
}

class KafkaSpanSource implements SpanSource {
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly source: KafkaSource,
    private readonly url: string,
    private readonly deadLetter: KafkaDeadLetter | undefined,
  ) {}

  async start(): Promise<string> {
    await this.source.start();
    return this.url;
  }

  stop(): Promise<void> {
    // The dead-letter producer closes after the source: a batch in flight may still need it.
    this.stopping ??= this.source.stop().finally(() => this.deadLetter?.close());
    return this.stopping;
  }

  connected(): boolean {
    return this.source.connected();
  }

  telemetry(): SourceTelemetry {
    return { type: 'kafka', kafka: this.source.counters(), paused: this.source.paused(), assignment: this.source.assignment() };
  }
}

export function createSource(config: SourceConfig, intake: Intake, logger: Logger): SpanSource {
  if (config.type === 'otlp-http') {
    return new OtlpHttpSource(
      new OtlpHttpReceiver({ host: config.host, port: config.port, maxBodyBytes: config.maxBodyBytes, bearerToken: config.bearerToken, intake, logger }),
    );
  }
  const security = { sasl: config.sasl, tls: config.tls };
  const deadLetter =
    config.deadLetterTopic === undefined
      ? undefined
      : new KafkaDeadLetter({ brokers: config.brokers, topic: config.deadLetterTopic, security, logger });
  return new KafkaSpanSource(
    new KafkaSource({
      brokers: config.brokers,
      topic: config.topic,
      groupId: config.groupId,
      encoding: config.encoding,
      sessionTimeoutMs: config.sessionTimeout,
      security,
      onPoison: deadLetter?.handle,
      intake,
      logger,
    }),
    `kafka://${config.brokers.join(',')}/${config.topic} (group ${config.groupId})`,
    deadLetter,
  );
}
