import type { Logger } from '../../telemetry/logger.js';
import type { AlertSinkConfig } from '../config.js';
import type { AlertSink } from './alert-sink.js';
import { AlertmanagerAlertSink } from './alertmanager-alert-sink.js';
import { FileAlertSink } from './file-alert-sink.js';
import { LogAlertSink } from './log-alert-sink.js';
import { PagerDutyAlertSink } from './pagerduty-alert-sink.js';
import { SlackAlertSink } from './slack-alert-sink.js';
import { WebhookAlertSink } from './webhook-alert-sink.js';

/** The sink a validated config entry describes. `renotifyMs` is the alerts' renotify interval. */
export function createAlertSink(config: AlertSinkConfig, options: { logger: Logger; renotifyMs: number }): AlertSink {
  switch (config.type) {
    case 'log':
      return new LogAlertSink(options.logger);
    case 'file':
      return new FileAlertSink(config.path);
    case 'webhook':
      return new WebhookAlertSink({ url: config.url, headers: config.headers, timeoutMs: config.timeout });
    case 'alertmanager':
      return new AlertmanagerAlertSink({ url: config.url, headers: config.headers, timeoutMs: config.timeout, renotifyMs: options.renotifyMs });
    case 'pagerduty':
      return new PagerDutyAlertSink({ routingKey: config.routingKey, url: config.url, severity: config.severity, source: config.source, timeoutMs: config.timeout });
    case 'slack':
      return new SlackAlertSink({ webhookUrl: config.webhookUrl, timeoutMs: config.timeout });
  }
}
