import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { SinkError, type TailsiftError } from '../errors.js';
import { protobufRequestToJson } from '../otlp/index.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { errorMessageOf, readPartialSuccess } from './otlp-http-response.js';
import { DEFAULT_RETRY, runWithRetry, parseRetryAfter, type RetryRuntime, type RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';

const gzipAsync = promisify(gzip);

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
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default (tests inject their own). */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  readonly logger?: Logger;
}

/** An OTLP/HTTP answer with a status that is not a success. */
export class HttpStatusError extends SinkError {
  readonly status: number;

  constructor(sink: string, status: number, message: string, options: { retriable: boolean; retryAfterMs?: number }) {
    super(sink, message === '' ? `HTTP ${status}` : `HTTP ${status}: ${message}`, options);
    this.status = status;
  }
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
  private readonly endpoint: string;
  private readonly encoding: 'protobuf' | 'json';
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly compression: 'gzip' | 'none';
  private readonly retry: RetrySettings;
  private readonly retryRuntime: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  private readonly logger: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: OtlpHttpSinkOptions) {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`OTLP/HTTP endpoint must be an http:// or https:// URL, got ${options.endpoint}`);
    }
    this.endpoint = url.href;
    this.name = `otlp-http ${url.origin}${url.pathname}`;
    this.encoding = options.encoding;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.compression = options.compression ?? 'gzip';
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.retryRuntime = options.retryRuntime ?? {};
    this.logger = options.logger ?? silentLogger;
    this.headers = {
      ...options.headers,
      'content-type': options.encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json',
      ...(this.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
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

  /** Waits for sends in flight (their retries included), then refuses new ones. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.allSettled([...this.inFlight]).then(() => undefined);
    return this.closing;
  }

  private async deliver(batch: KeptBatch): Promise<void> {
    const body = await this.encode(batch);
    await runWithRetry(() => this.attempt(body, batch), this.retry, {
      ...this.retryRuntime,
      giveUp: (last: TailsiftError, attempts: number, elapsedMs: number) =>
        new SinkError(this.name, `gave up after ${attempts} attempts in ${Math.round(elapsedMs)} ms: ${last.message}`, {
          retriable: true,
          ...((last as SinkError).retryAfterMs === undefined ? {} : { retryAfterMs: (last as SinkError).retryAfterMs }),
          cause: last,
        }),
    });
  }

  private async encode(batch: KeptBatch): Promise<Uint8Array> {
    let body: Uint8Array;
    if (this.encoding === 'protobuf') {
      body = batch.request;
    } else {
      try {
        body = Buffer.from(JSON.stringify(protobufRequestToJson(batch.request)));
      } catch (err) {
        throw new SinkError(this.name, `cannot convert the batch to OTLP/JSON: ${(err as Error).message}`, { retriable: false, cause: err });
      }
    }
    return this.compression === 'gzip' ? gzipAsync(body) : body;
  }

  private async attempt(body: Uint8Array, batch: KeptBatch): Promise<void> {
    let status: number;
    let answer: Uint8Array;
    let headers: Headers;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      headers = response.headers;
      // Read the whole answer even when it is not needed, so the connection can be reused.
      answer = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw new SinkError(this.name, describeFetchFailure(err, this.endpoint, this.timeoutMs), { retriable: true, cause: err });
    }

    const contentType = headers.get('content-type');
    if (status >= 200 && status < 300) {
      const partial = readPartialSuccess(answer, contentType);
      // The spec forbids retrying a partial success: the rejected spans are lost downstream.
      if (partial !== undefined && partial.rejectedSpans > 0) {
        this.logger.warn(
          { sink: this.name, rejectedSpans: partial.rejectedSpans, sentSpans: batch.spanCount, reason: partial.errorMessage },
          'destination rejected part of a batch',
        );
      }
      return;
    }
    const retriable = RETRIABLE_STATUSES.has(status);
    const retryAfterMs = retriable ? parseRetryAfter(headers.get('retry-after'), Date.now()) : undefined;
    throw new HttpStatusError(this.name, status, errorMessageOf(answer, contentType), {
      retriable,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
}

function describeFetchFailure(err: unknown, endpoint: string, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer from ${endpoint} within ${timeoutMs} ms`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `cannot reach ${endpoint}: ${cause ?? e.message ?? String(err)}`;
}
