import type { AlertNotification } from '../alert-notification.js';

/**
 * Where notifications go. `send` resolves once the destination took the notification and
 * rejects with a SinkError whose `retriable` flag says whether trying again can help; the
 * dispatcher does the retrying, so a sink makes one attempt per call.
 */
export interface AlertSink {
  readonly name: string;
  send(notification: AlertNotification): Promise<void>;
  /** Flushes and releases resources. Idempotent. */
  close(): Promise<void>;
}
