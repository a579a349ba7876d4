import { SinkError } from '../errors.js';
import { concatRequests, decodeProtobufRequest, decodeProtobufSpans } from '../otlp/index.js';
import type { SpanView, TraceFragment } from '../otlp/index.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { defaultAwsCredentials, SigV4Signer, type AwsCredentialsProvider } from './aws-sigv4.js';
import { HttpDelivery } from './http-delivery.js';
import { errorMessageOf, readPartialSuccess } from './otlp-http-response.js';
import type { RetryRuntime, RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';

/** The SigV4 signing name of X-Ray's OTLP endpoint. */
export const XRAY_SIGNING_SERVICE = 'xray';

/** X-Ray's OTLP/HTTP traces endpoint in `region`. */
export function xrayEndpoint(region: string): string {
  return `https://xray.${region}.amazonaws.com/v1/traces`;
}

/**
 * Which trace ids X-Ray takes: the first 4 bytes of an X-Ray trace id are the epoch second
 * the trace started, and X-Ray refuses ids older than 30 days. The defaults are the
 * OpenTelemetry Collector's X-Ray exporter's: 28 days back (a margin under X-Ray's limit) and
 * 5 minutes ahead (clock skew between the trace's origin and this host).
 */
export interface TraceIdWindow {
  /** Check trace ids at all. Off for senders that X-Ray takes W3C (random) trace ids from. */
  readonly check: boolean;
  /** Oldest accepted id timestamp, ms before now. */
  readonly maxAgeMs: number;
  /** Latest accepted id timestamp, ms after now. */
  readonly maxFutureMs: number;
}

export const DEFAULT_TRACE_ID_WINDOW: TraceIdWindow = {
  check: true,
  maxAgeMs: 28 * 24 * 3_600_000,
  maxFutureMs: 5 * 60_000,
};

/**
 * Why a trace was not sent to X-Ray; the `reason` label of tailsift_sink_traces_rejected_total.
 * The span-time and size reasons are limits of the OTLP endpoint, which refuses a whole
 * request when one span breaks them: sending the trace would lose its batch-mates too.
 */
export type XrayRefusal = 'trace_id_too_old' | 'trace_id_in_future' | 'span_time_too_old' | 'span_time_in_future' | 'trace_too_large';

/**
 * The problem X-Ray would have with `traceId` (32 hex characters) at `nowMs`, or undefined
 * when it is within the window.
 */
export function xrayTraceIdProblem(traceId: string, nowMs: number, window: TraceIdWindow): XrayRefusal | undefined {
  if (!window.check) return undefined;
  const idMs = xrayTraceIdTimeMs(traceId);
  if (idMs < nowMs - window.maxAgeMs) return 'trace_id_too_old';
  if (idMs > nowMs + window.maxFutureMs) return 'trace_id_in_future';
  return undefined;
}

/** The time an X-Ray trace id carries in its first 4 bytes, as Unix ms. */
export function xrayTraceIdTimeMs(traceId: string): number {
  return Number.parseInt(traceId.slice(0, 8), 16) * 1000;
}

/** What one request to the X-Ray OTLP endpoint may hold (CloudWatch's OTLP endpoint limits). */
export interface XrayRequestLimits {
  /** Spans per request; the endpoint allows 10,000. */
  readonly maxSpans: number;
  /** Uncompressed body bytes; the endpoint allows 5 MB. */
  readonly maxBytes: number;
  /** How far back a span may start, ms; the endpoint allows 14 days. */
  readonly maxSpanAgeMs: number;
  /** How far ahead a span may start, ms; the endpoint allows 2 hours. */
  readonly maxSpanFutureMs: number;
}

export const XRAY_REQUEST_LIMITS: XrayRequestLimits = {
  maxSpans: 10_000,
  maxBytes: 5_000_000,
  maxSpanAgeMs: 14 * 24 * 3_600_000,
  maxSpanFutureMs: 2 * 3_600_000,
};

const REFUSAL_MESSAGES: Record<XrayRefusal, string> = {
  trace_id_too_old: 'trace not sent to X-Ray: the time in its trace id is older than X-Ray accepts',
  trace_id_in_future: 'trace not sent to X-Ray: the time in its trace id is in the future',
  span_time_too_old: 'trace not sent to X-Ray: a span starts earlier than the OTLP endpoint accepts (14 days)',
  span_time_in_future: 'trace not sent to X-Ray: a span starts later than the OTLP endpoint accepts (2 hours ahead)',
  trace_too_large: 'trace not sent to X-Ray: it alone exceeds the spans or bytes one request may hold',
};

/** One request's worth of whole traces. */
interface XrayRequest {
  readonly body: Uint8Array;
  readonly traces: number;
  readonly spans: number;
}

export interface XraySinkOptions {
  /** The AWS region of the endpoint and of the signature. */
  readonly region: string;
  /** Full URL; default `https://xray.<region>.amazonaws.com/v1/traces`. */
  readonly endpoint?: string;
  /** Time limit of one attempt, answer body included, ms. Default 10 s. */
  readonly timeoutMs?: number;
  /** Which trace ids are sent; DEFAULT_TRACE_ID_WINDOW by default. */
  readonly traceIdWindow?: TraceIdWindow;
  /** Limits of one request; XRAY_REQUEST_LIMITS by default (tests lower them). */
  readonly requestLimits?: XrayRequestLimits;
  /** Where credentials come from; the AWS SDK's default chain by default (tests pass their own). */
  readonly credentials?: AwsCredentialsProvider;
  /** Clock of the trace-id window and of signatures, Unix ms; the real one by default. */
  readonly now?: () => number;
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default (tests inject their own). */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  readonly logger?: Logger;
}

/**
 * Forwards kept traces to AWS X-Ray's OTLP endpoint: OTLP protobuf, gzip, each attempt signed
 * with SigV4 (service `xray`) using credentials from the AWS default chain, never from the
 * config.
 *
 * Traces X-Ray would refuse (an id outside the trace-id window, a span outside the endpoint's
 * time limits, a trace larger than one request) are held back, each logged at warn and
 * counted by reason, and the rest is sent; a batch with nothing left to send resolves. A batch
 * larger than one request is sent as several, each of whole traces, one after the other; if a
 * later one fails the caller sends the whole batch again (at-least-once).
 *
 * 429 and 5xx answers, network failures and timeouts are retried with backoff, as AWS SDKs
 * retry throttling and transient errors; other statuses fail at once. After
 * `retry.maxElapsedMs` it gives up with a retriable SinkError, and the caller keeps the traces.
 */
export class XraySink implements TraceSink {
  readonly name: string;
  private readonly window: TraceIdWindow;
  private readonly limits: XrayRequestLimits;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly delivery: HttpDelivery;
  private readonly rejected = new Map<XrayRefusal, number>();

  constructor(options: XraySinkOptions) {
    const endpoint = options.endpoint ?? xrayEndpoint(options.region);
    this.name = `xray ${HttpDelivery.describe(endpoint)}`;
    this.window = options.traceIdWindow ?? DEFAULT_TRACE_ID_WINDOW;
    this.limits = options.requestLimits ?? XRAY_REQUEST_LIMITS;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    const signer = new SigV4Signer({
      region: options.region,
      service: XRAY_SIGNING_SERVICE,
      credentials: options.credentials ?? defaultAwsCredentials(),
      now: () => new Date(this.now()),
    });
    this.delivery = new HttpDelivery({
      sink: this.name,
      kind: 'X-Ray OTLP',
      endpoint,
      contentType: 'application/x-protobuf',
      timeoutMs: options.timeoutMs,
      compression: 'gzip',
      retry: options.retry,
      retryRuntime: options.retryRuntime,
      retriableStatus: (status) => status === 429 || (status >= 500 && status < 600),
      errorMessage: (answer) => errorMessageOf(answer.body, answer.headers.get('content-type')),
      authorize: (request) => signer.sign(request),
    });
  }

  send(batch: KeptBatch): Promise<void> {
    return this.delivery.send(() => this.deliver(batch));
  }

  /** Waits for sends in flight (their retries included), then refuses new ones. Idempotent. */
  close(): Promise<void> {
    return this.delivery.close();
  }

  /** Traces held back so far because X-Ray would refuse them, by reason. */
  rejectedTraces(): ReadonlyMap<string, number> {
    return this.rejected;
  }

  private async deliver(batch: KeptBatch): Promise<void> {
    for (const request of this.requestsOf(batch)) {
      const answer = await this.delivery.post(request.body);
      const partial = readPartialSuccess(answer.body, answer.headers.get('content-type'));
      // As for any OTLP destination, a partial success must not be retried: say what was lost.
      if (partial !== undefined && partial.rejectedSpans > 0) {
        this.logger.warn(
          { sink: this.name, rejectedSpans: partial.rejectedSpans, sentSpans: request.spans, reason: partial.errorMessage },
          'X-Ray rejected part of a batch',
        );
      }
    }
  }

  /** The batch as requests X-Ray takes, without the traces it would refuse (reported here). */
  private requestsOf(batch: KeptBatch): XrayRequest[] {
    const whole: XrayRequest = { body: batch.request, traces: batch.traceCount, spans: batch.spanCount };
    const fits = batch.spanCount <= this.limits.maxSpans && batch.request.length <= this.limits.maxBytes;
    if (!this.window.check && fits && !this.hasSpanOutsideTimeLimits(batch)) return [whole];
    const decoded = decodeProtobufRequest(batch.request);
    if (!decoded.ok) {
      throw new SinkError(this.name, `the kept batch is not a valid request: ${decoded.error.message}`, { retriable: false, cause: decoded.error });
    }
    const nowMs = this.now();
    const spanProblems = this.spanTimeProblems(decoded.value.spans, nowMs);
    const sendable: TraceFragment[] = [];
    for (const fragment of decoded.value.fragments) {
      const problem =
        xrayTraceIdProblem(fragment.traceId, nowMs, this.window) ??
        spanProblems.get(fragment.traceId) ??
        (fragment.spanCount > this.limits.maxSpans || fragment.bytes.length > this.limits.maxBytes ? 'trace_too_large' : undefined);
      if (problem === undefined) sendable.push(fragment);
      else this.report(fragment, problem);
    }
    if (sendable.length === decoded.value.fragments.length && fits) return [whole];
    return this.split(sendable);
  }

  /** Groups whole traces into requests within the spans and bytes limits, in batch order. */
  private split(fragments: readonly TraceFragment[]): XrayRequest[] {
    const requests: XrayRequest[] = [];
    let part: TraceFragment[] = [];
    let spans = 0;
    let bytes = 0;
    const flush = () => {
      if (part.length > 0) requests.push({ body: concatRequests(part.map((f) => f.bytes)), traces: part.length, spans });
      part = [];
      spans = 0;
      bytes = 0;
    };
    for (const fragment of fragments) {
      if (spans + fragment.spanCount > this.limits.maxSpans || bytes + fragment.bytes.length > this.limits.maxBytes) flush();
      part.push(fragment);
      spans += fragment.spanCount;
      bytes += fragment.bytes.length;
    }
    flush();
    return requests;
  }

  /** Trace id → the span-time limit one of its spans breaks. */
  private spanTimeProblems(spans: readonly SpanView[], nowMs: number): Map<string, XrayRefusal> {
    const problems = new Map<string, XrayRefusal>();
    for (const span of spans) {
      if (span.startMs < nowMs - this.limits.maxSpanAgeMs) problems.set(span.traceId, 'span_time_too_old');
      else if (span.startMs > nowMs + this.limits.maxSpanFutureMs) problems.set(span.traceId, 'span_time_in_future');
    }
    return problems;
  }

  /** Whether a span of the batch breaks the endpoint's time limits (spans alone, no split). */
  private hasSpanOutsideTimeLimits(batch: KeptBatch): boolean {
    const decoded = decodeProtobufSpans(batch.request);
    return !decoded.ok || this.spanTimeProblems(decoded.value.spans, this.now()).size > 0;
  }

  private report(fragment: TraceFragment, problem: XrayRefusal): void {
    this.rejected.set(problem, (this.rejected.get(problem) ?? 0) + 1);
    this.logger.warn(
      {
        sink: this.name,
        traceId: fragment.traceId,
        reason: problem,
        traceIdTime: new Date(xrayTraceIdTimeMs(fragment.traceId)).toISOString(),
        spans: fragment.spanCount,
        bytes: fragment.bytes.length,
      },
      REFUSAL_MESSAGES[problem],
    );
  }
}
