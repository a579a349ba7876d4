import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** Where generated spans go: an OTLP/HTTP endpoint, a Kafka topic or a file. */
export interface TraceTarget {
  /** For messages, e.g. `http://127.0.0.1:4318/v1/traces`. */
  readonly description: string;
  /**
   * True when the target takes data as fast as it is produced (a file): the run's clock is
   * then virtual and the generator never sleeps.
   */
  readonly virtualTime: boolean;
  readonly stats: TargetStats;
  /** Connects; throws when the target cannot be used at all. */
  open(): Promise<void>;
  /** Sends one service's export: the spans one SDK export request would hold. Never throws. */
  send(spans: readonly ReadableSpan[]): Promise<void>;
  /** Flushes and disconnects; idempotent. */
  close(): Promise<void>;
}

/** What a target did; every span ends up delivered or counted as failed. */
export interface TargetStats {
  /** Requests (HTTP POSTs, Kafka messages, file lines) the target accepted. */
  requests: number;
  /** Payload bytes of those requests. */
  bytes: number;
  /** Requests given up on after retries, or refused for good. */
  failedRequests: number;
  /** Spans in the failed requests. */
  failedSpans: number;
  /** Attempts beyond the first. */
  retries: number;
  /** The last failure, for the summary. */
  lastError: string | undefined;
}

export function emptyStats(): TargetStats {
  return { requests: 0, bytes: 0, failedRequests: 0, failedSpans: 0, retries: 0, lastError: undefined };
}

export type OtlpEncoding = 'otlp_proto' | 'otlp_json';

/** An ExportTraceServiceRequest for `spans`, serialized by the OpenTelemetry JS serializers. */
export function encodeSpans(spans: readonly ReadableSpan[], encoding: OtlpEncoding): Uint8Array {
  const serializer = encoding === 'otlp_json' ? JsonTraceSerializer : ProtobufTraceSerializer;
  const bytes = serializer.serializeRequest(spans as ReadableSpan[]);
  if (!bytes) throw new Error(`the ${encoding} serializer produced nothing for ${spans.length} spans`);
  return bytes;
}
