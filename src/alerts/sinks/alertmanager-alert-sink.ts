import { formatDuration, formatRate } from '../../baselines/anomaly-reasons.js';
import { kindTitle, type AlertNotification } from '../alert-notification.js';
import type { AlertSink } from './alert-sink.js';
import { postJson } from './post-json.js';

/**
 * Prometheus Alertmanager (API v2): `POST /api/v2/alerts` with a list of postable alerts, each
 * with `labels` (which identify the alert and deduplicate it), `annotations`, `startsAt`,
 * `endsAt` (RFC 3339) and `generatorURL`.
 *
 * Alertmanager expects clients to re-send active alerts, and ends one by itself at its
 * `endsAt`: a firing alert is sent with `endsAt` two renotify intervals ahead, so it stays
 * active until the next notification is due; a resolved one carries the time it resolved.
 */
export class AlertmanagerAlertSink implements AlertSink {
  readonly name: string;
  private readonly endpoint: string;

  constructor(private readonly options: { url: string; headers?: Readonly<Record<string, string>>; timeoutMs: number; renotifyMs: number }) {
    this.endpoint = `${options.url.replace(/\/+$/, '')}/api/v2/alerts`;
    this.name = `alertmanager:${new URL(options.url).host}`;
  }

  send(n: AlertNotification): Promise<void> {
    return postJson(this.name, this.endpoint, [postableAlert(n, this.options.renotifyMs)], this.options);
  }

  async close(): Promise<void> {}
}

export function postableAlert(n: AlertNotification, renotifyMs: number): Record<string, unknown> {
  const endsAtMs = n.status === 'resolved' ? (n.endsAtMs ?? n.atMs) : n.atMs + 2 * renotifyMs;
  const annotations: Record<string, string> = {
    summary: n.summary,
    description: `${kindTitle(n.kind)} on ${n.service} ${JSON.stringify(n.operation)}: ${describeFigures(n)}`,
    observed: JSON.stringify(n.observed),
    baseline: JSON.stringify(n.baseline),
  };
  if (n.exemplarTraceIds.length > 0) annotations.exemplar_trace_ids = n.exemplarTraceIds.join(',');
  if (n.links.length > 0) annotations.exemplar_links = n.links.join(' ');
  const alert: Record<string, unknown> = {
    labels: {
      alertname: n.kind === 'latency' ? 'TailsiftLatencyShift' : 'TailsiftErrorRateSpike',
      service: n.service,
      operation: n.operation,
      kind: n.kind,
      source: 'tailsift',
    },
    annotations,
    startsAt: new Date(n.startsAtMs).toISOString(),
    endsAt: new Date(endsAtMs).toISOString(),
  };
  if (n.links.length > 0) alert.generatorURL = n.links[0];
  return alert;
}

function describeFigures(n: AlertNotification): string {
  if (n.kind === 'latency') {
    return `p50 ${formatDuration(n.observed.p50Ms)} (baseline ${formatDuration(n.baseline.p50Ms)}), p99 ${formatDuration(n.observed.p99Ms)} (baseline ${formatDuration(n.baseline.p99Ms)})`;
  }
  return `error rate ${formatRate(n.observed.errorRate)} (baseline ${formatRate(n.baseline.errorRate)})`;
}
