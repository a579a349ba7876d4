import type { AlertNotification } from '../alert-notification.js';
import type { AlertSink } from './alert-sink.js';
import { postJson } from './post-json.js';

/**
 * A Slack incoming webhook: one message per notification, `text` for notifications and clients
 * without blocks, and a section block in mrkdwn with the exemplar links.
 */
export class SlackAlertSink implements AlertSink {
  readonly name = 'slack';

  constructor(private readonly options: { webhookUrl: string; timeoutMs: number }) {}

  send(n: AlertNotification): Promise<void> {
    return postJson(this.name, this.options.webhookUrl, slackMessage(n), { timeoutMs: this.options.timeoutMs });
  }

  async close(): Promise<void> {}
}

export function slackMessage(n: AlertNotification): Record<string, unknown> {
  const head = n.status === 'resolved' ? ':white_check_mark: Resolved' : n.renotification ? ':rotating_light: Still open' : ':rotating_light: Incident';
  const text = `${head}: ${n.summary}`;
  const lines = [`*${escape(head)}*: ${escape(n.summary)}`, `Started ${new Date(n.startsAtMs).toISOString()}${n.endsAtMs === undefined ? '' : `, resolved ${new Date(n.endsAtMs).toISOString()}`}`];
  if (n.links.length > 0) lines.push(`Exemplars: ${n.links.map((link, i) => `<${link}|${n.exemplarTraceIds[i] ?? `trace ${i + 1}`}>`).join(', ')}`);
  else if (n.exemplarTraceIds.length > 0) lines.push(`Exemplar traces: ${n.exemplarTraceIds.join(', ')}`);
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }] };
}

/** Slack's mrkdwn needs &, < and > escaped. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
