import { ConfigError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { FileSink } from './file-sink.js';
import { OtlpHttpSink } from './otlp-http-sink.js';
import type { TraceSink } from './sink.js';

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
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly encoding?: 'otlp_proto' | 'otlp_json';
}

export type SinkConfig = FileSinkConfig | OtlpHttpSinkConfig | KafkaSinkConfig;

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
      throw new ConfigError([`sinks: the kafka sink is not available yet (topic ${config.topic}); use a file or otlp-http sink`]);
    default: {
      const unknown: never = config;
      throw new ConfigError([`sinks: unknown sink type ${JSON.stringify((unknown as { type?: unknown }).type)}`]);
    }
  }
}
