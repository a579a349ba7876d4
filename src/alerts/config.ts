import { z } from 'zod';
import { durationMs, withDefault } from '../config/schema-fields.js';

/**
 * The `alerts` section of the engine config: when a departure becomes an incident, how often
 * it is re-notified, when it resolves, and where notifications go. Every key is optional.
 */

const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL' },
);

const headers = z.record(z.string(), z.string()).optional().describe('Extra request headers, e.g. an API key. Default: none.');
const timeout = withDefault(durationMs, '10s', 'Time allowed for one request (Go duration; milliseconds once validated).');

const logSink = z.strictObject({
  type: z.literal('log').describe('One log line per notification (warn when firing, info when resolved).'),
});

const fileSink = z.strictObject({
  type: z.literal('file').describe('Append one JSON object per notification to a JSON Lines file (the format of `replay --alerts`).'),
  path: withDefault(z.string().min(1), 'data/alerts.jsonl', 'File to append to.'),
});

const webhookSink = z.strictObject({
  type: z.literal('webhook').describe('POST each notification as a JSON object (the file sink\'s record) to a URL.'),
  url: httpUrl.describe('Where to POST. Required.'),
  headers,
  timeout,
});

const alertmanagerSink = z.strictObject({
  type: z.literal('alertmanager').describe('Prometheus Alertmanager: POST `/api/v2/alerts` with labels, annotations, startsAt and endsAt.'),
  url: withDefault(httpUrl, 'http://127.0.0.1:9093', 'Alertmanager base URL; `/api/v2/alerts` is appended.'),
  headers,
  timeout,
});

const pagerdutySink = z.strictObject({
  type: z.literal('pagerduty').describe('PagerDuty Events API v2: a trigger per firing notification, a resolve when the incident ends, one dedup_key per incident.'),
  routingKey: z.string().min(1).describe('Integration key of the PagerDuty service (Events API v2). Required.'),
  url: withDefault(httpUrl, 'https://events.pagerduty.com/v2/enqueue', 'Events API endpoint.'),
  severity: withDefault(z.enum(['critical', 'error', 'warning', 'info']), 'error', 'payload.severity of triggers.'),
  source: withDefault(z.string().min(1), 'tailsift', 'payload.source of triggers.'),
  timeout,
});

const slackSink = z.strictObject({
  type: z.literal('slack').describe('A Slack incoming webhook: one message per notification.'),
  webhookUrl: httpUrl.describe('The incoming webhook URL Slack gave. Required.'),
  timeout,
});

export const alertSinkSchema = z.discriminatedUnion('type', [logSink, fileSink, webhookSink, alertmanagerSink, pagerdutySink, slackSink]);

const retrySchema = z
  .strictObject({
    initial: withDefault(durationMs, '500ms', 'Delay before the first retry (Go duration; milliseconds once validated).'),
    max: withDefault(durationMs, '30s', 'Longest delay between retries (Go duration; milliseconds once validated).'),
    maxElapsed: withDefault(durationMs, '5m', 'Time after the first attempt past which a notification is given up (Go duration; milliseconds once validated).'),
  })
  .prefault({})
  .describe('Retries of a failed notification, with exponential backoff and jitter; Retry-After is honoured. Default: each key at its default.');

export const alertsConfigSchema = z
  .strictObject({
    enabled: withDefault(z.boolean(), true, 'Evaluate incidents and send notifications.'),
    sinks: z.array(alertSinkSchema).prefault([{ type: 'log' }]).describe('Where notifications go. Default: `[{ type: log }]`.'),
    linkTemplate: z
      .string()
      .refine((t) => t.includes('{traceId}'), { message: 'must contain {traceId}, e.g. "http://jaeger:16686/trace/{traceId}"' })
      .optional()
      .describe('Link to an exemplar trace in the trace store, `{traceId}` replaced, e.g. "http://jaeger:16686/trace/{traceId}". Default: none.'),
    evaluateEvery: withDefault(durationMs, '5s', 'How often departures are checked for incidents (Go duration; milliseconds once validated).'),
    sustain: withDefault(durationMs, '20s', 'How long an operation must keep departing from its baseline before an incident opens (Go duration; milliseconds once validated).'),
    resolveAfter: withDefault(durationMs, '1m', 'How long an operation must be back to normal before its incident resolves (Go duration; milliseconds once validated).'),
    renotify: withDefault(durationMs, '1h', 'How often an open incident is notified again (Go duration; milliseconds once validated).'),
    exemplars: withDefault(z.number().int().min(0).max(100), 5, 'Trace ids of kept traces named in a notification, most recent first.'),
    queueSize: withDefault(z.number().int().min(1), 100, 'Notifications waiting per sink; past it new ones are dropped and counted (newer news of one incident replaces older).'),
    lease: withDefault(durationMs, '15s', 'With Redis baselines: how long the instance that evaluates incidents holds the leader lease; renewed at every evaluation (Go duration; milliseconds once validated).'),
    retry: retrySchema,
  })
  .prefault({});

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertSinkConfig = z.output<typeof alertSinkSchema>;

/** Cross-field rules, with the fix in the message. */
export function alertsConfigProblems(config: AlertsConfig): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (config.lease <= config.evaluateEvery) {
    problems.push({ path: ['lease'], message: `lease (${config.lease}ms) must be longer than evaluateEvery (${config.evaluateEvery}ms), or the leader loses it between evaluations; raise lease` });
  }
  if (config.renotify < config.evaluateEvery) {
    problems.push({ path: ['renotify'], message: `renotify (${config.renotify}ms) is shorter than evaluateEvery (${config.evaluateEvery}ms); raise renotify` });
  }
  return problems;
}

export function defaultAlertsConfig(overrides: Record<string, unknown> = {}): AlertsConfig {
  return alertsConfigSchema.parse(overrides);
}
