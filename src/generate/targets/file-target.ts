import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { LineWriter } from '../line-writer.js';
import { emptyStats, encodeSpans, type TargetStats, type TraceTarget } from './trace-target.js';

/**
 * OTLP/JSON lines: one ExportTraceServiceRequest per line, one line per export. The run's
 * clock is virtual here: lines are written as fast as they are produced.
 */
export class FileTarget implements TraceTarget {
  readonly virtualTime = true;
  readonly stats: TargetStats = emptyStats();
  readonly description: string;
  private writer: LineWriter | undefined;

  constructor(private readonly path: string) {
    this.description = `file:${path}`;
  }

  async open(): Promise<void> {
    this.writer = await LineWriter.open(this.path);
  }

  async send(spans: readonly ReadableSpan[]): Promise<void> {
    if (!this.writer) throw new Error(`${this.description} is not open`);
    const body = encodeSpans(spans, 'otlp_json');
    try {
      await this.writer.writeLine(body);
      this.stats.requests++;
      this.stats.bytes += body.length;
    } catch (err) {
      this.stats.failedRequests++;
      this.stats.failedSpans += spans.length;
      this.stats.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  async close(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    await writer?.close();
  }
}
