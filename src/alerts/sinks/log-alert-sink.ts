import type { Logger } from '../../telemetry/logger.js';
import { alertRecord, type AlertNotification } from '../alert-notification.js';
import type { AlertSink } from './alert-sink.js';

/** One log line per notification: warn while firing, info when resolved. */
export class LogAlertSink implements AlertSink {
  readonly name = 'log';

  constructor(private readonly logger: Logger) {}

  async send(n: AlertNotification): Promise<void> {
    const { summary, ...record } = alertRecord(n);
    if (n.status === 'firing') this.logger.warn({ alert: record }, `incident ${n.renotification ? 'still open' : 'opened'}: ${summary}`);
    else this.logger.info({ alert: record }, `incident resolved: ${summary}`);
  }

  async close(): Promise<void> {}
}
