import { describe, expect, it, vi } from 'vitest';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { formatStatusLine } from '../../src/telemetry/status-line.js';
import { RecentThroughput, sampleOf, throughputBetween } from '../../src/telemetry/throughput.js';

function statsWith(received: number, kept: Record<string, number>, dropped: Record<string, number>): EngineStats {
  const stats = new EngineStats();
  stats.spansReceived = received;
  for (const [k, v] of Object.entries(kept)) stats.count(stats.tracesKept, k, v);
  for (const [k, v] of Object.entries(dropped)) stats.count(stats.tracesDropped, k, v);
  return stats;
}

describe('throughputBetween', () => {
  it('gives rates and the keep rate per policy over the period only', () => {
    const before = sampleOf(statsWith(1000, { errors: 10 }, { [EngineStats.NO_MATCH]: 90 }), 0);
    const after = sampleOf(statsWith(3000, { errors: 30, slow: 10 }, { [EngineStats.NO_MATCH]: 160 }), 10_000);
    const t = throughputBetween(before, after);
    expect(t.spansPerSec).toBe(200);
    expect(t.tracesDecidedPerSec).toBe(10);
    expect(t.keepRate).toBe(0.3);
    expect(Object.fromEntries(t.keepRateByPolicy)).toEqual({ errors: 0.2, slow: 0.1 });
  });

  it('has no keep rate when nothing was decided', () => {
    const s = sampleOf(statsWith(5, {}, {}), 0);
    const t = throughputBetween(s, { ...s, atMs: 5_000 });
    expect(t.keepRate).toBeUndefined();
    expect(t.tracesDecidedPerSec).toBe(0);
  });
});

describe('formatStatusLine', () => {
  const stats = statsWith(12480, { errors: 51, slow: 31 }, { [EngineStats.NO_MATCH]: 1290, 'drop-health': 21 });
  stats.count(stats.spansRejected, 'buffer_full', 40);
  const interval = throughputBetween(
    sampleOf(statsWith(0, {}, {}), 0),
    sampleOf(statsWith(2500, { errors: 8, slow: 2 }, { [EngineStats.NO_MATCH]: 90 }), 5_000),
  );

  it('shows totals, the rates of the interval and the keep rate per policy', () => {
    expect(formatStatusLine(stats, { traces: 212, spans: 1690 }, interval)).toBe(
      'spans in 12480 (500/s) · pending 212 traces, 1690 spans · kept 82 traces [errors 51, slow 31] · dropped 1311 traces [(no policy matched) 1290, drop-health 21] · rejected 40 spans [buffer_full 40] · decided 20/s, keeping 10% [errors 8.0%, slow 2.0%]',
    );
  });

  it('adds the Kafka lag, and says when consumption is paused', () => {
    expect(formatStatusLine(stats, { traces: 0, spans: 0 }, interval, { lag: 1234, paused: true })).toMatch(/ · kafka lag 1234 \(paused\)$/);
    expect(formatStatusLine(stats, { traces: 0, spans: 0 }, interval, { lag: undefined, paused: false })).toMatch(/ · kafka lag \?$/);
  });
});

describe('RecentThroughput', () => {
  it('measures from the oldest sample inside its window', () => {
    const stats = new EngineStats();
    let now = 0;
    const recent = new RecentThroughput(stats, { now: () => now }, { windowMs: 60_000, stepMs: 3_600_000 });
    expect(recent.current()).toBeUndefined();
    recent.start();
    try {
      now = 10_000;
      stats.spansReceived = 1_000;
      expect(recent.current()?.spansPerSec).toBe(100);
    } finally {
      recent.stop();
    }
  });

  it('forgets what happened before its window', () => {
    vi.useFakeTimers();
    const stats = new EngineStats();
    let now = 0;
    const recent = new RecentThroughput(stats, { now: () => now }, { windowMs: 10_000, stepMs: 5_000 });
    try {
      recent.start();
      stats.spansReceived = 10_000; // a burst at the start
      for (let step = 1; step <= 6; step++) {
        now = step * 5_000;
        vi.advanceTimersByTime(5_000);
      }
      // 30 s later, the burst is out of the 10 s window: nothing came in since.
      expect(recent.current()?.spansPerSec).toBe(0);
      stats.spansReceived = 11_000;
      expect(recent.current()?.spansPerSec).toBe(100);
    } finally {
      recent.stop();
      vi.useRealTimers();
    }
  });
});
