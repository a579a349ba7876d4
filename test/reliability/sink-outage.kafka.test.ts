import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeProtobufSpans } from '../../src/otlp/decode-protobuf.js';
import { eventually } from '../support/engine-process.js';
import { localServices } from '../support/services.js';
import { HALF_POLICY, PipelineFixture } from '../support/pipeline-fixture.js';
import { counterTotal, MetricsSampler } from './metrics-sampler.js';
import { accountPipeline, recordCase } from './reliability-figures.js';

const OUTAGE_MS = 60_000;
const NUM_TRACES = 120;

/**
 * A trace store that answers 503 to every export for OUTAGE_MS after the first one arrives
 * (every other answer with a Retry-After), then 200. It records every body, so the test can
 * tell retried batches from new ones and count each span it accepted.
 */
class FlakyTraceStore {
  readonly accepted = new Map<string, string[]>();
  requests = 0;
  refused = 0;
  refusedWithRetryAfter = 0;
  /** Bodies seen again: a retry of a batch the store refused before. */
  repeatedBodies = 0;
  firstRequestAt: number | undefined;
  recoveredAt: number | undefined;
  private readonly seen = new Set<string>();
  private server: Server | undefined;

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req).then((status) => {
        if (status === 200) {
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        } else {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          // Half the refusals say when to come back; the sink must cope with both.
          if (this.refused % 2 === 0) {
            headers['retry-after'] = '2';
            this.refusedWithRetryAfter++;
          }
          res.writeHead(503, headers).end('store unavailable');
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  private async handle(req: IncomingMessage): Promise<200 | 503> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    this.requests++;
    this.firstRequestAt ??= Date.now();
    const digest = createHash('sha256').update(body).digest('hex');
    if (this.seen.has(digest)) this.repeatedBodies++;
    this.seen.add(digest);
    if (Date.now() - this.firstRequestAt < OUTAGE_MS) {
      this.refused++;
      return 503;
    }
    this.recoveredAt ??= Date.now();
    const decoded = decodeProtobufSpans(body);
    if (!decoded.ok) throw new Error(`the sink sent a body that does not decode: ${decoded.error.message}`);
    for (const s of decoded.value.spans) {
      const ids = this.accepted.get(s.traceId) ?? [];
      ids.push(s.spanId);
      this.accepted.set(s.traceId, ids);
    }
    return 200;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/**
 * The engine's only sink answers 503 for a minute while traffic keeps flowing. Kept traces
 * must stay in the buffer and be retried (the sink's own backoff, then the decision loop's
 * retry), the buffer must stop at num_traces with Kafka paused instead of growing, and once
 * the store recovers every trace the policy keeps must arrive.
 */
describe('fault: trace sink answering 503 for 60 s', () => {
  let fixture: PipelineFixture | undefined;
  let store: FlakyTraceStore | undefined;

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
    await store?.close();
    store = undefined;
  });

  it('retains and retries kept traces, bounds the buffer, and delivers all once the store recovers', async () => {
    const { kafkaBrokers, redisUrl } = await localServices();
    fixture = await PipelineFixture.create(kafkaBrokers, redisUrl, `num_traces: ${NUM_TRACES}\n${HALF_POLICY}`);
    store = new FlakyTraceStore();
    const endpoint = await store.listen();
    const engine = await fixture.startEngine(0, undefined, { sinks: `[{ type: otlp-http, endpoint: ${JSON.stringify(endpoint)}, timeout: 5s }]` });
    const sampler = new MetricsSampler(engine.adminUrl, 1_000).start();

    // 6 traces/s for 70 s: about three times num_traces arrive while the store refuses.
    const summary = await fixture.generate({ seconds: 70, rate: 6, seed: 16 });
    expect(summary.failedSpans).toBe(0);
    const traces = await fixture.manifest();
    const expected = await fixture.expectedKept(traces);
    const spansOf = new Map(traces.map((t) => [t.traceId, t.spans]));
    const s = store;
    const complete = (): boolean => [...expected].every((id) => new Set(s.accepted.get(id) ?? []).size === spansOf.get(id));
    await eventually(() => (complete() ? true : undefined), 60_000, 'every kept trace at the store').catch(() => undefined);
    await sampler.stop();

    const spans = accountPipeline(traces, expected, store.accepted);
    const unexpected = [...store.accepted.keys()].filter((id) => !expected.has(id));
    const peakRss = sampler.max('process_resident_memory_bytes') ?? NaN;
    const peakPending = sampler.max('tailsift_traces_pending') ?? NaN;
    const outageFrom = store.firstRequestAt ?? NaN;
    const peakPendingInOutage = sampler.max('tailsift_traces_pending', {}, outageFrom, outageFrom + OUTAGE_MS) ?? NaN;
    const peakRssInOutage = sampler.max('process_resident_memory_bytes', {}, outageFrom, outageFrom + OUTAGE_MS) ?? NaN;
    const fullRefusals = sampler.last('tailsift_kafka_intake_refusals_total', { kind: 'full' }) ?? 0;
    const pausedMs = engine.logs.filter((l) => l.msg === 'consumption resumed').reduce((n, l) => n + Number(l.pausedMs ?? 0), 0);
    const tracesRetried = await counterTotal(engine.adminUrl, 'tailsift_traces_retried_total');
    await recordCase({
      id: 'sink-503',
      fault: `otlp-http sink answers 503 for ${OUTAGE_MS / 1000} s (half with Retry-After), 6 traces/s for 70 s, num_traces ${NUM_TRACES}`,
      spans,
      details: {
        traces: traces.length,
        'store requests': store.requests,
        'answered 503': store.refused,
        '503 with Retry-After': store.refusedWithRetryAfter,
        'repeated batches': store.repeatedBodies,
        'traces given back to the buffer': tracesRetried,
        'peak traces pending during the outage': peakPendingInOutage,
        'peak traces pending': peakPending,
        'intake refusals (buffer full)': fullRefusals,
        'intake paused for, s': Math.round(pausedMs / 100) / 10,
        'peak RSS during the outage, MiB': Math.round(peakRssInOutage / 2 ** 20),
        'peak RSS, MiB': Math.round(peakRss / 2 ** 20),
        'recovery to all delivered, s': store.recoveredAt === undefined ? 'n/a' : Math.round((Date.now() - store.recoveredAt) / 100) / 10,
      },
    }, engine.logs);

    expect(unexpected).toEqual([]);
    expect(complete()).toBe(true);
    expect(spans.lost).toBe(0);
    // Retries happened: the store saw the same batch more than once while it refused.
    expect(store.refused).toBeGreaterThan(2);
    expect(store.repeatedBodies).toBeGreaterThan(0);
    // Bounded: while the store refused, the buffer stopped at num_traces and intake was refused
    // rather than the buffer growing. (After it recovers, the Kafka backlog may come as one
    // batch with more traces than num_traces, which an empty buffer takes whole; see the peak.)
    expect(fullRefusals).toBeGreaterThan(0);
    expect(peakPendingInOutage).toBeLessThanOrEqual(NUM_TRACES);
    // The buffer lives in Redis; the engine holds one batch in flight and its baselines. An
    // idle engine sits near 150 MiB here, so 400 MiB leaves room yet catches unbounded growth
    // (all 70 s of traffic held in process would be far beyond it at the sizes buffered).
    expect(peakRssInOutage).toBeLessThan(400 * 2 ** 20);
    expect(peakRss).toBeLessThan(400 * 2 ** 20);
    expect(await engine.stop()).toBe(0);
  }, 220_000);
});
