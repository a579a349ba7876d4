import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { SinkError, type TailsiftError } from '../errors.js';
import { DEFAULT_RETRY, parseRetryAfter, runWithRetry, type RetryRuntime, type RetrySettings } from './retry.js';
import { tlsConnectionOptions, type TlsFiles } from '../config/tls-files.js';

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

/** PEM files of a TLS client, as a config's `tls:` block names them (absolute paths once validated). */
export type HttpTlsFiles = TlsFiles;

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
  /**
   * Who to trust and which certificate to present on an https:// endpoint. The files are read
   * once, here: a missing file is a ConfigError at start-up, not a failure per batch.
   */
  readonly tls?: HttpTlsFiles;
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
 *
 * Requests go through node:http and node:https with a keep-alive agent of their own, not
 * through fetch: Node 20's fetch takes a CA or a client certificate only through an undici
 * dispatcher, and undici is not a dependency of tailsift.
 */
export class HttpDelivery {
  readonly endpoint: string;
  private readonly url: URL;
  private readonly agent: HttpAgent;
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
    if (o.tls !== undefined && url.protocol !== 'https:') {
      throw new TypeError(`${o.kind} endpoint ${o.endpoint} is not https://; TLS settings apply to https:// endpoints only`);
    }
    this.url = url;
    this.endpoint = url.href;
    this.agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, ...(o.tls === undefined ? {} : tlsConnectionOptions(o.tls, `${o.sink}: tls`)) }) : new HttpAgent({ keepAlive: true });
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

  /** Waits for sends in flight (their retries included), then refuses new ones and closes idle connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.allSettled([...this.inFlight]).then(() => this.agent.destroy());
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
      answer = await this.exchange(headers, body);
    } catch (err) {
      throw new SinkError(this.o.sink, describeRequestFailure(err, this.endpoint, this.timeoutMs), { retriable: true, cause: err });
    }
    if (answer.status >= 200 && answer.status < 300) return answer;
    const retriable = this.o.retriableStatus(answer.status);
    const retryAfterMs = retriable ? parseRetryAfter(answer.headers.get('retry-after'), Date.now()) : undefined;
    throw new HttpStatusError(this.o.sink, answer.status, this.o.errorMessage(answer), {
      retriable,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  /** One POST and its whole answer; rejects on a connection or TLS failure and past the time limit. */
  private exchange(headers: Readonly<Record<string, string>>, body: Uint8Array): Promise<HttpAnswer> {
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      let timedOut = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
      };
      const req = send(this.url, { method: 'POST', agent: this.agent, headers: { ...headers, 'content-length': String(body.byteLength) } });
      // The limit covers the answer body too: a server that sends headers and then stalls is as stuck as a silent one.
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, this.timeoutMs);
      const fail = (err: unknown): void => settle(() => reject(timedOut ? new AttemptTimeout() : err));
      req.on('error', fail);
      let answered = false;
      // A request torn down before any answer (destroyed by the time limit) settles here; once
      // answered, a connection lost mid-body makes readBody fail instead.
      req.on('close', () => {
        if (!answered) fail(new Error('the connection closed before an answer'));
      });
      req.on('response', (res) => {
        answered = true;
        // Read the whole answer even when it is not needed, so the connection can be reused.
        readBody(res).then(
          (answerBody) => settle(() => resolve({ status: res.statusCode ?? 0, headers: toHeaders(res.headers), body: answerBody })),
          fail,
        );
      });
      req.end(body);
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

/** An attempt that ran past its time limit. */
class AttemptTimeout extends Error {}

async function readBody(res: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

// OpenSSL's verification results for a server certificate that does not chain to a trusted CA.
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

function describeRequestFailure(err: unknown, endpoint: string, timeoutMs: number): string {
  if (err instanceof AttemptTimeout) return `no answer from ${endpoint} within ${timeoutMs} ms`;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  // OpenSSL's own messages (ERR_SSL_*) are a line of internal locations: the code says it all.
  const detail = code === '' ? (e.message ?? String(err)) : code.startsWith('ERR_SSL_') ? code : `${code}: ${e.message ?? ''}`;
  if (UNTRUSTED_CERTIFICATE.has(code)) {
    return `the TLS certificate of ${endpoint} is not trusted (${detail}); set tls.ca to the PEM file of the CA that signed it`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the TLS certificate of ${endpoint} is for another host (${detail})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the TLS certificate of ${endpoint} is not valid now (${detail})`;
  // TLS 1.3 servers send "certificate required"; TLS 1.2 servers end the handshake with a failure.
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    return `${endpoint} asks for a client certificate (${detail}); set tls.cert and tls.key`;
  }
  return `cannot reach ${endpoint}: ${code === '' ? detail : code}`;
}
