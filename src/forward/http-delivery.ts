import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { SinkError, type TailsiftError } from '../errors.js';
import { DEFAULT_RETRY, parseRetryAfter, runWithRetry, type RetryRuntime, type RetrySettings } from './retry.js';

const gzipAsync = promisify(gzip);

/** A destination's answer with a status that is not a success. */
export class HttpStatusError extends SinkError {
  readonly status: number;

  constructor(sink: string, status: number, message: string, options: { retriable: boolean; retryAfterMs?: number }) {
    super(sink, message === '' ? `HTTP ${status}` : `HTTP ${status}: ${message}`, options);
    this.status = status;
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

export interface HttpDeliveryOptions {
  /** The sink's name, in errors. */
  readonly sink: string;
  /** Full URL bodies are POSTed to; http:// or https://. */
  readonly endpoint: string;
  /** What the endpoint is, in the error for a URL of another scheme (e.g. "OTLP/HTTP"). */
  readonly kind: string;
  readonly contentType: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Time limit of one attempt, answer body included, ms. Default 10 s. */
  readonly timeoutMs?: number;
  /** Request body compression. Default gzip. */
  readonly compression?: 'gzip' | 'none';
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default (tests inject their own). */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  /** Which failing statuses are worth another attempt (the protocol says). */
  readonly retriableStatus: (status: number) => boolean;
  /** The message of a failing answer's body. */
  readonly errorMessage: (answer: HttpAnswer) => string;
  /**
   * Headers to add to one attempt, computed from the request as sent (the body already
   * compressed): a request signature or a short-lived token, which must be fresh per attempt.
   * A rejection fails the attempt like a network failure (retried).
   */
  readonly authorize?: (request: OutgoingRequest) => Promise<Readonly<Record<string, string>>>;
}

/** One attempt's request, as `authorize` sees it. */
export interface OutgoingRequest {
  readonly url: URL;
  readonly method: 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * POSTing kept traces over HTTP, shared by the HTTP sinks: optional gzip, a time limit per
 * attempt, retries with backoff on network failures, timeouts and the statuses the protocol
 * calls retriable (a Retry-After is honoured), no retry on other statuses, and giving up after
 * `retry.maxElapsedMs` with a retriable SinkError so the caller keeps the traces. It tracks
 * sends in flight so that `close` can wait for them.
 */
export class HttpDelivery {
  readonly endpoint: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly compression: 'gzip' | 'none';
  private readonly retry: RetrySettings;
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(private readonly o: HttpDeliveryOptions) {
    const url = new URL(o.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`${o.kind} endpoint must be an http:// or https:// URL, got ${o.endpoint}`);
    }
    this.endpoint = url.href;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.compression = o.compression ?? 'gzip';
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
    this.headers = {
      ...o.headers,
      'content-type': o.contentType,
      ...(this.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
  }

  /** `origin + path` of the endpoint, for sink names. */
  static describe(endpoint: string): string {
    const url = new URL(endpoint);
    return `${url.origin}${url.pathname}`;
  }

  /**
   * Runs `work` (which usually ends in `post`) as a tracked send; refused once closing, with a
   * retriable error: the traces are fine, this instance is shutting down, they stay buffered.
   */
  send(work: () => Promise<void>): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new SinkError(this.o.sink, 'the sink is closed', { retriable: true }));
    const sending = work();
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

  /** POSTs `body` until a 2xx answer, which it returns, or fails as described above. */
  async post(body: Uint8Array): Promise<HttpAnswer> {
    const payload = this.compression === 'gzip' ? await gzipAsync(body) : body;
    let accepted: HttpAnswer | undefined;
    await runWithRetry(
      async () => {
        accepted = await this.attempt(payload);
      },
      this.retry,
      {
        ...this.o.retryRuntime,
        giveUp: (last: TailsiftError, attempts: number, elapsedMs: number) =>
          new SinkError(this.o.sink, `gave up after ${attempts} attempts in ${Math.round(elapsedMs)} ms: ${last.message}`, {
            retriable: true,
            ...((last as SinkError).retryAfterMs === undefined ? {} : { retryAfterMs: (last as SinkError).retryAfterMs }),
            cause: last,
          }),
      },
    );
    return accepted as HttpAnswer;
  }

  private async attempt(body: Uint8Array): Promise<HttpAnswer> {
    const headers = await this.headersFor(body);
    let answer: HttpAnswer;
    try {
      const response = await fetch(this.endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      // Read the whole answer even when it is not needed, so the connection can be reused.
      answer = { status: response.status, headers: response.headers, body: new Uint8Array(await response.arrayBuffer()) };
    } catch (err) {
      throw new SinkError(this.o.sink, describeFetchFailure(err, this.endpoint, this.timeoutMs), { retriable: true, cause: err });
    }
    if (answer.status >= 200 && answer.status < 300) return answer;
    const retriable = this.o.retriableStatus(answer.status);
    const retryAfterMs = retriable ? parseRetryAfter(answer.headers.get('retry-after'), Date.now()) : undefined;
    throw new HttpStatusError(this.o.sink, answer.status, this.o.errorMessage(answer), {
      retriable,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  private async headersFor(body: Uint8Array): Promise<Record<string, string>> {
    if (this.o.authorize === undefined) return this.headers;
    let added: Readonly<Record<string, string>>;
    try {
      added = await this.o.authorize({ url: new URL(this.endpoint), method: 'POST', headers: this.headers, body });
    } catch (err) {
      throw new SinkError(this.o.sink, `cannot authorize the request: ${(err as Error).message}`, { retriable: true, cause: err });
    }
    return { ...this.headers, ...added };
  }
}

function describeFetchFailure(err: unknown, endpoint: string, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer from ${endpoint} within ${timeoutMs} ms`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `cannot reach ${endpoint}: ${cause ?? e.message ?? String(err)}`;
}
