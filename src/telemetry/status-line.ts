import type { PendingCounts } from '../buffer/trace-buffer.js';
import type { EngineStats } from './engine-stats.js';
import type { Throughput } from './throughput.js';

export type { StatusSample } from './throughput.js';

/** Kafka's part of the status line, when Kafka is the source. */
export interface KafkaStatus {
  /** Summed lag of this instance's partitions; undefined before the first sample. */
  readonly lag: number | undefined;
  readonly paused: boolean;
}

function perPolicy(map: ReadonlyMap<string, number>, show: (n: number) => string = String): string {
  if (map.size === 0) return '';
  const parts = [...map.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${show(v)}`);
  return ` [${parts.join(', ')}]`;
}

function percent(fraction: number): string {
  const p = fraction * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/**
 * The line `tailsift run` prints every few seconds, e.g.
 * `spans in 1200 (240/s) · pending 35 traces, 120 spans · kept 40 traces [errors 25, slow 15] · dropped 300 traces [...] · rejected 0 spans · decided 68/s, keeping 12% [errors 7.4%, slow 4.4%] · kafka lag 120`.
 * Counts are totals since start; rates and the keep rate are over the interval since the
 * previous line.
 */
export function formatStatusLine(stats: EngineStats, pending: PendingCounts, interval: Throughput, kafka?: KafkaStatus): string {
  const kept = stats.sum(stats.tracesKept);
  const dropped = stats.sum(stats.tracesDropped);
  const rejected = stats.sum(stats.spansRejected);
  const keeping = interval.keepRate === undefined ? '' : `, keeping ${percent(interval.keepRate)}${perPolicy(interval.keepRateByPolicy, percent)}`;
  const parts = [
    `spans in ${stats.spansReceived} (${Math.round(interval.spansPerSec)}/s)`,
    `pending ${pending.traces} traces, ${pending.spans} spans`,
    `kept ${kept} traces${perPolicy(stats.tracesKept)}`,
    `dropped ${dropped} traces${perPolicy(stats.tracesDropped)}`,
    `rejected ${rejected} spans${perPolicy(stats.spansRejected)}`,
    `decided ${Math.round(interval.tracesDecidedPerSec)}/s${keeping}`,
  ];
  if (kafka !== undefined) parts.push(`kafka lag ${kafka.lag === undefined ? '?' : kafka.lag}${kafka.paused ? ' (paused)' : ''}`);
  return parts.join(' · ');
}
