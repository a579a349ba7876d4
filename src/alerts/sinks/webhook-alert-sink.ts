import { alertRecord, type AlertNotification } from '../alert-notification.js';
import type { AlertSink } from './alert-sink.js';
import { postJson } from './post-json.js';

/** A generic webhook: the alert record (see AlertRecord) as the JSON body of a POST. */
export class WebhookAlertSink implements AlertSink {
  readonly name: string;

  constructor(private readonly options: { url: string; headers?: Readonly<Record<string, string>>; timeoutMs: number }) {
    this.name = `webhook:${new URL(options.url).host}`;
  }

  send(n: AlertNotification): Promise<void> {
    return postJson(this.name, this.options.url, alertRecord(n), this.options);
  }

  async close(): Promise<void> {}
}
