import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/engine-process.js';
import { localServices } from '../support/services.js';
import { PipelineFixture } from '../support/pipeline-fixture.js';
import { startTestKafkaBroker, type TestKafkaBroker } from '../support/test-kafka-broker.js';
import { counterTotal } from './metrics-sampler.js';
import { recordCase, settlePipeline } from './reliability-figures.js';

// Long enough that the engine's consumer sees the broker gone, not a blip its retries hide.
const OUTAGE_MS = 6_000;

/**
 * The broker the engine consumes from goes away and comes back (its own broker: the shared one
 * on 9092 is never restarted). Traffic comes in two phases, before and after the outage, so
 * the generator's manifest lists exactly what the broker took. The consumer must reconnect,
 * every span must be kept or dropped by the policy, and the group's committed offsets must
 * end at the end of the topic, never past what the buffer holds.
 */
describe('fault: Kafka broker restart', () => {
  let broker: TestKafkaBroker;
  let fixture: PipelineFixture | undefined;

  beforeAll(async () => {
    broker = await startTestKafkaBroker({ lifetimeSeconds: 420 });
  }, 200_000);

  afterAll(async () => {
    await broker?.dispose();
  }, 120_000);

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });

  for (const [signal, seed] of [['SIGTERM', 17], ['SIGKILL', 19]] as const) {
    it(`reconnects and loses nothing across a broker ${signal}`, async () => {
      const { redisUrl } = await localServices();
      fixture = await PipelineFixture.create(broker.brokers, redisUrl);
      const engine = await fixture.startEngine(0);
      const joinsBefore = await counterTotal(engine.adminUrl, 'tailsift_kafka_group_joins_total');

      const before = await fixture.generate({ seconds: 4, rate: 20, seed, manifest: 'before.jsonl' });
      const downAt = Date.now();
      await broker.stop(signal);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await broker.start();
      const outageMs = Date.now() - downAt;
      const after = await fixture.generate({ seconds: 4, rate: 20, seed: seed + 1, manifest: 'after.jsonl' });
      expect(before.failedSpans + after.failedSpans).toBe(0);
      const traces = [...(await fixture.manifest('before.jsonl')), ...(await fixture.manifest('after.jsonl'))];

      const r = await settlePipeline(fixture, traces, 1, 90_000);
      const joins = (await counterTotal(engine.adminUrl, 'tailsift_kafka_group_joins_total')) - joinsBefore;
      const redelivered = await counterTotal(engine.adminUrl, 'tailsift_kafka_records_redelivered_total');
      const commitErrors = await counterTotal(engine.adminUrl, 'tailsift_kafka_commit_errors_total');

      // Every record the generator wrote is one the group committed, and no more: offsets end
      // at the topic's end once everything is buffered, and never beyond what was produced.
      const records = before.requests + after.requests;
      const offsets = await groupOffsets(broker.brokers, fixture.topic, fixture.groupId);
      const committed = await eventually(async () => {
        const o = await groupOffsets(broker.brokers, fixture!.topic, fixture!.groupId);
        return o.committed === o.end ? o.committed : undefined;
      }, 30_000, 'committed offsets at the end of the topic').catch(() => offsets.committed);

      await recordCase({
        id: `kafka-broker-${signal.toLowerCase()}`,
        fault: `own Kafka broker stopped with ${signal} between two 4 s phases of 20 traces/s, down ${OUTAGE_MS / 1000} s + restart`,
        spans: r.spans,
        details: {
          traces: traces.length,
          'broker down (stop to ready), s': Math.round(outageMs / 100) / 10,
          'group joins after the first': joins,
          'records redelivered': redelivered,
          'commit errors': commitErrors,
          'records produced': records,
          'offsets committed': committed,
        },
      }, engine.logs);

      expect(r.incomplete).toEqual([]);
      expect(r.unexpected).toEqual([]);
      expect(r.spans.lost).toBe(0);
      expect(offsets.end).toBe(records);
      expect(committed).toBe(records);
      expect(await engine.stop()).toBe(0);
    }, 240_000);
  }
});

/** The group's committed offsets and the topic's end offsets, each summed over partitions. */
async function groupOffsets(brokers: string, topic: string, groupId: string): Promise<{ committed: number; end: number }> {
  const admin = new Kafka({ clientId: 'reliability-offsets', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = group.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    const end = ends.reduce((n, p) => n + Number(p.high), 0);
    return { committed, end };
  } finally {
    await admin.disconnect();
  }
}
