import { afterEach, describe, expect, it } from 'vitest';
import { localServices } from '../support/services.js';
import { PipelineFixture } from '../support/pipeline-fixture.js';

/**
 * The production pipeline on real servers: the generator produces unkeyed OTLP messages to a
 * 3-partition topic, so each trace's spans scatter over partitions and instances; engines in
 * one consumer group share one Redis buffer. The policy keeps exactly the traces its hash
 * picks, so every trace must end up either kept whole or not at all. The same pipeline under
 * faults (a killed instance, a Redis restart, ...) is in test/reliability/.
 */
describe('Kafka → Redis buffer → decide → file sinks', () => {
  let fixture: PipelineFixture | undefined;

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });

  it('one instance keeps exactly the policy\'s traces, whole', async () => {
    const { kafkaBrokers, redisUrl } = await localServices();
    fixture = await PipelineFixture.create(kafkaBrokers, redisUrl);
    const engine = await fixture.startEngine(0);
    const summary = await fixture.generate({ seconds: 3, rate: 20, seed: 11 });
    const traces = await fixture.manifest();
    expect(traces.length).toBe(summary.traces);

    const r = await fixture.settle(traces, 1, 45_000);
    expect(r.incomplete).toEqual([]);
    expect(r.unexpected).toEqual([]);
    expect(r.duplicateSpans).toBe(0);
    expect(r.expected.size).toBeGreaterThan(traces.length / 4);
    expect(await engine.stop()).toBe(0);
  }, 120_000);

  it('three instances in one group on one Redis decide each trace once', async () => {
    const { kafkaBrokers, redisUrl } = await localServices();
    fixture = await PipelineFixture.create(kafkaBrokers, redisUrl);
    const engines = [await fixture.startEngine(0), await fixture.startEngine(1), await fixture.startEngine(2)];
    await fixture.generate({ seconds: 4, rate: 25, seed: 12 });
    const traces = await fixture.manifest();

    const r = await fixture.settle(traces, 3, 60_000);
    expect(r.incomplete).toEqual([]);
    expect(r.unexpected).toEqual([]);
    // Decided once: a kept trace's spans sit in one instance's sink, each span once.
    const inSeveralSinks = [...r.out.filesByTrace.entries()].filter(([, files]) => files.size > 1).map(([id]) => id);
    expect(inSeveralSinks).toEqual([]);
    expect(r.duplicateSpans).toBe(0);
    // The work was shared: more than one instance forwarded traces.
    expect(new Set([...r.out.filesByTrace.values()].flatMap((s) => [...s])).size).toBeGreaterThan(1);
    for (const e of engines) expect(await e.stop()).toBe(0);
  }, 150_000);
});
