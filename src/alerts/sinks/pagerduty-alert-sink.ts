import { createHash } from 'node:crypto';
import { kindTitle, type AlertNotification } from '../alert-notification.js';
import type { AlertSink } from './alert-sink.js';
import { postJson } from './post-json.js';

/** PagerDuty limits: dedup_key at most 255 characters, payload.summary at most 1024. */
const MAX_DEDUP_KEY = 255;
const MAX_SUMMARY = 1024;

/**
 * PagerDuty Events API v2 (`POST /v2/enqueue`): a `trigger` event per firing notification and
 * a `resolve` when the incident ends, both with the incident's `dedup_key`, so re-notifications
 * land on the open alert instead of opening new ones. PagerDuty answers 202 when it accepted
 * an event, 400 for a bad one (not retried), 429 and 5xx when it wants a retry.
 */
export class PagerDutyAlertSink implements AlertSink {
  readonly name = 'pagerduty';

  constructor(private readonly options: { routingKey: string; url: string; severity: 'critical' | 'error' | 'warning' | 'info'; source: string; timeoutMs: number }) {}

  send(n: AlertNotification): Promise<void> {
    return postJson(this.name, this.options.url, pagerDutyEvent(n, this.options), { timeoutMs: this.options.timeoutMs });
  }

  async close(): Promise<void> {}
}

export function pagerDutyEvent(n: AlertNotification, options: { routingKey: string; severity: string; source: string }): Record<string, unknown> {
  const dedupKey = pagerDutyDedupKey(n.dedupKey);
  if (n.status === 'resolved') return { routing_key: options.routingKey, event_action: 'resolve', dedup_key: dedupKey };
  return {
    routing_key: options.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: n.summary.length > MAX_SUMMARY ? `${n.summary.slice(0, MAX_SUMMARY - 1)}…` : n.summary,
      source: options.source,
      severity: options.severity,
      timestamp: new Date(n.startsAtMs).toISOString(),
      component: n.service,
      group: n.operation,
      class: kindTitle(n.kind),
      custom_details: { observed: n.observed, baseline: n.baseline, z: Math.round(n.z * 10) / 10, exemplar_trace_ids: n.exemplarTraceIds },
    },
    links: n.links.map((href, i) => ({ href, text: `Exemplar trace ${n.exemplarTraceIds[i] ?? i + 1}` })),
    client: 'tailsift',
  };
}

/** The incident's key, hashed when it would pass PagerDuty's length limit. */
export function pagerDutyDedupKey(key: string): string {
  if (key.length <= MAX_DEDUP_KEY) return key;
  return `tailsift/${createHash('sha256').update(key).digest('hex')}`;
}
