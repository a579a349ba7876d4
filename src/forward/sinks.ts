import { ConfigError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { FileSink } from './file-sink.js';
import { KafkaSink } from './kafka-sink.js';
import type { KafkaClientSecurity } from '../ingest/kafka-client-security.js';
import { OtlpHttpSink } from './otlp-http-sink.js';
import type { TraceSink } from './sink.js';
import { ZipkinSink } from './zipkin-sink.js';
import { resolveAwsRegion } from './aws-sigv4.js';
import { DEFAULT_TRACE_ID_WINDOW, XraySink } from './xray-sink.js';
import { GoogleCloudTraceSink } from './google-cloud-trace-sink.js';
import type { HttpTlsFiles } from './http-delivery.js';

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
  /** Request body compression. Default gzip. */
  readonly compression?: 'gzip' | 'none';
  /** CA and client certificate for an https:// endpoint (absolute PEM file paths). */
  readonly tls?: HttpTlsFiles;
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

/** `{ type: xray }`: the AWS X-Ray OTLP endpoint, SigV4-signed with the AWS default credentials. */
export interface XraySinkConfig {
  readonly type: 'xray';
  /** AWS region; default AWS_REGION, else AWS_DEFAULT_REGION. */
  readonly region?: string;
  /** Full URL; default `https://xray.<region>.amazonaws.com/v1/traces`. */
  readonly endpoint?: string;
  /** Time limit of one attempt, ms. Default 10 s. */
  readonly timeout?: number;
  /** Which trace ids are sent (ms); default check on, 28 days back, 5 minutes ahead. */
  readonly traceIdWindow?: { readonly check?: boolean; readonly maxAge?: number; readonly maxFuture?: number };
}

/** `{ type: google-cloud-trace }`: Google's OTLP endpoint, with application-default credentials. */
export interface GoogleCloudTraceSinkConfig {
  readonly type: 'google-cloud-trace';
  /** Project the traces go to; default GOOGLE_CLOUD_PROJECT, else the credentials' project. */
  readonly projectId?: string;
  /** Full URL; default `https://telemetry.googleapis.com/v1/traces`. */
  readonly endpoint?: string;
  /** Time limit of one attempt, ms. Default 10 s. */
  readonly timeout?: number;
}

export type SinkConfig = FileSinkConfig | OtlpHttpSinkConfig | KafkaSinkConfig | ZipkinSinkConfig | XraySinkConfig | GoogleCloudTraceSinkConfig;

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
        ...(config.compression === undefined ? {} : { compression: config.compression }),
        ...(config.tls === undefined ? {} : { tls: config.tls }),
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
    case 'xray': {
      const region = resolveAwsRegion(config.region, 'sinks: the xray sink');
      const window = config.traceIdWindow ?? {};
      return new XraySink({
        region,
        ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
        ...(config.timeout === undefined ? {} : { timeoutMs: config.timeout }),
        traceIdWindow: {
          check: window.check ?? DEFAULT_TRACE_ID_WINDOW.check,
          maxAgeMs: window.maxAge ?? DEFAULT_TRACE_ID_WINDOW.maxAgeMs,
          maxFutureMs: window.maxFuture ?? DEFAULT_TRACE_ID_WINDOW.maxFutureMs,
        },
        logger: logger.child({ sink: 'xray' }),
      });
    }
    case 'google-cloud-trace':
      return new GoogleCloudTraceSink({
        ...(config.projectId === undefined ? {} : { projectId: config.projectId }),
        ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
        ...(config.timeout === undefined ? {} : { timeoutMs: config.timeout }),
        logger: logger.child({ sink: 'google-cloud-trace' }),
      });
    default: {
      const unknown: never = config;
      throw new ConfigError([`sinks: unknown sink type ${JSON.stringify((unknown as { type?: unknown }).type)}`]);
    }
  }
}
