import { afterEach, describe, expect, it } from 'vitest';
import { localServices } from '../support/services.js';
import { PipelineFixture } from '../support/pipeline-fixture.js';
import { startTestRedisServer, type TestRedisServer } from '../buffer/redis-test-server.js';
import { counterTotal, MetricsSampler } from './metrics-sampler.js';
import { recordCase, settlePipeline } from './reliability-figures.js';

/**
 * The buffer's Redis (its own server, AOF on, never the shared one) goes away for a few
 * seconds while spans keep arriving on Kafka. The engine cannot buffer, so it must pause
 * intake and not commit offsets; once Redis is back (with its data, from the AOF) intake
 * resumes and every span is accounted for.
 */
describe('fault: Redis restart while traffic flows', () => {
  let fixture: PipelineFixture | undefined;
  let redis: TestRedisServer | undefined;

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
    await redis?.dispose();
    redis = undefined;
  });

  it('holds intake while Redis restarts and loses nothing (AOF on)', async () => {
    const { kafkaBrokers } = await localServices();
    redis = await startTestRedisServer({ aof: true, lifetimeSeconds: 170 });
    fixture = await PipelineFixture.create(kafkaBrokers, redis.url);
    const engine = await fixture.startEngine(0);
    const sampler = new MetricsSampler(engine.adminUrl, 250).start();
    const generating = fixture.generate({ seconds: 7, rate: 20, seed: 14 });
    await new Promise((r) => setTimeout(r, 2_000));
    const downAt = Date.now();
    await redis.stop();
    // Kafka keeps receiving; the engine cannot buffer, so it must not commit offsets.
    await new Promise((r) => setTimeout(r, 3_000));
    await redis.start();
    const outageMs = Date.now() - downAt;
    const summary = await generating;
    expect(summary.failedSpans).toBe(0);
    const traces = await fixture.manifest();

    const r = await settlePipeline(fixture, traces, 1, 60_000);
    await sampler.stop();
    const pausedMs = engine.logs
      .filter((l) => l.msg === 'consumption resumed')
      .reduce((n, l) => n + Number(l.pausedMs ?? 0), 0);
    const refusals = await counterTotal(engine.adminUrl, 'tailsift_kafka_intake_refusals_total');
    await recordCase({
      id: 'redis-restart',
      fault: 'buffer Redis (AOF) stopped for ~3 s while 20 traces/s flow',
      spans: r.spans,
      details: {
        traces: traces.length,
        'outage, s': Math.round(outageMs / 100) / 10,
        'intake paused for, s': Math.round(pausedMs / 100) / 10,
        'intake refusals': refusals,
        'warnings logged': engine.logs.filter((l) => Number(l.level) >= 40).length,
        'buffer unreachable in scrapes, s': Math.round(sampler.timeWhere('tailsift_buffer_reachable', (v) => v === 0) / 100) / 10,
      },
    }, engine.logs);

    expect(r.incomplete).toEqual([]);
    expect(r.unexpected).toEqual([]);
    expect(r.spans.lost).toBe(0);
    // The outage was seen and survived, not skipped past.
    expect(engine.logs.some((l) => Number(l.level) >= 40)).toBe(true);
    expect(await engine.stop()).toBe(0);
  }, 180_000);
});
