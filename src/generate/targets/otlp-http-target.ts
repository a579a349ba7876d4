import http from 'node:http';
import https from 'node:https';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SinkError } from '../../errors.js';
import { deliverWithRetry, parseRetryAfter, type RetryPolicy } from './retry.js';
import { emptyStats, encodeSpans, type TargetStats, type TraceTarget } from './trace-target.js';

/** Status codes the OTLP/HTTP specification says a client should retry. */
const RETRIABLE_STATUS = new Set([429, 502, 503, 504]);

/** POSTs each export as `application/x-protobuf` to an OTLP/HTTP traces endpoint, like an SDK's exporter. */
export class OtlpHttpTarget implements TraceTarget {
  readonly virtualTime = false;
  readonly stats: TargetStats = emptyStats();
  readonly description: string;
  private readonly agent: http.Agent;
  private readonly client: typeof http | typeof https;

  constructor(
    private readonly endpoint: URL,
    private readonly retry: RetryPolicy,
    /** Per-attempt timeout in ms. */
    private readonly timeoutMs = 10_000,
  ) {
    this.description = endpoint.href;
    this.client = endpoint.protocol === 'https:' ? https : http;
    this.agent = new this.client.Agent({ keepAlive: true, maxSockets: 4 });
  }

  async open(): Promise<void> {}

  async send(spans: readonly ReadableSpan[]): Promise<void> {
    const body = encodeSpans(spans, 'otlp_proto');
    if (await deliverWithRetry(() => this.post(body), this.retry, this.stats, spans.length)) {
      this.stats.requests++;
      this.stats.bytes += body.length;
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private post(body: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = this.client.request(
        this.endpoint,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (err) => reject(new SinkError(this.description, err.message, { retriable: true, cause: err })));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const text = Buffer.concat(chunks).toString('utf8').slice(0, 200).replace(/\s+/g, ' ').trim();
            const header = response.headers['retry-after'];
            reject(
              new SinkError(this.description, `HTTP ${status}${text ? `: ${text}` : ''}`, {
                retriable: RETRIABLE_STATUS.has(status),
                retryAfterMs: parseRetryAfter(Array.isArray(header) ? header[0] : header),
              }),
            );
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no response within ${this.timeoutMs} ms`)));
      request.on('error', (err) => reject(new SinkError(this.description, err.message, { retriable: true, cause: err })));
      request.end(body);
    });
  }
}
