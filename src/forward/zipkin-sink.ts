import { SinkError } from '../errors.js';
import { protobufRequestToJson } from '../otlp/index.js';
import { HttpDelivery } from './http-delivery.js';
import type { RetryRuntime, RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';
import { otlpToZipkinSpans } from './zipkin-mapping.js';

export interface ZipkinSinkOptions {
  /** Full URL of the span API, e.g. `http://127.0.0.1:9411/api/v2/spans`. */
  readonly endpoint: string;
  /** Time limit of one attempt, answer body included, ms. Default 10 s. */
  readonly timeoutMs?: number;
  /** Request body compression. Default gzip, which Zipkin's HTTP collector accepts. */
  readonly compression?: 'gzip' | 'none';
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default (tests inject their own). */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
}

// Zipkin answers with plain text; a few hundred characters say what went wrong.
const MAX_ERROR_MESSAGE_CHARS = 500;

/**
 * Forwards kept traces to a Zipkin server as Zipkin v2 JSON (see zipkin-mapping.ts).
 * 429 and 5xx answers, network failures and timeouts are retried with backoff (a
 * Retry-After is honoured); any other status fails at once, since the same body would be
 * refused again. After `retry.maxElapsedMs` it gives up with a retriable SinkError, and the
 * caller keeps the traces.
 */
export class ZipkinSink implements TraceSink {
  readonly name: string;
  private readonly delivery: HttpDelivery;

  constructor(options: ZipkinSinkOptions) {
    this.name = `zipkin ${HttpDelivery.describe(options.endpoint)}`;
    this.delivery = new HttpDelivery({
      sink: this.name,
      kind: 'Zipkin',
      endpoint: options.endpoint,
      contentType: 'application/json',
      timeoutMs: options.timeoutMs,
      compression: options.compression,
      retry: options.retry,
      retryRuntime: options.retryRuntime,
      retriableStatus: (status) => status === 429 || (status >= 500 && status < 600),
      errorMessage: (answer) => Buffer.from(answer.body).toString('utf8').trim().slice(0, MAX_ERROR_MESSAGE_CHARS),
    });
  }

  send(batch: KeptBatch): Promise<void> {
    return this.delivery.send(async () => {
      const body = this.encode(batch);
      if (body !== undefined) await this.delivery.post(body);
    });
  }

  /** Waits for sends in flight (their retries included), then refuses new ones. Idempotent. */
  close(): Promise<void> {
    return this.delivery.close();
  }

  /** The request body, or undefined when the batch holds no span (nothing to post). */
  private encode(batch: KeptBatch): Uint8Array | undefined {
    try {
      const spans = otlpToZipkinSpans(protobufRequestToJson(batch.request));
      return spans.length === 0 ? undefined : Buffer.from(JSON.stringify(spans));
    } catch (err) {
      // A batch that cannot be read will not become readable by retrying.
      throw new SinkError(this.name, `cannot convert the batch to Zipkin spans: ${(err as Error).message}`, { retriable: false, cause: err });
    }
  }
}
