import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as bufferConstants } from 'node:buffer';
import { decodeJsonRequest, decodeProtobufRequest } from '../otlp/index.js';
import type { DecodedRequest } from '../otlp/types.js';
import type { Logger } from '../telemetry/logger.js';
import { BearerTokenCheck } from './bearer-token.js';
import { discardRemaining, readRequestBody } from './request-body.js';
import { encodeRpcStatus, RpcCode, type BodyEncoding } from './rpc-status.js';

/** What the engine answers when a decoded request is handed over. */
export type IntakeResult =
  | { readonly status: 'accepted' }
  | { readonly status: 'full'; readonly retryAfterMs: number; readonly reason: string };

/** Takes a decoded request into the engine (usually: append its fragments to the buffer). */
export type Intake = (decoded: DecodedRequest) => Promise<IntakeResult>;

export interface OtlpHttpReceiverOptions {
  /** Address to listen on, e.g. 127.0.0.1. */
  readonly host: string;
  /** TCP port; 0 picks a free one (see the address `start` returns). */
  readonly port: number;
  /** Largest request body, bytes, as sent and again after gzip decompression. Default 16 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * When set, every request must carry `Authorization: Bearer <token>`; any other gets 401
   * before its body is read. Default: none (no authentication).
   */
  readonly bearerToken?: string;
  readonly intake: Intake;
  readonly logger: Logger;
  /** Shortest time between two aggregated log lines about refused requests, ms. Default 10 s. */
  readonly rejectLogIntervalMs?: number;
}

/** How a request ended, from the client's point of view. */
export type RequestOutcome =
  /** 200: the spans are in the engine. */
  | 'accepted'
  /** 4xx: the client must not send this request again as it is. */
  | 'rejected'
  /** 503 + Retry-After: the buffer is full; the client retries later. */
  | 'throttled'
  /** 503: the engine failed or is shutting down; the client retries. */
  | 'unavailable'
  /** The client went away before its body arrived; nobody got an answer. */
  | 'aborted';

export type RejectReason =
  | 'unauthenticated'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'unsupported_encoding'
  | 'too_large'
  | 'malformed'
  | 'buffer_full'
  | 'intake_failed'
  | 'shutting_down'
  | 'aborted';

export interface ReceiverCounters {
  /** Spans in requests that decoded, whatever the intake said. */
  readonly spansReceived: number;
  /** Spans in requests the intake accepted. */
  readonly spansAccepted: number;
  readonly requests: Readonly<Record<RequestOutcome, number>>;
  /** Requests not accepted, by reason. */
  readonly rejected: Readonly<Record<RejectReason, number>>;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const TRACES_PATH = '/v1/traces';

const OUTCOME_OF: Record<RejectReason, RequestOutcome> = {
  unauthenticated: 'rejected',
  not_found: 'rejected',
  method_not_allowed: 'rejected',
  unsupported_media_type: 'rejected',
  unsupported_encoding: 'rejected',
  too_large: 'rejected',
  malformed: 'rejected',
  buffer_full: 'throttled',
  intake_failed: 'unavailable',
  shutting_down: 'unavailable',
  aborted: 'aborted',
};

type AnsweredReason = Exclude<RejectReason, 'aborted'>;

const STATUS_OF: Record<AnsweredReason, number> = {
  unauthenticated: 401,
  not_found: 404,
  method_not_allowed: 405,
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  too_large: 413,
  malformed: 400,
  buffer_full: 503,
  intake_failed: 503,
  shutting_down: 503,
};

const RPC_CODE_OF: Record<number, number> = {
  400: RpcCode.INVALID_ARGUMENT,
  401: RpcCode.UNAUTHENTICATED,
  404: RpcCode.NOT_FOUND,
  405: RpcCode.UNIMPLEMENTED,
  413: RpcCode.RESOURCE_EXHAUSTED,
  415: RpcCode.UNIMPLEMENTED,
  503: RpcCode.UNAVAILABLE,
};

// An ExportTraceServiceResponse without partial_success: no bytes in protobuf, `{}` in JSON.
// The intake takes a request whole or not at all, so partial success never applies.
const SUCCESS_BODY: Record<BodyEncoding, Uint8Array> = {
  protobuf: new Uint8Array(0),
  json: new TextEncoder().encode('{}'),
};

const CONTENT_TYPE: Record<BodyEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/**
 * OTLP/HTTP trace receiver: `POST /v1/traces` with a protobuf or JSON
 * ExportTraceServiceRequest, optionally gzip-compressed, answered as the OTLP spec asks
 * (200 + ExportTraceServiceResponse; 4xx/5xx + google.rpc.Status in the request's encoding;
 * 503 + Retry-After when the engine is full).
 *
 * Nothing is logged per request: refusals are counted (see `counters`) and summarised in
 * one warning line at most every `rejectLogIntervalMs`.
 */
export class OtlpHttpReceiver {
  private readonly host: string;
  private readonly port: number;
  private readonly maxBodyBytes: number;
  private readonly intake: Intake;
  private readonly logger: Logger;
  private readonly rejectLogIntervalMs: number;
  private readonly auth: BearerTokenCheck | undefined;

  private server: Server | undefined;
  private starting: Promise<{ host: string; port: number }> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  private spansReceived = 0;
  private spansAccepted = 0;
  private readonly requests: Record<RequestOutcome, number> = {
    accepted: 0,
    rejected: 0,
    throttled: 0,
    unavailable: 0,
    aborted: 0,
  };
  private readonly rejected: Record<RejectReason, number> = {
    unauthenticated: 0,
    not_found: 0,
    method_not_allowed: 0,
    unsupported_media_type: 0,
    unsupported_encoding: 0,
    too_large: 0,
    malformed: 0,
    buffer_full: 0,
    intake_failed: 0,
    shutting_down: 0,
    aborted: 0,
  };

  private unloggedRejects = new Map<RejectReason, number>();
  private lastRejectMessage = '';
  private lastRejectLogAt = Number.NEGATIVE_INFINITY;
  private rejectLogTimer: NodeJS.Timeout | undefined;
  private lastIntakeErrorLogAt = Number.NEGATIVE_INFINITY;

  constructor(options: OtlpHttpReceiverOptions) {
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > bufferConstants.MAX_LENGTH) {
      throw new RangeError(`maxBodyBytes must be a whole number of bytes from 1 to ${bufferConstants.MAX_LENGTH}, got ${maxBodyBytes}`);
    }
    this.host = options.host;
    this.port = options.port;
    this.maxBodyBytes = maxBodyBytes;
    this.intake = options.intake;
    this.logger = options.logger;
    this.rejectLogIntervalMs = options.rejectLogIntervalMs ?? 10_000;
    this.auth = options.bearerToken === undefined ? undefined : new BearerTokenCheck(options.bearerToken);
  }

  /** Starts listening. Idempotent; resolves with the bound address (the real port when 0 was asked). */
  start(): Promise<{ host: string; port: number }> {
    if (this.stopping !== undefined) return Promise.reject(new Error('the OTLP/HTTP receiver was stopped and cannot start again'));
    this.starting ??= this.listen();
    return this.starting;
  }

  /**
   * Stops accepting connections, lets requests in flight finish (their intake included),
   * then closes the remaining keep-alive connections. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** A snapshot of the receiver's counters. */
  counters(): ReceiverCounters {
    return {
      spansReceived: this.spansReceived,
      spansAccepted: this.spansAccepted,
      requests: { ...this.requests },
      rejected: { ...this.rejected },
    };
  }

  private async listen(): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => this.track(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After start-up a server error (e.g. too many open files) must not crash the process.
    server.on('error', (err) => this.logger.error({ err }, 'OTLP/HTTP receiver server error'));
    const address = server.address() as AddressInfo;
    this.logger.info({ host: address.address, port: address.port }, 'OTLP/HTTP receiver listening');
    return { host: address.address, port: address.port };
  }

  private async shutdown(): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => undefined);
    const server = this.server;
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A request arriving on a kept-alive connection while we wait is answered 503 and
      // tracked too, so loop until nothing is left.
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      server.closeAllConnections();
      await closed;
    }
    if (this.rejectLogTimer !== undefined) clearTimeout(this.rejectLogTimer);
    this.logRejects();
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    // In flight until the answer has been written out, not merely until the handler returns,
    // so stop() does not cut an answer short.
    const answered = new Promise<void>((resolve) => res.once('close', resolve));
    const done = this.handle(req, res)
      .catch((err: unknown) => {
        this.logger.error({ err }, 'OTLP/HTTP receiver failed to handle a request');
        if (!res.headersSent) this.fail(req, res, 'intake_failed', 'internal error while handling the request', 'json');
        else res.destroy();
      })
      .then(() => answered);
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = req.headers['content-type'];
    const encoding = bodyEncodingOf(contentType);
    const replyEncoding = encoding ?? 'json';

    // First of all, so a client without the token learns nothing, not even which paths exist.
    if (this.auth !== undefined && !this.auth.accepts(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="tailsift"');
      this.fail(req, res, 'unauthenticated', 'missing or wrong bearer token; send Authorization: Bearer <token>', replyEncoding);
      return;
    }

    const path = pathOf(req.url);
    if (path !== TRACES_PATH) {
      this.fail(req, res, 'not_found', `no route for ${path}; send traces with POST ${TRACES_PATH}`, replyEncoding);
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      this.fail(req, res, 'method_not_allowed', `${req.method ?? 'this method'} is not allowed on ${TRACES_PATH}; use POST`, replyEncoding);
      return;
    }
    if (this.stopping !== undefined) {
      this.fail(req, res, 'shutting_down', 'the receiver is shutting down; retry', replyEncoding);
      return;
    }
    if (encoding === undefined) {
      this.fail(
        req,
        res,
        'unsupported_media_type',
        `Content-Type ${JSON.stringify(contentType ?? '')} is not supported; send application/x-protobuf or application/json`,
        replyEncoding,
      );
      return;
    }
    const contentEncoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    if (contentEncoding !== '' && contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
      this.fail(
        req,
        res,
        'unsupported_encoding',
        `Content-Encoding ${JSON.stringify(contentEncoding)} is not supported; send gzip or identity`,
        encoding,
      );
      return;
    }

    const read = await readRequestBody(req, { maxBytes: this.maxBodyBytes, gzip: contentEncoding === 'gzip' });
    if (!read.ok) {
      if (read.problem === 'aborted') this.count('aborted', read.message);
      else this.fail(req, res, read.problem === 'too_large' ? 'too_large' : 'malformed', read.message, encoding);
      return;
    }

    const decoded = encoding === 'protobuf' ? decodeProtobufRequest(read.body) : decodeJsonRequest(read.body);
    if (!decoded.ok) {
      this.fail(req, res, 'malformed', decoded.error.message, encoding);
      return;
    }
    const request = decoded.value;
    this.spansReceived += request.spanCount;

    // The spec asks for success on a request without telemetry; the engine has nothing to do.
    if (request.spanCount > 0) {
      let result: IntakeResult;
      try {
        result = await this.intake(request);
      } catch (err) {
        this.logIntakeError(err);
        this.fail(req, res, 'intake_failed', 'the engine could not take the spans; retry later', encoding);
        return;
      }
      if (result.status === 'full') {
        res.setHeader('Retry-After', String(retryAfterSeconds(result.retryAfterMs)));
        this.fail(req, res, 'buffer_full', result.reason, encoding);
        return;
      }
    }
    this.spansAccepted += request.spanCount;
    this.requests.accepted += 1;
    this.reply(res, 200, encoding, SUCCESS_BODY[encoding]);
  }

  private fail(req: IncomingMessage, res: ServerResponse, reason: AnsweredReason, message: string, encoding: BodyEncoding): void {
    this.count(reason, message);
    const status = STATUS_OF[reason];
    const body = encodeRpcStatus({ code: RPC_CODE_OF[status] ?? 0, message }, encoding);
    // An answer given before the whole body was read leaves the rest of the upload on the
    // wire; drain it so the client can read the answer (bounded: see discardRemaining).
    if (!discardRemaining(req, 2 * this.maxBodyBytes)) res.setHeader('Connection', 'close');
    this.reply(res, status, encoding, body);
  }

  private reply(res: ServerResponse, status: number, encoding: BodyEncoding, body: Uint8Array): void {
    if (this.stopping !== undefined) res.setHeader('Connection', 'close');
    res.setHeader('Content-Type', CONTENT_TYPE[encoding]);
    res.setHeader('Content-Length', body.length);
    res.writeHead(status);
    res.end(body);
  }

  private count(reason: RejectReason, message: string): void {
    this.rejected[reason] += 1;
    this.requests[OUTCOME_OF[reason]] += 1;
    this.unloggedRejects.set(reason, (this.unloggedRejects.get(reason) ?? 0) + 1);
    this.lastRejectMessage = message;
    const wait = this.lastRejectLogAt + this.rejectLogIntervalMs - Date.now();
    if (wait <= 0) this.logRejects();
    else if (this.rejectLogTimer === undefined) {
      this.rejectLogTimer = setTimeout(() => {
        this.rejectLogTimer = undefined;
        this.logRejects();
      }, wait);
      this.rejectLogTimer.unref();
    }
  }

  private logRejects(): void {
    if (this.unloggedRejects.size === 0) return;
    this.lastRejectLogAt = Date.now();
    const refused = Object.fromEntries(this.unloggedRejects);
    this.unloggedRejects = new Map();
    this.logger.warn({ refused, lastMessage: this.lastRejectMessage }, 'OTLP/HTTP receiver refused requests');
  }

  private logIntakeError(err: unknown): void {
    // An intake that throws usually keeps throwing (e.g. its store is down): one line with the
    // error per interval; the rest shows in the refused counts.
    const now = Date.now();
    if (now - this.lastIntakeErrorLogAt < this.rejectLogIntervalMs) return;
    this.lastIntakeErrorLogAt = now;
    this.logger.error({ err }, 'intake failed; answering 503 so the client retries');
  }
}

/** The body encoding a Content-Type names, ignoring parameters such as `; charset=utf-8`. */
export function bodyEncodingOf(contentType: string | undefined): BodyEncoding | undefined {
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(';');
  const mediaType = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (mediaType === 'application/x-protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}

/** Retry-After carries whole seconds; round up so a client never comes back early, and ask for at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  if (!Number.isFinite(retryAfterMs)) return 1;
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
