import { Kafka, logLevel, Partitioners, type LogEntry, type Producer } from 'kafkajs';
import { SinkError, type TailsiftError } from '../errors.js';
import { concatRequests, decodeProtobufRequest, protobufRequestToJson } from '../otlp/index.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { kafkajsSecurityOptions, type KafkaClientSecurity } from '../ingest/kafka-client-security.js';
import { DEFAULT_RETRY, runWithRetry, type RetryRuntime, type RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';

/** One Kafka record: a whole kept trace under its trace id. */
export interface TraceRecord {
  /** The trace id, 32 lowercase hex characters. */
  readonly key: string;
  readonly value: Buffer;
}

/**
 * The little of a Kafka producer the sink needs, so kafkajs stays in this file's factory and
 * tests can stand in for a broker.
 */
export interface TraceRecordProducer {
  connect(): Promise<void>;
  /** Resolves once the broker acknowledged every record (all in-sync replicas). */
  send(topic: string, records: readonly TraceRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaSinkOptions {
  /** Bootstrap brokers, each `host:port`. */
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Record values: ExportTraceServiceRequest protobuf bytes, or OTLP/JSON. */
  readonly encoding: 'otlp_proto' | 'otlp_json';
  /** Kafka client id. Default `tailsift`. */
  readonly clientId?: string;
  /** SASL and TLS to the brokers. Default: plaintext, no authentication. */
  readonly security?: KafkaClientSecurity;
  /** Time the broker has to acknowledge one send, ms. Default 30 s. */
  readonly ackTimeoutMs?: number;
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default. */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  readonly logger?: Logger;
  /** The producer; a kafkajs one by default (tests pass their own). */
  readonly producer?: TraceRecordProducer;
}

/**
 * Produces kept traces to a Kafka topic: one record per trace, keyed by the trace id in hex
 * (what Jaeger's Kafka ingester and the Collector's `partition_traces_by_id` use, so a trace
 * lands on one partition), valued with an ExportTraceServiceRequest holding just that trace,
 * as protobuf bytes re-wrapped from the buffered ones or as OTLP/JSON.
 *
 * `send` resolves when the broker acknowledged every record (acks from all in-sync
 * replicas). Failures carry kafkajs's own retriable flag; retriable ones are retried with
 * backoff, then given up with a retriable SinkError so the caller keeps the traces.
 */
export class KafkaSink implements TraceSink {
  readonly name: string;
  private readonly topic: string;
  private readonly encoding: 'otlp_proto' | 'otlp_json';
  private readonly producer: TraceRecordProducer;
  private readonly retry: RetrySettings;
  private readonly retryRuntime: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  private connecting: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: KafkaSinkOptions) {
    if (options.brokers.length === 0) throw new TypeError('KafkaSink needs at least one broker');
    this.name = `kafka ${options.brokers.join(',')}/${options.topic}`;
    this.topic = options.topic;
    this.encoding = options.encoding;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.retryRuntime = options.retryRuntime ?? {};
    this.producer =
      options.producer ??
      kafkajsTraceRecordProducer({
        brokers: options.brokers,
        clientId: options.clientId ?? 'tailsift',
        ackTimeoutMs: options.ackTimeoutMs ?? 30_000,
        security: options.security,
        logger: (options.logger ?? silentLogger).child({ sink: this.name }),
      });
  }

  send(batch: KeptBatch): Promise<void> {
    if (this.closing !== undefined) {
      // Retriable: the traces are fine, this instance is shutting down; they stay buffered.
      return Promise.reject(new SinkError(this.name, 'the sink is closed', { retriable: true }));
    }
    const sending = this.deliver(batch);
    const tracked = sending.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return sending;
  }

  /** Waits for sends in flight (their retries included), refuses new ones, disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.connecting !== undefined) {
      await this.connecting.catch(() => undefined);
      await this.producer.disconnect();
    }
  }

  private async deliver(batch: KeptBatch): Promise<void> {
    const records = this.recordsOf(batch);
    if (records.length === 0) return;
    await runWithRetry(() => this.attempt(records), this.retry, {
      ...this.retryRuntime,
      giveUp: (last: TailsiftError, attempts: number, elapsedMs: number) =>
        new SinkError(this.name, `gave up after ${attempts} attempts in ${Math.round(elapsedMs)} ms: ${causeMessage(last)}`, {
          retriable: true,
          cause: last,
        }),
    });
  }

  private async attempt(records: readonly TraceRecord[]): Promise<void> {
    try {
      // A failed connect is forgotten so the next attempt dials again.
      this.connecting ??= this.producer.connect().catch((err: unknown) => {
        this.connecting = undefined;
        throw err;
      });
      await this.connecting;
      await this.producer.send(this.topic, records);
    } catch (err) {
      if (err instanceof SinkError) throw err;
      throw new SinkError(this.name, describeProduceFailure(err, this.topic), { retriable: kafkajsRetriable(err), cause: err });
    }
  }

  /** One record per trace of the batch, in the order the traces appear in it. */
  private recordsOf(batch: KeptBatch): TraceRecord[] {
    if (batch.traces !== undefined) {
      // Split already: no second decode of the whole batch.
      return batch.traces.map((t) => ({
        key: t.traceId,
        value: this.encode(t.fragments.length === 1 ? t.fragments[0] : concatRequests(t.fragments)),
      }));
    }
    const decoded = decodeProtobufRequest(batch.request);
    if (!decoded.ok) {
      throw new SinkError(this.name, `the kept batch is not a valid request: ${decoded.error.message}`, { retriable: false, cause: decoded.error });
    }
    // A trace can span several fragments when the batch itself was a concatenation; decoding
    // groups by trace id, so each fragment here is already one whole trace.
    return decoded.value.fragments.map((fragment) => ({ key: fragment.traceId, value: this.encode(fragment.bytes) }));
  }

  private encode(request: Uint8Array): Buffer {
    if (this.encoding === 'otlp_proto') return Buffer.from(request.buffer, request.byteOffset, request.byteLength);
    try {
      return Buffer.from(JSON.stringify(protobufRequestToJson(request)));
    } catch (err) {
      throw new SinkError(this.name, `cannot convert a trace to OTLP/JSON: ${(err as Error).message}`, { retriable: false, cause: err });
    }
  }
}

export interface KafkajsProducerOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ackTimeoutMs: number;
  readonly security?: KafkaClientSecurity;
  readonly logger: Logger;
}

// kafkajs warns about this whenever an idempotent producer has bounded retries. Ours are
// bounded on purpose: a send must end so the sink's own backoff (and close) stay in control,
// and a resend after giving up is a duplicate, which at-least-once allows.
const BOUNDED_IDEMPOTENT_RETRIES_WARNING = 'Limiting retries for the idempotent producer';

/**
 * An idempotent kafkajs producer (no duplicates from its internal retries), acks from all
 * in-sync replicas, the Java-compatible partitioner so a trace id key lands where other
 * Kafka clients would put it.
 */
export function kafkajsTraceRecordProducer(options: KafkajsProducerOptions): TraceRecordProducer {
  const { logger } = options;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkajsSecurityOptions(options.security, 'sinks[].tls'),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      const line = { component: 'kafkajs', namespace: entry.namespace, ...extra };
      // The connection layer logs every failed request, retries included; the sink reports
      // the outcome once, as the SinkError its caller logs.
      if (entry.namespace === 'Connection' || message.startsWith(BOUNDED_IDEMPOTENT_RETRIES_WARNING)) logger.debug(line, message);
      else if (entry.level === logLevel.ERROR) logger.error(line, message);
      else logger.warn(line, message);
    },
  });
  const producer: Producer = kafka.producer({
    idempotent: true,
    // kafkajs retries inside a send too; keep that short and let the sink's retry loop do the rest.
    retry: { retries: 3, initialRetryTime: 200 },
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  return {
    connect: () => producer.connect(),
    async send(topic, records) {
      await producer.send({
        topic,
        acks: -1,
        timeout: options.ackTimeoutMs,
        messages: records.map((r) => ({ key: r.key, value: r.value })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}

/**
 * kafkajs's own retriable flag. When kafkajs gives up retrying it throws a non-retriable
 * wrapper whose cause is the last failure; as kafkajs itself does when deciding to restart a
 * consumer, the original failure decides.
 */
export function kafkajsRetriable(err: unknown): boolean {
  return originalKafkajsError(err)?.retriable === true;
}

/** The failure under kafkajs's "retries exceeded" wrappers, or undefined for a non-object. */
function originalKafkajsError(err: unknown): { retriable?: unknown; type?: unknown } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  let e = err as { retriable?: unknown; type?: unknown; cause?: unknown; name?: unknown };
  while (e.name === 'KafkaJSNumberOfRetriesExceeded' && typeof e.cause === 'object' && e.cause !== null) {
    e = e.cause as typeof e;
  }
  return e;
}

/** The failure's message, without our sink-name prefix a second time. */
function causeMessage(err: TailsiftError): string {
  if (err instanceof SinkError && err.message.startsWith(`${err.sink}: `)) return err.message.slice(err.sink.length + 2);
  const cause = err.cause;
  return cause instanceof Error ? cause.message : err.message;
}

/** kafkajs's message, and what to do when the topic is missing (the sink never creates it). */
function describeProduceFailure(err: unknown, topic: string): string {
  const message = (err as Error).message ?? String(err);
  if (originalKafkajsError(err)?.type !== 'UNKNOWN_TOPIC_OR_PARTITION') return message;
  return `${message}: does topic "${topic}" exist? tailsift never creates topics; create it, e.g. with kafka-topics.sh --create`;
}
