import type { AlertNotification } from '../../src/alerts/alert-notification.js';
import type { AlertSink } from '../../src/alerts/sinks/alert-sink.js';

export const T0 = 1_700_000_000_000;

export function notification(overrides: Partial<AlertNotification> = {}): AlertNotification {
  return {
    status: 'firing',
    dedupKey: 'tailsift/llm-inference/chat/latency',
    service: 'llm-inference',
    operation: 'chat',
    kind: 'latency',
    startsAtMs: T0,
    endsAtMs: undefined,
    observed: { spans: 540, errorRate: 0.01, p50Ms: 2100, p90Ms: 3900, p99Ms: 4800 },
    baseline: { spans: 48_000, errorRate: 0.01, p50Ms: 410, p90Ms: 600, p99Ms: 690 },
    z: 31.4,
    exemplarTraceIds: ['4bf92f3577b34da6a3ce929d0e0e4736'],
    links: ['http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736'],
    summary: 'Latency shift: llm-inference "chat" latency p50 2.1s p99 4.8s over 540 spans; baseline p50 410ms p99 690ms',
    renotification: false,
    atMs: T0 + 25_000,
    ...overrides,
  };
}

/** A sink that remembers what it was sent. */
export class RecordingSink implements AlertSink {
  readonly name: string;
  readonly sent: AlertNotification[] = [];

  constructor(name = 'recording') {
    this.name = name;
  }

  async send(n: AlertNotification): Promise<void> {
    this.sent.push(n);
  }

  async close(): Promise<void> {}
}
