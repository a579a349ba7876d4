import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/engine-process.js';
import { PipelineFixture } from '../support/pipeline-fixture.js';
import { localServices } from '../support/services.js';
import { startTestKafkaBroker, type TestKafkaBroker } from '../support/test-kafka-broker.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

// A broker of this file's own whose SSL listener requires a client certificate (mutual TLS);
// topics are set up through its PLAINTEXT listener, the engine talks TLS only.
describe('Kafka TLS against a real broker', () => {
  let pki: TestPki;
  let broker: TestKafkaBroker;
  let redisUrl: string;
  const fixtures: PipelineFixture[] = [];

  beforeAll(async () => {
    redisUrl = (await localServices()).redisUrl;
    pki = await makeTestPki('tailsift-kafka-tls-');
    broker = await startTestKafkaBroker({ lifetimeSeconds: 300, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca } });
  }, 240_000);

  afterAll(async () => {
    for (const f of fixtures) await f.dispose();
    await broker?.dispose();
    await pki?.dispose();
  }, 60_000);

  it('consumes over TLS with the CA file and a client certificate, and keeps the policy\'s traces', async () => {
    const fixture = await PipelineFixture.create(broker.brokers, redisUrl);
    fixtures.push(fixture);
    const engine = await fixture.startEngine(0, redisUrl, {
      brokers: broker.tlsBrokers,
      source: `tls: { ca: ${JSON.stringify(pki.ca)}, cert: ${JSON.stringify(pki.clientCert)}, key: ${JSON.stringify(pki.clientKey)} }`,
    });
    await fixture.generate({ seconds: 3, rate: 10, seed: 41 });
    const traces = await fixture.manifest();
    const r = await fixture.settle(traces, 1, 60_000);
    expect(r.incomplete).toEqual([]);
    expect(r.unexpected).toEqual([]);
    expect(r.expected.size).toBeGreaterThan(0);
    expect(await engine.stop()).toBe(0);
  }, 120_000);

  it('does not take a broker certificate signed by a CA it was not given, and says why', async () => {
    const fixture = await PipelineFixture.create(broker.brokers, redisUrl);
    fixtures.push(fixture);
    const outcome = await fixture
      .startEngine(0, redisUrl, {
        brokers: broker.tlsBrokers,
        source: `tls: { ca: ${JSON.stringify(pki.otherCa)}, cert: ${JSON.stringify(pki.clientCert)}, key: ${JSON.stringify(pki.clientKey)} }`,
      })
      .then(
        async (engine) => {
          const text = await eventually(() => (/certificate/i.test(engine.stderr()) ? engine.stderr() : undefined), 60_000, 'a certificate error');
          await engine.stop('SIGKILL');
          return text;
        },
        (err: Error) => err.message,
      );
    expect(outcome).toMatch(/certificate/i);
  }, 120_000);
});
