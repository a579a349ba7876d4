import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { SinkError, type TailsiftError } from '../errors.js';
import { protobufRequestToJson } from '../otlp/index.js';
import { HttpStatusError } from './otlp-http-sink.js';
import { DEFAULT_RETRY, parseRetryAfter, runWithRetry, type RetryRuntime, type RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';
import { otlpToZipkinSpans } from './zipkin-mapping.js';

const gzipAsync = promisify(gzip);

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
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly compression: 'gzip' | 'none';
  private readonly retry: RetrySettings;
  private readonly retryRuntime: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  private readonly headers: Record<string, string>;
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: ZipkinSinkOptions) {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`Zipkin endpoint must be an http:// or https:// URL, got ${options.endpoint}`);
    }
    this.endpoint = url.href;
    this.name = `zipkin ${url.origin}${url.pathname}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.compression = options.compression ?? 'gzip';
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.retryRuntime = options.retryRuntime ?? {};
    this.headers = {
      'content-type': 'application/json',
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
    if (body === undefined) return;
    await runWithRetry(() => this.attempt(body), this.retry, {
      ...this.retryRuntime,
      giveUp: (last: TailsiftError, attempts: number, elapsedMs: number) =>
        new SinkError(this.name, `gave up after ${attempts} attempts in ${Math.round(elapsedMs)} ms: ${last.message}`, {
          retriable: true,
          ...((last as SinkError).retryAfterMs === undefined ? {} : { retryAfterMs: (last as SinkError).retryAfterMs }),
          cause: last,
        }),
    });
  }

  /** The request body, or undefined when the batch holds no span (nothing to post). */
  private async encode(batch: KeptBatch): Promise<Uint8Array | undefined> {
    let json: string;
    try {
      const spans = otlpToZipkinSpans(protobufRequestToJson(batch.request));
      if (spans.length === 0) return undefined;
      json = JSON.stringify(spans);
    } catch (err) {
      // A batch that cannot be read will not become readable by retrying.
      throw new SinkError(this.name, `cannot convert the batch to Zipkin spans: ${(err as Error).message}`, { retriable: false, cause: err });
    }
    const body = Buffer.from(json);
    return this.compression === 'gzip' ? gzipAsync(body) : body;
  }

  private async attempt(body: Uint8Array): Promise<void> {
    let status: number;
    let answer: string;
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
      answer = await response.text();
    } catch (err) {
      throw new SinkError(this.name, describeFetchFailure(err, this.endpoint, this.timeoutMs), { retriable: true, cause: err });
    }
    if (status >= 200 && status < 300) return;
    const retriable = status === 429 || (status >= 500 && status < 600);
    const retryAfterMs = retriable ? parseRetryAfter(headers.get('retry-after'), Date.now()) : undefined;
    throw new HttpStatusError(this.name, status, answer.trim().slice(0, MAX_ERROR_MESSAGE_CHARS), {
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
