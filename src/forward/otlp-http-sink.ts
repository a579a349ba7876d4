import { SinkError } from '../errors.js';
import { protobufRequestToJson } from '../otlp/index.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { errorMessageOf, readPartialSuccess } from './otlp-http-response.js';
import { HttpDelivery, type HttpTlsFiles } from './http-delivery.js';
import type { RetryRuntime, RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';

export { HttpStatusError } from './http-delivery.js';

export interface OtlpHttpSinkOptions {
  /** Full URL batches are POSTed to, e.g. `http://127.0.0.1:4318/v1/traces`. */
  readonly endpoint: string;
  /** Body encoding: binary protobuf (forwarded as buffered, no re-encode) or OTLP/JSON. */
  readonly encoding: 'protobuf' | 'json';
  /** Extra request headers, e.g. an authorization token. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time limit of one attempt, answer body included, ms. Default 10 s. */
  readonly timeoutMs?: number;
  /** Request body compression. Default gzip, as the Collector's otlphttp exporter does. */
  readonly compression?: 'gzip' | 'none';
  /** CA to trust and client certificate to present, for an https:// endpoint. Default: the system CAs, no client certificate. */
  readonly tls?: HttpTlsFiles;
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default (tests inject their own). */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  readonly logger?: Logger;
}

// The statuses the OTLP spec says to retry; every other 4xx/5xx must not be retried.
const RETRIABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Forwards kept traces to any OTLP/HTTP endpoint (a Collector, Jaeger, Tempo, ...).
 * Retries as the OTLP spec asks: 429/502/503/504, network failures and timeouts are
 * retried with backoff (a Retry-After is honoured); other statuses fail at once. After
 * `retry.maxElapsedMs` it gives up with a retriable SinkError, and the caller keeps the traces.
 */
export class OtlpHttpSink implements TraceSink {
  readonly name: string;
  private readonly encoding: 'protobuf' | 'json';
  private readonly logger: Logger;
  private readonly delivery: HttpDelivery;

  constructor(options: OtlpHttpSinkOptions) {
    this.name = `otlp-http ${HttpDelivery.describe(options.endpoint)}`;
    this.encoding = options.encoding;
    this.logger = options.logger ?? silentLogger;
    this.delivery = new HttpDelivery({
      sink: this.name,
      kind: 'OTLP/HTTP',
      endpoint: options.endpoint,
      contentType: options.encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json',
      headers: options.headers,
      timeoutMs: options.timeoutMs,
      compression: options.compression,
      tls: options.tls,
      retry: options.retry,
      retryRuntime: options.retryRuntime,
      retriableStatus: (status) => RETRIABLE_STATUSES.has(status),
      errorMessage: (answer) => errorMessageOf(answer.body, answer.headers.get('content-type')),
    });
  }

  send(batch: KeptBatch): Promise<void> {
    return this.delivery.send(() => this.deliver(batch));
  }

  /** Waits for sends in flight (their retries included), then refuses new ones. Idempotent. */
  close(): Promise<void> {
    return this.delivery.close();
  }

  private async deliver(batch: KeptBatch): Promise<void> {
    const answer = await this.delivery.post(this.encode(batch));
    const partial = readPartialSuccess(answer.body, answer.headers.get('content-type'));
    // The spec forbids retrying a partial success: the rejected spans are lost downstream.
    if (partial !== undefined && partial.rejectedSpans > 0) {
      this.logger.warn(
        { sink: this.name, rejectedSpans: partial.rejectedSpans, sentSpans: batch.spanCount, reason: partial.errorMessage },
        'destination rejected part of a batch',
      );
    }
  }

  private encode(batch: KeptBatch): Uint8Array {
    if (this.encoding === 'protobuf') return batch.request;
    try {
      return Buffer.from(JSON.stringify(protobufRequestToJson(batch.request)));
    } catch (err) {
      throw new SinkError(this.name, `cannot convert the batch to OTLP/JSON: ${(err as Error).message}`, { retriable: false, cause: err });
    }
  }
}
