import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGenerate } from '../../src/generate/index.js';
import { parseFaultSpec } from '../../src/generate/faults.js';
import { eventually, startEngine, type RunningEngine } from '../support/engine-process.js';

/**
 * The live engine learns baselines from all traffic and, when one service starts failing,
 * keeps its anomalous traces (with the anomaly attributes) and raises one alert whose
 * exemplars are kept traces. Windows are scaled down to seconds so the test stays short.
 */
describe('tailsift run: anomaly policy and alerts on live traffic', () => {
  let dir: string;
  let engine: RunningEngine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-alerts-'));
    await writeFile(
      join(dir, 'policies.yaml'),
      [
        'decision_wait: 2s',
        'decision_wait_after_root_received: 300ms',
        'policies:',
        '  - { name: unusual, type: anomaly, anomaly: { threshold: 3, min_samples: 30 } }',
        '  - { name: one-percent, type: probabilistic, probabilistic: { sampling_percentage: 1 } }',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'tailsift.yaml'),
      [
        'source: { type: otlp-http, port: 0 }',
        'policies: policies.yaml',
        'sinks: [{ type: file, path: kept.jsonl }]',
        'admin: { port: 0 }',
        'baselines: { slot: 1s, window: 2m, recent: 5s, minSamples: 30, warmup: 5s, departure: { minSpans: 5 } }',
        'alerts:',
        '  sinks: [{ type: file, path: alerts.jsonl }]',
        '  evaluateEvery: 1s',
        '  sustain: 3s',
        '  linkTemplate: "http://jaeger.example:16686/trace/{traceId}"',
        '',
      ].join('\n'),
    );
    engine = await startEngine(join(dir, 'tailsift.yaml'));
  });

  afterAll(async () => {
    if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('alerts on an error burst in one service, with kept exemplar traces', async () => {
    const summary = await runGenerate({
      target: engine.receiverUrl,
      scenario: 'shop',
      rate: 40,
      durationSeconds: 30,
      seed: 21,
      faults: [parseFaultSpec('payment:errors=0.9@15-30')],
      manifestPath: join(dir, 'manifest.jsonl'),
    });
    expect(summary.failedRequests).toBe(0);

    const alerts = await eventually(
      async () => {
        const text = await readFile(join(dir, 'alerts.jsonl'), 'utf8').catch(() => '');
        const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
        return lines.some((a) => a.status === 'firing' && a.service === 'payment') ? lines : undefined;
      },
      20_000,
      'a firing alert for payment',
    );
    const firing = alerts.find((a) => a.status === 'firing' && a.service === 'payment')!;
    expect(firing.kind).toMatch(/error/);
    const exemplars = firing.exemplarTraceIds as string[];
    expect(exemplars.length).toBeGreaterThan(0);
    expect(String((firing.links as string[])[0])).toBe(`http://jaeger.example:16686/trace/${exemplars[0]}`);

    const status = (await (await fetch(`${engine.adminUrl}/status`)).json()) as { alerts: { opened: number } };
    expect(status.alerts.opened).toBeGreaterThan(0);
    const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/tailsift_red_errors_total\{service="payment",operation="[^"]+"\} [1-9]/);

    expect(await engine.stop()).toBe(0);
    const kept = await readFile(join(dir, 'kept.jsonl'), 'utf8');
    for (const id of exemplars) expect(kept).toContain(id);
    // Kept anomalous spans say why.
    expect(kept).toContain('"tailsift.anomaly.reason"');
    expect(kept).toContain('"tailsampling.policy"');

    // Faulted traces are kept far more than the rest: anomaly-aware sampling, not luck.
    const manifest = (await readFile(join(dir, 'manifest.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { traceId: string; faults: string[]; hasError: boolean });
    const faulted = manifest.filter((t) => t.faults.length > 0 && t.hasError);
    const keptFaulted = faulted.filter((t) => kept.includes(t.traceId)).length;
    expect(faulted.length).toBeGreaterThan(10);
    expect(keptFaulted / faulted.length).toBeGreaterThan(0.5);
  }, 90_000);
});
