import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { AlertNotification } from '../../src/alerts/alert-notification.js';
import { Alerts } from '../../src/alerts/alerts.js';
import { defaultAlertsConfig } from '../../src/alerts/config.js';
import { RedisAlertState } from '../../src/alerts/redis/redis-alert-state.js';
import { memoryBaselines, T0 } from '../baselines/synthetic-traffic.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { simulate } from './simulate-incidents.js';
import { RecordingSink } from './notifications.js';

const MIN = 60_000;
const prefix = uniquePrefix('alerts');

async function redisUrl(): Promise<string> {
  return process.env.REDIS_URL?.trim() || (await localServices()).redisUrl;
}

afterAll(async () => {
  const admin = new Redis(await redisUrl());
  const keys = await admin.keys(`${prefix}:*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

describe('alerts across instances (Redis)', () => {
  it('one alert per incident however many instances evaluate, and a new leader continues it', async () => {
    const baselines = memoryBaselines();
    const config = defaultAlertsConfig({ sustain: '20s', resolveAfter: '1m', renotify: '1h', lease: '15s' });
    const sinks = [new RecordingSink('a'), new RecordingSink('b')];
    const states = await Promise.all([0, 1].map(async () => RedisAlertState.connect({ url: await redisUrl(), prefix, leaseMs: config.lease })));
    const instances = states.map((state, i) => new Alerts({ baselines, config, sinks: [sinks[i]], state }));
    const notifications: AlertNotification[] = [];
    const onset = T0 + 20 * MIN;
    await simulate(baselines, instances, T0, onset + 2 * MIN, (t) => t >= onset, 4, notifications);
    // The leader goes away mid-incident; the other takes the lease and carries on without a second alert.
    await instances[0].stop();
    const more: AlertNotification[] = [];
    await simulate(baselines, [instances[1]], onset + 2 * MIN, onset + 6 * MIN, (t) => t < onset + 3 * MIN, 5, more);
    await instances[1].stop();

    const all = [...notifications, ...more];
    expect(all.filter((n) => n.status === 'firing').map((n) => n.dedupKey)).toEqual(['tailsift/llm-inference/chat/latency']);
    expect(more.map((n) => n.status)).toEqual(['resolved']);
    expect(sinks[0].sent.length + sinks[1].sent.length).toBe(2);
    expect(instances[1].counters.evaluations).toBeGreaterThan(0);
  });
});
