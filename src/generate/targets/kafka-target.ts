import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { deliverWithRetry, type RetryPolicy } from './retry.js';
import type { KafkaPublisher, KafkaRecord } from './kafka-publisher.js';
import { emptyStats, encodeSpans, type OtlpEncoding, type TargetStats, type TraceTarget } from './trace-target.js';

export interface KafkaTargetConfig {
  readonly brokers: readonly string[];
  readonly topic: string;
  /**
   * Split each export per trace and key every record by the trace id (32 hex characters), like
   * the Collector's Kafka exporter with `partition_traces_by_id`; otherwise one unkeyed record
   * per export.
   */
  readonly keyByTraceId: boolean;
  readonly encoding: OtlpEncoding;
}

/** Writes each export to a Kafka topic the way the Collector's Kafka exporter does. */
export class KafkaTarget implements TraceTarget {
  readonly virtualTime = false;
  readonly stats: TargetStats = emptyStats();
  readonly description: string;
  private connected = false;

  constructor(
    private readonly config: KafkaTargetConfig,
    private readonly publisher: KafkaPublisher,
    private readonly retry: RetryPolicy,
  ) {
    const query = [config.keyByTraceId ? 'key=trace_id' : '', `encoding=${config.encoding}`].filter(Boolean).join('&');
    this.description = `kafka://${config.brokers.join(',')}/${config.topic}?${query}`;
  }

  async open(): Promise<void> {
    await this.publisher.connect();
    this.connected = true;
  }

  async send(spans: readonly ReadableSpan[]): Promise<void> {
    const records = this.recordsFor(spans);
    const ok = await deliverWithRetry(
      () => this.publisher.publish(this.config.topic, records),
      this.retry,
      this.stats,
      spans.length,
    );
    if (ok) {
      this.stats.requests += records.length;
      for (const record of records) this.stats.bytes += record.value.length;
    }
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.publisher.disconnect();
  }

  private recordsFor(spans: readonly ReadableSpan[]): KafkaRecord[] {
    if (!this.config.keyByTraceId) {
      return [{ key: null, value: Buffer.from(encodeSpans(spans, this.config.encoding)) }];
    }
    const byTrace = new Map<string, ReadableSpan[]>();
    for (const span of spans) {
      const traceId = span.spanContext().traceId;
      const group = byTrace.get(traceId);
      if (group) group.push(span);
      else byTrace.set(traceId, [span]);
    }
    const records: KafkaRecord[] = [];
    for (const [traceId, group] of byTrace) {
      records.push({ key: traceId, value: Buffer.from(encodeSpans(group, this.config.encoding)) });
    }
    return records;
  }
}
