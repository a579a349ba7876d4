import { describe, expect, it } from 'vitest';
import { QUICK_KAFKA_REDIS, benchPipelineKafkaRedis, type KafkaRedisRunResult } from '../../bench/pipeline-kafka-redis-bench.js';
import { localServices } from '../support/services.js';

/**
 * The Kafka → Redis pipeline benchmark in its quick form, for correctness only: the generator
 * in its own process produces the bench scenario to a 3-partition topic, the engine built by
 * Engine.create consumes it into the Redis buffer, decides and produces kept traces to a sink
 * topic, which is read back. Both parts run: the topic filled before the engine starts, and
 * the engine running while the generator produces. Timings are printed by the benchmark,
 * never asserted here.
 */
describe('pipeline benchmark: generator → Kafka → Redis buffer → decide → Kafka sink', () => {
  it('accounts for every span and forwards every kept trace whole, from a backlog and at pace', async () => {
    const { kafkaBrokers, redisUrl } = await localServices();
    const r = await benchPipelineKafkaRedis({ ...QUICK_KAFKA_REDIS, brokers: kafkaBrokers.split(','), redisUrl, seed: 7 });

    for (const run of [r.backlog, r.paced] as KafkaRedisRunResult[]) {
      expect(run.traces, run.mode).toBeGreaterThan(0);
      expect(run.spansSent, run.mode).toBeGreaterThan(run.traces);
      expect(run.generatorFailedSpans, run.mode).toBe(0);
      // The policy set both keeps and drops, so both paths were exercised.
      expect(run.tracesKept, run.mode).toBeGreaterThan(0);
      expect(run.tracesDropped, run.mode).toBeGreaterThan(0);
      expect(run.tracesKept + run.tracesDropped, run.mode).toBe(run.traces);
      expect(run.undecidedTraces, run.mode).toBe(0);
      expect(run.tracesLeftInRedis, run.mode).toBe(0);

      expect(run.lostSpans, run.mode).toBe(0);
      expect(run.spansKept + run.spansDropped, run.mode).toBe(run.spansSent);
      expect(run.duplicateSpans, run.mode).toBe(0);
      expect(run.keptTracesNotWhole, run.mode).toBe(0);
      expect(run.spansOfDroppedTracesInSink, run.mode).toBe(0);
      expect(run.undecodableSinkRecords, run.mode).toBe(0);
      // The buffer was watched while it held spans, so the memory figure has something to stand on.
      expect(run.highWaterSpans, run.mode).toBeGreaterThan(0);
    }
  }, 240_000);
});
