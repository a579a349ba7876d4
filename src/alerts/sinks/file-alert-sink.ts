import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SinkError } from '../../errors.js';
import { alertLine, type AlertNotification } from '../alert-notification.js';
import type { AlertSink } from './alert-sink.js';

/**
 * The alert record as JSON Lines: one AlertRecord per notification, appended. This is the
 * format `replay --alerts FILE` writes, in event time.
 */
export class FileAlertSink implements AlertSink {
  readonly name: string;
  private handle: Promise<FileHandle> | undefined;

  constructor(private readonly path: string) {
    this.name = `file:${path}`;
  }

  async send(n: AlertNotification): Promise<void> {
    try {
      this.handle ??= mkdir(dirname(this.path), { recursive: true }).then(() => open(this.path, 'a'));
      const handle = await this.handle;
      await handle.appendFile(alertLine(n));
    } catch (err) {
      this.handle = undefined;
      throw new SinkError(this.name, `cannot append to ${this.path}: ${err instanceof Error ? err.message : String(err)}`, { retriable: true, cause: err });
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await (await handle.catch(() => undefined))?.close();
  }
}
