import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { eventually, startEngine, type RunningEngine } from '../support/engine-process.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';

/**
 * A running engine follows edits of its policy file: a valid edit takes effect for traces
 * decided after it; a broken one is logged with its problems and the policies before stay.
 */
describe('policy hot reload in a running engine', () => {
  let dir: string;
  let engine: RunningEngine;
  const policyPath = () => join(dir, 'policies.yaml');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tailsift-reload-'));
    // Keeps nothing that is not slow: the SDK spans below are fast.
    await writeFile(policyPath(), 'decision_wait: 300ms\npolicies:\n  - { name: slow, type: latency, latency: { threshold_ms: 60000 } }\n');
    await writeFile(
      join(dir, 'tailsift.yaml'),
      'source: { type: otlp-http, port: 0 }\npolicies: policies.yaml\nsinks: [{ type: file, path: kept.jsonl }]\nadmin: { port: 0 }\n',
    );
    engine = await startEngine(join(dir, 'tailsift.yaml'));
  });

  afterAll(async () => {
    if (engine && engine.child.exitCode === null) await engine.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  async function send(): Promise<string[]> {
    const spans = makeSdkSpans({ traces: 1, spansPerTrace: 2 });
    const res = await fetch(`${engine.receiverUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: ProtobufTraceSerializer.serializeRequest(spans),
    });
    expect(res.status).toBe(200);
    return [spans[0].spanContext().traceId];
  }

  async function keptTraceIds(): Promise<Set<string>> {
    const text = await readFile(join(dir, 'kept.jsonl'), 'utf8').catch(() => '');
    return new Set([...text.matchAll(/"traceId":"([0-9a-f]{32})"/g)].map((m) => m[1]));
  }

  async function decided(n: number): Promise<void> {
    await eventually(async () => {
      const status = (await (await fetch(`${engine.adminUrl}/status`)).json()) as { traces: { kept: Record<string, number>; dropped: Record<string, number> } };
      const total = [...Object.values(status.traces.kept), ...Object.values(status.traces.dropped)].reduce((a, b) => a + b, 0);
      return total >= n ? true : undefined;
    }, 10_000, `${n} decided traces`);
  }

  async function reloadMetric(result: 'ok' | 'failed'): Promise<number> {
    const text = await (await fetch(`${engine.adminUrl}/metrics`)).text();
    const m = text.match(new RegExp(`tailsift_policy_reloads_total\\{result="${result}"\\} (\\d+)`));
    return m ? Number(m[1]) : 0;
  }

  it('applies a valid edit, and keeps the policies when an edit is broken', async () => {
    const [first] = await send();
    await decided(1);
    expect((await keptTraceIds()).has(first)).toBe(false);

    await writeFile(policyPath(), 'decision_wait: 300ms\npolicies:\n  - { name: everything, type: always_sample }\n');
    await eventually(async () => ((await reloadMetric('ok')) >= 1 ? true : undefined), 10_000, 'a reload');
    const [second] = await send();
    await decided(2);
    await eventually(async () => ((await keptTraceIds()).has(second) ? true : undefined), 10_000, 'the second trace kept');

    await writeFile(policyPath(), 'decision_wait: 300ms\npolicies:\n  - { name: everything, type: always_sampel }\n');
    await eventually(async () => ((await reloadMetric('failed')) >= 1 ? true : undefined), 10_000, 'a failed reload');
    expect(engine.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('unknown type "always_sampel"'))).toBe(true);
    const [third] = await send();
    await decided(3);
    await eventually(async () => ((await keptTraceIds()).has(third) ? true : undefined), 10_000, 'the third trace kept by the policies before');
    expect(await engine.stop()).toBe(0);
  });
});
