import { ConfigError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { FileSink } from './file-sink.js';
import { KafkaSink } from './kafka-sink.js';
import type { KafkaClientSecurity } from '../ingest/kafka-client-security.js';
import { OtlpHttpSink } from './otlp-http-sink.js';
import type { TraceSink } from './sink.js';
import { ZipkinSink } from './zipkin-sink.js';

/** `{ type: file }`: OTLP/JSON lines appended to a file. */
export interface FileSinkConfig {
  readonly type: 'file';
  /** The JSON Lines file; its directory is created when missing. */
  readonly path: string;
}

/** `{ type: otlp-http }`: POST to any OTLP/HTTP endpoint. */
export interface OtlpHttpSinkConfig {
  readonly type: 'otlp-http';
  /** Full URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
  readonly endpoint: string;
  readonly encoding: 'protobuf' | 'json';
  readonly headers?: Readonly<Record<string, string>>;
  /** Time limit of one attempt, ms. Default 10 s. */
  readonly timeout?: number;
}

/** `{ type: kafka }`: a Kafka topic, as the Collector's Kafka exporter writes it. */
export interface KafkaSinkConfig {
  readonly type: 'kafka';
  /** Bootstrap brokers, each `host:port`. */
  readonly brokers: readonly string[];
  /** The topic kept traces go to, one record per trace keyed by its trace id. */
  readonly topic: string;
  /** Record values: `otlp_proto` (default) or `otlp_json`. */
  readonly encoding?: 'otlp_proto' | 'otlp_json';
  /** SASL and TLS to the brokers (see kafka-client-security.ts). */
  readonly sasl?: KafkaClientSecurity['sasl'];
  readonly tls?: KafkaClientSecurity['tls'];
}

/** `{ type: zipkin }`: POST Zipkin v2 JSON to a Zipkin server's span API. */
export interface ZipkinSinkConfig {
  readonly type: 'zipkin';
  /** Full URL, e.g. `http://127.0.0.1:9411/api/v2/spans`. */
  readonly endpoint: string;
  /** Time limit of one attempt, ms. Default 10 s. */
  readonly timeout?: number;
}

export type SinkConfig = FileSinkConfig | OtlpHttpSinkConfig | KafkaSinkConfig | ZipkinSinkConfig;

/** Builds the sink a validated `sinks:` entry describes. */
export function createSink(config: SinkConfig, logger: Logger): TraceSink {
  switch (config.type) {
    case 'file':
      return new FileSink({ path: config.path });
    case 'otlp-http':
      return new OtlpHttpSink({
        endpoint: config.endpoint,
        encoding: config.encoding,
        ...(config.headers === undefined ? {} : { headers: config.headers }),
        ...(config.timeout === undefined ? {} : { timeoutMs: config.timeout }),
        logger: logger.child({ sink: 'otlp-http' }),
      });
    case 'kafka':
      return new KafkaSink({
        brokers: config.brokers,
        topic: config.topic,
        encoding: config.encoding ?? 'otlp_proto',
        security: { sasl: config.sasl, tls: config.tls },
        logger,
      });
    case 'zipkin':
      return new ZipkinSink({
        endpoint: config.endpoint,
        ...(config.timeout === undefined ? {} : { timeoutMs: config.timeout }),
      });
    default: {
      const unknown: never = config;
      throw new ConfigError([`sinks: unknown sink type ${JSON.stringify((unknown as { type?: unknown }).type)}`]);
    }
  }
}
