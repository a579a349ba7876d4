import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Baselines } from '../../src/baselines/baselines.js';
import { defaultBaselinesConfig } from '../../src/baselines/config.js';
import { RedisBaselineStore } from '../../src/baselines/redis/redis-baseline-store.js';
import { RedisAlertState } from '../../src/alerts/redis/redis-alert-state.js';
import type { IncidentState } from '../../src/alerts/incident-tracker.js';
import { localServices, uniquePrefix } from '../support/services.js';
import { span, T0 } from './synthetic-traffic.js';

const config = defaultBaselinesConfig({ store: { type: 'redis' }, minSamples: 10 });
const open: { close(): Promise<unknown> }[] = [];
const prefixes: string[] = [];
let admin: Redis | undefined;

async function redisUrl(): Promise<string> {
  return process.env.REDIS_URL?.trim() || (await localServices()).redisUrl;
}

async function baselinesOn(prefix: string): Promise<Baselines> {
  const store = await RedisBaselineStore.connect({ url: await redisUrl(), prefix, slotMs: config.slot, windowMs: config.window, flushIntervalMs: 2_000 });
  const baselines = new Baselines(config, store);
  open.push({ close: () => baselines.close(T0) });
  return baselines;
}

function newPrefix(): string {
  const prefix = uniquePrefix('baselines');
  prefixes.push(prefix);
  return prefix;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

afterAll(async () => {
  admin ??= new Redis(await redisUrl());
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  }
  admin.disconnect();
});

const durations = (n: number, ms: number) => Array.from({ length: n }, () => span('checkout', 'POST /pay', ms));

describe('redis baselines: several instances on one prefix', () => {
  it('each instance sees the merged counts of all', async () => {
    const prefix = newPrefix();
    const a = await baselinesOn(prefix);
    const b = await baselinesOn(prefix);
    const at = T0 + 1_000;
    a.observe(durations(150, 100), at);
    b.observe(durations(100, 300), at);
    b.observe([span('checkout', 'GET /cart', 20), span('checkout', 'GET /cart', 20, { error: true })], at);
    await a.sync(at);
    await b.sync(at);
    await a.sync(at + 500);

    // A minute later the slot is in both baselines (they leave out the recent 30 s).
    const later = T0 + 60_000;
    await a.sync(later);
    await b.sync(later);
    for (const instance of [a, b]) {
      const pay = instance.baseline('checkout', 'POST /pay', later);
      expect(pay?.spans).toBe(250);
      // 150 spans at 100 ms and 100 at 300 ms: the median is the 100 ms bucket, the p90 the 300 ms one.
      expect(pay?.p50Ms).toBeCloseTo(100, -1);
      expect(pay?.p90Ms).toBeCloseTo(300, -1);
    }
    // An operation only b saw is known to a, with its errors.
    const cart = a.baseline('checkout', 'GET /cart', later);
    expect(cart?.spans).toBe(2);
    expect(cart?.errorWeight).toBeGreaterThan(0);
  });

  it('shares baselines of latency per unit of work', async () => {
    const prefix = newPrefix();
    const a = await baselinesOn(prefix);
    const b = await baselinesOn(prefix);
    const at = T0 + 1_000;
    const chat = (ms: number, tokens: number) => span('llm-inference', 'chat', ms, { attributes: { 'gen_ai.usage.output_tokens': tokens } });
    a.observe(Array.from({ length: 30 }, () => chat(2000, 200)), at);
    b.observe(Array.from({ length: 10 }, () => chat(4000, 200)), at);
    await a.sync(at);
    await b.sync(at);
    const later = T0 + 60_000;
    await a.sync(later);
    await b.sync(later);
    for (const instance of [a, b]) {
      const perToken = instance.workBaseline('llm-inference', 'chat', 'gen_ai.usage.output_tokens', 200, later);
      expect(perToken?.spans).toBe(40);
      // 30 calls at 10 ms/token and 10 at 20 ms/token.
      expect(perToken?.p50Ms).toBeCloseTo(10, 0);
      expect(perToken?.p90Ms).toBeCloseTo(20, -1);
    }
  });

  it('an instance started later reads the whole window and starts warm', async () => {
    const prefix = newPrefix();
    const a = await baselinesOn(prefix);
    a.observe(durations(40, 50), T0 + 1_000);
    a.observe(durations(40, 50), T0 + 11_000);
    await a.sync(T0 + 12_000);
    const late = await baselinesOn(prefix);
    await late.sync(T0 + 120_000);
    expect(late.baseline('checkout', 'POST /pay', T0 + 120_000)?.spans).toBe(80);
    // The shared start time, not the late instance's own, decides the warm-up.
    expect(late.store.startedMs()).toBe(T0 + 1_000);
  });

  it('keeps counts that could not be written and writes them at the next sync', async () => {
    const prefix = newPrefix();
    const url = await redisUrl();
    const connection = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await connection.connect();
    open.push({ close: async () => connection.disconnect() });
    const store = await RedisBaselineStore.connect({ redis: connection, prefix, slotMs: config.slot, windowMs: config.window, flushIntervalMs: 2_000 });
    const baselines = new Baselines(config, store);
    baselines.observe(durations(30, 80), T0 + 1_000);
    const ended = new Promise((resolve) => connection.once('end', resolve));
    connection.disconnect();
    await ended;
    await baselines.sync(T0 + 2_000);
    expect(baselines.counters.syncFailures).toBe(1);
    await connection.connect();
    await baselines.sync(T0 + 3_000);
    const reader = await baselinesOn(prefix);
    await reader.sync(T0 + 60_000);
    expect(reader.baseline('checkout', 'POST /pay', T0 + 60_000)?.spans).toBe(30);
  });
});

describe('redis alert state', () => {
  async function stateOn(prefix: string): Promise<RedisAlertState> {
    const state = await RedisAlertState.connect({ url: await redisUrl(), prefix, leaseMs: 5_000 });
    open.push(state);
    return state;
  }

  it('gives the leader lease to one instance at a time, and to another once it is given up', async () => {
    const prefix = newPrefix();
    const a = await stateOn(prefix);
    const b = await stateOn(prefix);
    expect(await a.lead(T0)).toBe(true);
    expect(await b.lead(T0)).toBe(false);
    expect(await a.lead(T0)).toBe(true);
    await a.close();
    expect(await b.lead(T0)).toBe(true);
  });

  it('shares incident states and exemplars', async () => {
    const prefix = newPrefix();
    const a = await stateOn(prefix);
    const b = await stateOn(prefix);
    const figures = { spans: 100, errorRate: 0.01, p50Ms: 100, p90Ms: 150, p99Ms: 200 };
    const state: IncidentState = {
      key: 'checkout/POST /pay/latency',
      service: 'checkout',
      operation: 'POST /pay',
      kind: 'latency',
      status: 'firing',
      sinceMs: T0,
      lastDepartedMs: T0 + 30_000,
      notifiedMs: T0 + 20_000,
      observed: figures,
      baseline: figures,
      z: 9,
      summary: 's',
    };
    await a.saveIncidents([state], []);
    expect([...(await b.incidents()).values()]).toEqual([state]);
    a.addExemplar(state.key, 'aa'.repeat(16));
    a.addExemplar(state.key, 'bb'.repeat(16));
    for (let i = 0; i < 50 && (await b.exemplars(state.key, 5)).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await b.exemplars(state.key, 5)).toEqual(['bb'.repeat(16), 'aa'.repeat(16)]);
    await b.saveIncidents([], [state.key]);
    expect((await a.incidents()).size).toBe(0);
  });
});
