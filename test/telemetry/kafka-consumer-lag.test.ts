import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KafkaLagSampler, type LagAdmin } from '../../src/telemetry/kafka-consumer-lag.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** An admin client answering from fixed offsets, or failing while `down`. */
function fakeAdmin(state: { down: boolean; committed: Record<number, string> }): LagAdmin & { connects: number } {
  const admin = {
    connects: 0,
    async connect() {
      admin.connects++;
      if (state.down) throw new Error('broker unreachable');
    },
    async disconnect() {},
    async fetchTopicOffsets() {
      if (state.down) throw new Error('broker unreachable');
      return [
        { partition: 0, high: '100', low: '0' },
        { partition: 1, high: '50', low: '40' },
        { partition: 2, high: '7', low: '7' },
      ];
    },
    async fetchOffsets() {
      return [{ topic: 't', partitions: Object.entries(state.committed).map(([p, offset]) => ({ partition: Number(p), offset })) }];
    },
  };
  return admin;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ destination }), lines };
}

describe('KafkaLagSampler', () => {
  it('counts from the committed offset, or from the oldest record when the group never committed', async () => {
    const state = { down: false, committed: { 0: '90', 1: '-1', 2: '-1' } as Record<number, string> };
    const sampler = new KafkaLagSampler({ brokers: ['x:1'], topic: 't', groupId: 'g', logger: capture().logger, admin: fakeAdmin(state) });
    const sample = await sampler.sample();
    expect(Object.fromEntries(sample.partitions)).toEqual({ 0: 10, 1: 10, 2: 0 });
    expect(sample.total).toBe(20);
  });

  it('forgets a sample too old to trust', async () => {
    const sampler = new KafkaLagSampler({ brokers: ['x:1'], topic: 't', groupId: 'g', logger: capture().logger, intervalMs: 1_000, admin: fakeAdmin({ down: false, committed: {} }) });
    const sample = await sampler.sample();
    expect(sampler.latest(sample.atMs + 2_000)).toBe(sample);
    expect(sampler.latest(sample.atMs + 3_001)).toBeUndefined();
  });

  it('logs one line per run of failures and one when it recovers, reconnecting as needed', async () => {
    const state = { down: true, committed: { 0: '100' } as Record<number, string> };
    const admin = fakeAdmin(state);
    const { logger, lines } = capture();
    const sampler = new KafkaLagSampler({ brokers: ['x:1'], topic: 't', groupId: 'g', logger, intervalMs: 20, admin });
    sampler.start();
    try {
      await waitFor(() => admin.connects >= 3);
      expect(lines.filter((l) => String(l.msg).startsWith('cannot read Kafka consumer lag'))).toHaveLength(1);
      expect(sampler.latest()).toBeUndefined();
      state.down = false;
      await waitFor(() => sampler.latest() !== undefined);
      expect(lines.filter((l) => String(l.msg).startsWith('Kafka consumer lag can be read again'))).toHaveLength(1);
    } finally {
      await sampler.stop();
    }
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error('condition not reached');
}
