import { describe, expect, it } from 'vitest';
import { defaultAlertsConfig } from '../../src/alerts/config.js';
import { alertRecord } from '../../src/alerts/alert-notification.js';
import type { DecodedRequest, SpanView } from '../../src/otlp/types.js';
import { ReplayAnomalies, alertLines } from '../../src/replay/replay-anomalies.js';
import { T0, span } from '../baselines/synthetic-traffic.js';

const EVERY_MS = 5_000;

/** One request holding `spans`, as the driver hands them over (fragments are not read here). */
function request(spans: SpanView[]): DecodedRequest {
  return { spans, fragments: [], spanCount: spans.length };
}

/**
 * Feeds one operation at 20 spans per second, each 100 ms batch arriving at its end, through
 * the driver's order at each arrival: evaluations due before it, then the spans. From
 * `failFromMs` to `failToMs` every other span fails.
 */
async function feed(anomalies: ReplayAnomalies, fromMs: number, toMs: number, failFromMs = Infinity, failToMs = Infinity): Promise<void> {
  let n = 0;
  for (let t = fromMs + 100; t <= toMs; t += 100) {
    const spans: SpanView[] = [];
    for (let i = 0; i < 2; i++) {
      n += 1;
      const fails = t >= failFromMs && t < failToMs && n % 2 === 0;
      spans.push(span('checkout', 'POST /pay', 40 + (n % 9) * 5, { error: fails, startMs: t - 60 }));
    }
    await anomalies.evaluateUntil(t);
    anomalies.observe(request(spans), t);
  }
}

describe('the baselines stage and alerts in event time', () => {
  it('evaluates on the grid of evaluateEvery, fires on an error burst and resolves after it', async () => {
    const anomalies = new ReplayAnomalies();
    const failFrom = T0 + 10 * 60_000;
    const failTo = failFrom + 2 * 60_000;
    await feed(anomalies, T0, failTo + 3 * 60_000, failFrom, failTo);
    await anomalies.finish(failTo + 3 * 60_000);

    const n = anomalies.notifications;
    expect(n.map((a) => a.status)).toEqual(['firing', 'resolved']);
    expect(n[0].service).toBe('checkout');
    expect(n[0].kind).toBe('error_rate');
    expect(n[0].startsAtMs).toBeGreaterThanOrEqual(failFrom);
    expect(n[0].startsAtMs).toBeLessThanOrEqual(failFrom + 60_000);
    expect(n[1].endsAtMs).toBeGreaterThan(failTo);
    for (const a of n) expect(a.atMs % EVERY_MS).toBe(0);
    // Thirteen minutes, one evaluation every five seconds.
    expect(anomalies.evaluations).toBe((failTo + 3 * 60_000 - T0) / EVERY_MS);

    const lines = alertLines(n).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(n.map((a) => JSON.parse(JSON.stringify(alertRecord(a))) as unknown));
  });

  it('resolves an incident open when the traffic stops, and skips the evaluations of a long gap', async () => {
    const anomalies = new ReplayAnomalies();
    const failFrom = T0 + 10 * 60_000;
    const stopAt = failFrom + 60_000;
    await feed(anomalies, T0, stopAt, failFrom, Infinity);
    const evaluatedBefore = anomalies.evaluations;
    expect(anomalies.notifications.map((a) => a.status)).toEqual(['firing']);

    // A day later the capture goes on, without the failures.
    const resumeAt = stopAt + 86_400_000;
    await feed(anomalies, resumeAt, resumeAt + 60_000);
    await anomalies.finish(resumeAt + 60_000);

    const n = anomalies.notifications;
    expect(n.map((a) => a.status)).toEqual(['firing', 'resolved']);
    // Resolved in the gap, within resolveAfter (1m) and the recent window (30s) of the last span, as a live engine would.
    expect(n[1].atMs).toBeGreaterThan(stopAt);
    expect(n[1].atMs).toBeLessThanOrEqual(stopAt + 30_000 + 10_000 + 60_000 + 2 * EVERY_MS);
    // Not one evaluation every five seconds for a day (17,280), only those that can change something.
    expect(anomalies.evaluations - evaluatedBefore).toBeLessThan(100);
  });

  it('links exemplars with the trace URL and sends nothing when alerts are disabled', async () => {
    const linked = new ReplayAnomalies({ traceUrl: 'http://jaeger:16686/trace/{traceId}' });
    const failFrom = T0 + 10 * 60_000;
    let n = 0;
    for (let t = T0 + 100; t <= failFrom + 60_000; t += 100) {
      const spans = [0, 1].map(() => {
        n += 1;
        return span('checkout', 'POST /pay', 40 + (n % 9) * 5, { error: t >= failFrom && n % 2 === 0, startMs: t - 60, traceId: n.toString(16).padStart(32, '0') });
      });
      await linked.evaluateUntil(t);
      linked.observe(request(spans), t);
      for (const s of spans) if (s.statusCode === 2) linked.noteKept(s.traceId, [s], t);
    }
    await linked.finish(failFrom + 60_000);
    const firing = linked.notifications.find((a) => a.status === 'firing');
    expect(firing?.exemplarTraceIds.length).toBeGreaterThan(0);
    expect(firing?.links).toEqual(firing?.exemplarTraceIds.map((id) => `http://jaeger:16686/trace/${id}`));

    const disabled = new ReplayAnomalies({ alerts: defaultAlertsConfig({ enabled: false }) });
    await feed(disabled, T0, failFrom + 60_000, failFrom);
    await disabled.finish(failFrom + 60_000);
    expect(disabled.notifications).toEqual([]);
    expect(disabled.name).toContain('alerts disabled');
  });
});
