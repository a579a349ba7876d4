import type { PendingCounts } from '../buffer/trace-buffer.js';
import type { EngineStats } from './engine-stats.js';

/** Counters at one moment, for rates between two status lines. */
export interface StatusSample {
  readonly atMs: number;
  readonly spansReceived: number;
}

function perPolicy(map: ReadonlyMap<string, number>): string {
  if (map.size === 0) return '';
  const parts = [...map.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  return ` [${parts.join(', ')}]`;
}

/**
 * The line `tailsift run` prints every few seconds, e.g.
 * `spans in 1200 (240/s) · pending 35 traces, 120 spans · kept 40 traces [errors 25, slow 15] · dropped 300 [...] · rejected 0 spans`.
 */
export function formatStatusLine(stats: EngineStats, pending: PendingCounts, prev: StatusSample, now: StatusSample): string {
  const seconds = Math.max(0.001, (now.atMs - prev.atMs) / 1000);
  const rate = Math.round((now.spansReceived - prev.spansReceived) / seconds);
  const kept = stats.sum(stats.tracesKept);
  const dropped = stats.sum(stats.tracesDropped);
  const rejected = stats.sum(stats.spansRejected);
  return [
    `spans in ${stats.spansReceived} (${rate}/s)`,
    `pending ${pending.traces} traces, ${pending.spans} spans`,
    `kept ${kept} traces${perPolicy(stats.tracesKept)}`,
    `dropped ${dropped} traces${perPolicy(stats.tracesDropped)}`,
    `rejected ${rejected} spans${perPolicy(stats.spansRejected)}`,
  ].join(' · ');
}
