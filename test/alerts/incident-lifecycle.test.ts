import { describe, expect, it } from 'vitest';
import type { AlertNotification } from '../../src/alerts/alert-notification.js';
import type { AlertState } from '../../src/alerts/alert-state.js';
import { Alerts } from '../../src/alerts/alerts.js';
import { defaultAlertsConfig } from '../../src/alerts/config.js';
import { stepIncidents, type IncidentState } from '../../src/alerts/incident-tracker.js';
import type { Departure } from '../../src/baselines/trace-anomaly.js';
import { memoryBaselines, T0 } from '../baselines/synthetic-traffic.js';
import { simulate } from './simulate-incidents.js';
import { RecordingSink } from './notifications.js';

const MIN = 60_000;

interface Run {
  readonly notifications: AlertNotification[];
  readonly sink: RecordingSink;
}

describe('incident lifecycle', () => {
  it('opens after a sustained departure, alerts once, re-notifies, resolves once', async () => {
    const baselines = memoryBaselines();
    const sink = new RecordingSink();
    const alerts = new Alerts({
      baselines,
      sinks: [sink],
      config: defaultAlertsConfig({ sustain: '20s', resolveAfter: '1m', renotify: '2m', evaluateEvery: '5s', linkTemplate: 'http://jaeger:16686/trace/{traceId}' }),
    });
    const run: Run = { notifications: [], sink };
    const warm = T0 + 20 * MIN;
    await simulate(baselines, [alerts], T0, warm, undefined, 1, run.notifications);
    expect(run.notifications).toEqual([]);

    const onset = warm;
    const end = onset + 5 * MIN;
    await simulate(baselines, [alerts], warm, end + 5 * MIN, (t) => t >= onset && t < end, 2, run.notifications);
    await alerts.stop();

    const opened = run.notifications.filter((n) => n.status === 'firing' && !n.renotification);
    const renotified = run.notifications.filter((n) => n.status === 'firing' && n.renotification);
    const resolved = run.notifications.filter((n) => n.status === 'resolved');
    expect(opened.map((n) => n.dedupKey)).toEqual(['tailsift/llm-inference/chat/latency']);
    const first = opened[0];
    expect(first.atMs - onset).toBeLessThanOrEqual(60_000);
    expect(first.atMs - first.startsAtMs).toBeGreaterThanOrEqual(20_000);
    expect(first.observed.p50Ms).toBeGreaterThan(3 * first.baseline.p50Ms);
    expect(first.summary).toMatch(/^Latency shift: llm-inference "chat" latency p50 \S+ p99 \S+ over \d+ spans; baseline p50 \S+ p99 \S+$/);
    expect(first.exemplarTraceIds.length).toBeGreaterThan(0);
    expect(first.links[0]).toBe(`http://jaeger:16686/trace/${first.exemplarTraceIds[0]}`);
    // Every 2 minutes while open: at +2m and +4m of the open incident.
    expect(renotified.length).toBe(2);
    expect(renotified[0].atMs - first.atMs).toBe(2 * MIN);
    expect(resolved.map((n) => n.dedupKey)).toEqual(['tailsift/llm-inference/chat/latency']);
    expect(resolved[0].endsAtMs).toBeGreaterThan(end);
    expect((resolved[0].endsAtMs ?? 0) - end).toBeLessThanOrEqual(2.5 * MIN);
    expect(resolved[0].startsAtMs).toBe(first.startsAtMs);
    // The sink got exactly what evaluate reported, in order.
    expect(sink.sent.map((n) => `${n.status}${n.renotification ? '+' : ''}`)).toEqual(['firing', 'firing+', 'firing+', 'resolved']);
  });

  it('sends nothing while this instance does not hold the leader lease', async () => {
    const baselines = memoryBaselines();
    const sink = new RecordingSink();
    const follower: AlertState = {
      lead: async () => false,
      incidents: async () => new Map(),
      saveIncidents: async () => undefined,
      addExemplar: () => undefined,
      exemplars: async () => [],
      clearExemplars: async () => undefined,
      close: async () => undefined,
    };
    const alerts = new Alerts({ baselines, sinks: [sink], state: follower, config: defaultAlertsConfig({ sustain: '10s' }) });
    const notifications: AlertNotification[] = [];
    await simulate(baselines, [alerts], T0, T0 + 25 * MIN, (t) => t >= T0 + 20 * MIN, 3, notifications);
    expect(notifications).toEqual([]);
    expect(alerts.counters.evaluationsAsFollower).toBeGreaterThan(0);
    expect(alerts.counters.evaluations).toBe(0);
  });
});

describe('incident steps', () => {
  const figures = { spans: 100, errorRate: 0, p50Ms: 10, p90Ms: 20, p99Ms: 30 };
  const departure: Departure = { key: 'svc/op/latency', opId: 'abc', service: 'svc', operation: 'op', kind: 'latency', z: 8, observed: figures, baseline: figures, summary: 's' };
  const timing = { sustainMs: 20_000, resolveAfterMs: 60_000, renotifyMs: 3_600_000 };

  it('forgets a departure that did not last, without notifying', () => {
    const first = stepIncidents(new Map(), [departure], T0, timing);
    expect(first.events).toEqual([]);
    const states = new Map<string, IncidentState>(first.changed.map((s) => [s.key, s]));
    const blip = stepIncidents(states, [], T0 + 5_000, timing);
    expect(blip).toEqual({ changed: [], removed: ['svc/op/latency'], events: [] });
  });

  it('fires once the departure lasted `sustain`, not before', () => {
    let states = new Map<string, IncidentState>();
    const events: string[] = [];
    for (let t = T0; t <= T0 + 30_000; t += 5_000) {
      const step = stepIncidents(states, [departure], t, timing);
      states = new Map(states);
      for (const s of step.changed) states.set(s.key, s);
      events.push(...step.events.map((e) => `${e.type}@${t - T0}`));
    }
    expect(events).toEqual(['fire@20000']);
  });
});
