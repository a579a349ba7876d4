import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { runGenerate } from '../../src/generate/index.js';
import { emptyStats, encodeSpans, type TargetStats, type TraceTarget } from '../../src/generate/targets/trace-target.js';

/** Keeps each export as the OTLP protobuf request the generator's HTTP target would POST. */
class CaptureTarget implements TraceTarget {
  readonly description = 'memory';
  readonly virtualTime = true;
  readonly stats: TargetStats = emptyStats();
  readonly requests: Uint8Array[] = [];

  async open(): Promise<void> {}

  async send(spans: readonly ReadableSpan[]): Promise<void> {
    const bytes = encodeSpans(spans, 'otlp_proto');
    this.requests.push(bytes);
    this.stats.requests++;
    this.stats.bytes += bytes.length;
  }

  async close(): Promise<void> {}
}

/**
 * The requests the generator's bench scenario sends for `seconds` of traffic at `rate` traces
 * per second, in sending order (each service's export per tick, so a trace spans several
 * requests). Virtual time: this takes as long as making the spans, not `seconds`.
 */
export async function captureBenchRequests(rate: number, seconds: number, seed = 1): Promise<Uint8Array[]> {
  const target = new CaptureTarget();
  await runGenerate({ target, scenario: 'bench', rate, durationSeconds: seconds, seed, startMs: Date.UTC(2025, 0, 1) });
  return target.requests;
}
