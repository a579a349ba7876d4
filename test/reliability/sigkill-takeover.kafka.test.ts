import { afterEach, describe, expect, it } from 'vitest';
import { localServices } from '../support/services.js';
import { PipelineFixture } from '../support/pipeline-fixture.js';
import { counterTotal } from './metrics-sampler.js';
import { recordCase, settlePipeline } from './reliability-figures.js';

/**
 * An instance is SIGKILLed mid-stream: no drain, no commit, no lease release. Its partitions
 * move to the survivors after the session timeout and its claimed traces are retaken once
 * their leases (3 s here) expire, so every span still ends up kept or dropped by the policy.
 */
describe('fault: SIGKILL of an engine instance', () => {
  let fixture: PipelineFixture | undefined;

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });

  it('loses nothing when an instance is killed mid-stream and another joins', async () => {
    const { kafkaBrokers, redisUrl } = await localServices();
    fixture = await PipelineFixture.create(kafkaBrokers, redisUrl);
    const a = await fixture.startEngine(0);
    const b = await fixture.startEngine(1);
    const generating = fixture.generate({ seconds: 6, rate: 25, seed: 13 });
    await new Promise((r) => setTimeout(r, 2_500));
    const killedAt = Date.now();
    expect(await a.stop('SIGKILL')).toBe(null);
    const c = await fixture.startEngine(2);
    const summary = await generating;
    expect(summary.failedSpans).toBe(0);
    const traces = await fixture.manifest();

    const r = await settlePipeline(fixture, traces, 3, 90_000);
    const settledAfterKillMs = Date.now() - killedAt;
    const survivors = [b, c];
    let redelivered = 0;
    let leasesLost = 0;
    for (const e of survivors) {
      redelivered += await counterTotal(e.adminUrl, 'tailsift_kafka_records_redelivered_total');
      leasesLost += await counterTotal(e.adminUrl, 'tailsift_redis_leases_lost_total');
    }
    // The killed instance wrote its sink before it died; whatever it forwarded counts as kept.
    const keptByKilled = [...r.out.filesByTrace.values()].filter((files) => files.has(0)).length;
    await recordCase({
      id: 'sigkill-takeover',
      fault: 'SIGKILL of 1 of 2 engines 2.5 s into a 6 s stream; a third joins',
      spans: r.spans,
      details: {
        traces: traces.length,
        'traces forwarded by the killed instance': keptByKilled,
        'records redelivered to survivors': redelivered,
        'survivor leases lost': leasesLost,
        'kill to all kept, s': Math.round(settledAfterKillMs / 100) / 10,
      },
    }, [...a.logs, ...b.logs, ...c.logs]);

    expect(r.incomplete).toEqual([]);
    expect(r.unexpected).toEqual([]);
    expect(r.spans.lost).toBe(0);
    for (const e of survivors) expect(await e.stop()).toBe(0);
  }, 180_000);
});
