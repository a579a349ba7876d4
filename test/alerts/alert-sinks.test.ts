import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertDispatcher } from '../../src/alerts/alert-dispatcher.js';
import { AlertmanagerAlertSink } from '../../src/alerts/sinks/alertmanager-alert-sink.js';
import { FileAlertSink } from '../../src/alerts/sinks/file-alert-sink.js';
import { PagerDutyAlertSink } from '../../src/alerts/sinks/pagerduty-alert-sink.js';
import { SlackAlertSink } from '../../src/alerts/sinks/slack-alert-sink.js';
import { WebhookAlertSink } from '../../src/alerts/sinks/webhook-alert-sink.js';
import { SinkError } from '../../src/errors.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { reply, startLocalOtlpServer, type LocalOtlpServer } from '../forward/local-otlp-server.js';
import { RecordingSink, T0, notification } from './notifications.js';

const servers: LocalOtlpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(answer: Parameters<typeof startLocalOtlpServer>[0]): Promise<{ base: string; s: LocalOtlpServer }> {
  const s = await startLocalOtlpServer(answer);
  servers.push(s);
  return { base: new URL(s.url).origin, s };
}

const json = (body: Buffer): unknown => JSON.parse(body.toString('utf8'));
const fastRetry = { initialMs: 5, maxMs: 20, maxElapsedMs: 2_000 };

describe('alertmanager sink', () => {
  it('POSTs postable alerts to /api/v2/alerts: labels, annotations, startsAt, endsAt, generatorURL', async () => {
    const { base, s } = await server((res) => reply(res, 200));
    const sink = new AlertmanagerAlertSink({ url: base, timeoutMs: 2_000, renotifyMs: 3_600_000 });
    await sink.send(notification());
    await sink.send(notification({ status: 'resolved', endsAtMs: T0 + 300_000, atMs: T0 + 300_000 }));
    expect(s.received.map((r) => [r.method, r.url, r.headers['content-type']])).toEqual([
      ['POST', '/api/v2/alerts', 'application/json'],
      ['POST', '/api/v2/alerts', 'application/json'],
    ]);
    const [firing] = json(s.received[0].body) as Record<string, unknown>[];
    expect(firing.labels).toEqual({ alertname: 'TailsiftLatencyShift', service: 'llm-inference', operation: 'chat', kind: 'latency', source: 'tailsift' });
    expect((firing.annotations as Record<string, string>).summary).toBe(notification().summary);
    expect((firing.annotations as Record<string, string>).exemplar_trace_ids).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(firing.startsAt).toBe('2023-11-14T22:13:20.000Z');
    // Active until two renotify intervals after it was sent.
    expect(firing.endsAt).toBe(new Date(T0 + 25_000 + 7_200_000).toISOString());
    expect(firing.generatorURL).toBe('http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736');
    const [resolved] = json(s.received[1].body) as Record<string, unknown>[];
    expect(resolved.labels).toEqual(firing.labels);
    expect(resolved.endsAt).toBe(new Date(T0 + 300_000).toISOString());
  });
});

describe('pagerduty sink', () => {
  it('sends a trigger with payload summary/source/severity and a resolve with the same dedup_key', async () => {
    const { base, s } = await server((res) => reply(res, 202, { 'content-type': 'application/json' }, '{"status":"success","message":"Event processed"}'));
    const sink = new PagerDutyAlertSink({ routingKey: 'R0UT1NGKEY', url: `${base}/v2/enqueue`, severity: 'error', source: 'tailsift-eu', timeoutMs: 2_000 });
    await sink.send(notification());
    await sink.send(notification({ status: 'resolved', endsAtMs: T0 + 300_000 }));
    expect(s.received.map((r) => r.url)).toEqual(['/v2/enqueue', '/v2/enqueue']);
    const trigger = json(s.received[0].body) as Record<string, unknown>;
    expect(trigger).toMatchObject({
      routing_key: 'R0UT1NGKEY',
      event_action: 'trigger',
      dedup_key: 'tailsift/llm-inference/chat/latency',
      payload: { summary: notification().summary, source: 'tailsift-eu', severity: 'error', component: 'llm-inference', group: 'chat', class: 'Latency shift', timestamp: '2023-11-14T22:13:20.000Z' },
      links: [{ href: 'http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736', text: 'Exemplar trace 4bf92f3577b34da6a3ce929d0e0e4736' }],
    });
    expect(json(s.received[1].body)).toEqual({ routing_key: 'R0UT1NGKEY', event_action: 'resolve', dedup_key: 'tailsift/llm-inference/chat/latency' });
  });

  it('treats 400 as final and 429 as worth retrying, with Retry-After', async () => {
    const { base } = await server((res, i) => (i === 0 ? reply(res, 400, {}, '{"status":"invalid event"}') : reply(res, 429, { 'retry-after': '3' })));
    const sink = new PagerDutyAlertSink({ routingKey: 'k', url: `${base}/v2/enqueue`, severity: 'error', source: 's', timeoutMs: 2_000 });
    const refused = await sink.send(notification()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SinkError);
    expect((refused as SinkError).retriable).toBe(false);
    const throttled = (await sink.send(notification()).catch((e: unknown) => e)) as SinkError;
    expect(throttled.retriable).toBe(true);
    expect(throttled.retryAfterMs).toBe(3_000);
  });
});

describe('slack and webhook sinks', () => {
  it('posts a Slack message with text and a mrkdwn block linking the exemplars', async () => {
    const { base, s } = await server((res) => reply(res, 200, {}, 'ok'));
    await new SlackAlertSink({ webhookUrl: `${base}/services/T000/B000/XXXX`, timeoutMs: 2_000 }).send(notification());
    const body = json(s.received[0].body) as { text: string; blocks: { type: string; text: { type: string; text: string } }[] };
    expect(s.received[0].url).toBe('/services/T000/B000/XXXX');
    expect(body.text).toBe(`:rotating_light: Incident: ${notification().summary}`);
    expect(body.blocks[0].type).toBe('section');
    expect(body.blocks[0].text.type).toBe('mrkdwn');
    expect(body.blocks[0].text.text).toContain('<http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736|4bf92f3577b34da6a3ce929d0e0e4736>');
  });

  it('posts the alert record to a generic webhook, with its headers', async () => {
    const { base, s } = await server((res) => reply(res, 204));
    await new WebhookAlertSink({ url: `${base}/hooks/tailsift`, headers: { authorization: 'Bearer t0k3n' }, timeoutMs: 2_000 }).send(notification());
    expect(s.received[0].headers.authorization).toBe('Bearer t0k3n');
    expect(json(s.received[0].body)).toMatchObject({
      status: 'firing',
      service: 'llm-inference',
      operation: 'chat',
      kind: 'latency',
      startsAt: '2023-11-14T22:13:20.000Z',
      observed: { p50Ms: 2100 },
      baseline: { p50Ms: 410 },
      exemplarTraceIds: ['4bf92f3577b34da6a3ce929d0e0e4736'],
      summary: notification().summary,
    });
  });
});

describe('file sink (the alert record)', () => {
  it('appends one JSON object per notification with the fields replay records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailsift-alerts-'));
    try {
      const sink = new FileAlertSink(join(dir, 'nested', 'alerts.jsonl'));
      await sink.send(notification());
      await sink.send(notification({ status: 'resolved', endsAtMs: T0 + 300_000 }));
      await sink.close();
      const lines = (await readFile(join(dir, 'nested', 'alerts.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.status)).toEqual(['firing', 'resolved']);
      for (const line of lines) {
        for (const key of ['status', 'service', 'operation', 'kind', 'startsAt', 'observed', 'baseline', 'exemplarTraceIds', 'summary']) expect(line).toHaveProperty(key);
      }
      expect(lines[0]).not.toHaveProperty('endsAt');
      expect(lines[1].endsAt).toBe('2023-11-14T22:18:20.000Z');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('dispatcher', () => {
  it('retries a failing sink with backoff until it accepts', async () => {
    const { base, s } = await server((res, i) => reply(res, i < 2 ? 503 : 200));
    const dispatcher = new AlertDispatcher([new WebhookAlertSink({ url: `${base}/hook`, timeoutMs: 2_000 })], { queueSize: 10, retry: fastRetry, logger: silentLogger });
    dispatcher.dispatch(notification());
    expect(await dispatcher.flush(5_000)).toBe(0);
    expect(s.received).toHaveLength(3);
    expect(dispatcher.counters.delivered.get('webhook:' + new URL(base).host)).toBe(1);
  });

  it('gives up on a refusal at once and counts it', async () => {
    const { base, s } = await server((res) => reply(res, 400, {}, 'bad'));
    const sink = new WebhookAlertSink({ url: `${base}/hook`, timeoutMs: 2_000 });
    const dispatcher = new AlertDispatcher([sink], { queueSize: 10, retry: fastRetry, logger: silentLogger });
    dispatcher.dispatch(notification());
    await dispatcher.flush(5_000);
    expect(s.received).toHaveLength(1);
    expect(dispatcher.counters.failed.get(sink.name)).toBe(1);
  });

  it('never waits for a down sink: others still deliver, its queue is bounded and drops are counted', async () => {
    // A server that takes requests and never answers, and a port nobody listens on.
    const { base: hung } = await server(() => undefined);
    const closed = await server(() => undefined);
    const closedUrl = `${closed.base}/hook`;
    await closed.s.close();
    servers.splice(servers.indexOf(closed.s), 1);
    const recording = new RecordingSink();
    const dispatcher = new AlertDispatcher(
      [new WebhookAlertSink({ url: `${hung}/hook`, timeoutMs: 60_000 }), new WebhookAlertSink({ url: closedUrl, timeoutMs: 2_000 }), recording],
      { queueSize: 3, retry: { initialMs: 50, maxMs: 200, maxElapsedMs: 1_000 }, logger: silentLogger },
    );
    for (let i = 0; i < 10; i++) {
      // dispatch is synchronous and returns nothing to wait for: the caller is never held.
      const returned: void = dispatcher.dispatch(notification({ dedupKey: `tailsift/svc/op${i}/latency`, operation: `op${i}` }));
      expect(returned).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await dispatcher.flush(200);
    expect(recording.sent.map((n) => n.operation)).toEqual(Array.from({ length: 10 }, (_, i) => `op${i}`));
    const queued = dispatcher.queued();
    const dropped = dispatcher.counters.dropped;
    for (const name of dispatcher.sinkNames.slice(0, 2)) {
      // One in flight, three waiting, the other six dropped.
      expect(queued.get(name)).toBe(3);
      expect(dropped.get(name)).toBe(6);
    }
    expect(dropped.get(recording.name)).toBeUndefined();
  });

  it('keeps one notification per incident in a queue: newer news replaces older', async () => {
    const { base } = await server(() => undefined);
    const recording = new RecordingSink();
    const slow = new WebhookAlertSink({ url: `${base}/hook`, timeoutMs: 60_000 });
    const dispatcher = new AlertDispatcher([slow, recording], { queueSize: 2, retry: fastRetry, logger: silentLogger });
    dispatcher.dispatch(notification({ dedupKey: 'tailsift/a/x/latency' }));
    dispatcher.dispatch(notification({ dedupKey: 'tailsift/b/x/latency' }));
    dispatcher.dispatch(notification({ dedupKey: 'tailsift/b/x/latency', status: 'resolved', endsAtMs: T0 + 1 }));
    expect(dispatcher.queued().get(slow.name)).toBe(1);
    expect(dispatcher.counters.superseded.get(slow.name)).toBe(1);
    expect(dispatcher.counters.dropped.get(slow.name)).toBeUndefined();
  });
});
