import type { AlertNotification } from '../../src/alerts/alert-notification.js';
import type { Alerts } from '../../src/alerts/alerts.js';
import type { Baselines } from '../../src/baselines/baselines.js';
import { rngFor, runTraffic, type OperationTraffic } from '../baselines/synthetic-traffic.js';

export const chat: OperationTraffic = { service: 'llm-inference', name: 'chat', latency: { medianMs: 400, sigma: 0.4, tailShare: 0.02 }, rate: 20 };
export const search: OperationTraffic = { service: 'vector-search', name: 'POST /search', latency: { medianMs: 9, sigma: 0.6, tailShare: 0.03 }, rate: 20 };

/** Traffic in 5 s steps with an evaluation after each; kept slow chat spans become exemplars. */
export async function simulate(baselines: Baselines, alerts: readonly Alerts[], from: number, to: number, fault: ((t: number) => boolean) | undefined, seed: number, notifications: AlertNotification[]): Promise<void> {
  const rng = rngFor(seed, 'lifecycle');
  let kept = 0;
  for (let t = from; t < to; t += 5_000) {
    const ops = fault?.(t) ? [{ ...chat, slowdown: () => 5 }, search] : [chat, search];
    runTraffic(baselines, rng, ops, t, t + 5_000, (span, now) => {
      // Every fiftieth chat span's trace is kept, as a policy would keep some.
      if (span.serviceName === 'llm-inference' && ++kept % 50 === 0) {
        for (const a of alerts) a.noteKept(kept.toString(16).padStart(32, '0'), [span], now);
      }
    });
    for (const a of alerts) notifications.push(...(await a.evaluate(t + 5_000)));
  }
}

