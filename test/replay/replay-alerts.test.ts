import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertRecord } from '../../src/alerts/alert-notification.js';
import { ANOMALY_REASON_ATTRIBUTE, ANOMALY_SCORE_ATTRIBUTE } from '../../src/baselines/anomaly-attributes.js';
import { replayCommand } from '../../src/cli/replay.js';
import { parseFaultSpec, runGenerate } from '../../src/generate/index.js';
import { POLICY_ATTRIBUTE } from '../../src/policies/decision-attributes.js';
import type { ReplaySummary } from '../../src/replay/replay-summary.js';
import { Captured, START_MS, scratch, spansOfJsonLines, writePolicy } from './replay-fixtures.js';
import type { FlatSpan } from '../generate/otlp-reader.js';

/**
 * Twelve and a half minutes of shop traffic (seed 11, 5 traces/s): an error burst on the
 * currency service (half its spans fail) from 4:00 to 5:30, and every product-catalog span
 * five times slower from 8:00 to 9:30; and the same traffic without the faults. Both are
 * replayed with the default baselines and alerts settings through an `anomaly` policy and a
 * 1 % probabilistic share.
 */
const ERRORS = { service: 'currency', kind: 'error_rate', from: 240, to: 330 };
const LATENCY = { service: 'product-catalog', kind: 'latency', from: 480, to: 570 };
const FAULTS = [`${ERRORS.service}:errors=0.5@${ERRORS.from}-${ERRORS.to}`, `${LATENCY.service}:latency=x5@${LATENCY.from}-${LATENCY.to}`];
const DURATION_SECONDS = 750;
/** Before the first fault's onset the two inputs are the same traffic: the baselines' warm-up. */
const WARM_UP_SECONDS = ERRORS.from;

const POLICIES = `decision_wait: 10s
policies:
  - { name: anomalous, type: anomaly, anomaly: { threshold: 3 } }
  - { name: baseline-share, type: probabilistic, probabilistic: { sampling_percentage: 1 } }
`;

interface Replayed {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly alerts: AlertRecord[];
  readonly kept: FlatSpan[];
  readonly summary: ReplaySummary;
  readonly report: string;
}

async function replayFile(dir: string, name: string, faults: readonly string[]): Promise<Replayed> {
  const input = join(dir, `${name}.jsonl`);
  await runGenerate({ target: `file:${input}`, scenario: 'shop', rate: 5, durationSeconds: DURATION_SECONDS, seed: 11, startMs: START_MS, faults: faults.map(parseFaultSpec) });
  const out = join(dir, `${name}.kept.jsonl`);
  const alerts = join(dir, `${name}.alerts.jsonl`);
  const summary = join(dir, `${name}.summary.json`);
  const report = join(dir, `${name}.report.html`);
  const stdout = new Captured();
  const stderr = new Captured();
  const policies = writePolicy(dir, 'anomaly.yaml', POLICIES);
  const code = await replayCommand(['--policies', policies, '--input', input, '--out', out, '--alerts', alerts, '--summary', summary, '--report', report], { stdout, stderr });
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    alerts: readFileSync(alerts, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AlertRecord),
    kept: spansOfJsonLines(out),
    summary: JSON.parse(readFileSync(summary, 'utf8')) as ReplaySummary,
    report: readFileSync(report, 'utf8'),
  };
}

const at = (seconds: number): number => START_MS + seconds * 1000;

describe('replay runs the baselines stage: anomaly policies and alerts in event time', () => {
  const { dir, cleanup } = scratch('tailsift-replay-alerts-');
  let faulted: Replayed;
  let clean: Replayed;

  beforeAll(async () => {
    faulted = await replayFile(dir, 'faulted', FAULTS);
    clean = await replayFile(dir, 'clean', []);
  }, 120_000);
  afterAll(cleanup);

  it('writes every notification as an alert record with the fields on-call needs', () => {
    expect(faulted.code).toBe(0);
    expect(faulted.stderr).toBe('');
    expect(faulted.alerts.length).toBeGreaterThan(0);
    for (const a of faulted.alerts) {
      expect(['firing', 'resolved']).toContain(a.status);
      expect(a.service).not.toBe('');
      expect(a.operation).not.toBe('');
      expect(['latency', 'error_rate']).toContain(a.kind);
      expect(a.startsAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(a.startsAt)).toBeGreaterThanOrEqual(START_MS);
      expect(Date.parse(a.startsAt)).toBeLessThanOrEqual(at(DURATION_SECONDS + 60));
      if (a.status === 'resolved') expect(Date.parse(a.endsAt ?? '')).toBeGreaterThan(Date.parse(a.startsAt));
      else expect(a.endsAt).toBeUndefined();
      expect(a.observed.spans).toBeGreaterThan(0);
      expect(a.baseline.spans).toBeGreaterThan(0);
      expect(a.summary).toContain(a.service);
    }
  });

  for (const fault of [ERRORS, LATENCY]) {
    it(`alerts on the ${fault.kind} fault of ${fault.service} within a minute of its onset, with kept exemplars, and resolves after it`, () => {
      const firing = faulted.alerts.filter((a) => a.status === 'firing' && a.service === fault.service && a.kind === fault.kind);
      expect(firing.length).toBeGreaterThan(0);
      const first = firing.reduce((a, b) => (Date.parse(a.startsAt) <= Date.parse(b.startsAt) ? a : b));
      expect(Date.parse(first.startsAt)).toBeGreaterThanOrEqual(at(fault.from));
      expect(Date.parse(first.startsAt)).toBeLessThanOrEqual(at(fault.from + 60));

      const keptIds = new Set(faulted.kept.map((s) => s.traceId));
      for (const a of firing) {
        expect(a.exemplarTraceIds.length).toBeGreaterThan(0);
        for (const id of a.exemplarTraceIds) {
          expect(keptIds.has(id), id).toBe(true);
          // An exemplar takes part in the incident: a span of the operation that failed, or that was slow.
          const own = faulted.kept.filter((s) => s.traceId === id && s.service === a.service && s.name === a.operation);
          expect(own.length, id).toBeGreaterThan(0);
          if (fault.kind === 'error_rate') expect(own.some((s) => s.statusCode === 2), id).toBe(true);
          else expect(own.some((s) => Number(s.endNs - s.startNs) / 1e6 > a.baseline.p50Ms), id).toBe(true);
        }
      }

      for (const a of firing) {
        const resolved = faulted.alerts.find((r) => r.status === 'resolved' && r.dedupKey === a.dedupKey && r.startsAt === a.startsAt);
        expect(resolved, a.summary).toBeDefined();
        expect(Date.parse(resolved?.endsAt ?? '')).toBeGreaterThan(at(fault.to));
      }
    });
  }

  it('raises nothing on the same traffic without the faults after the warm-up', () => {
    expect(clean.code).toBe(0);
    expect(clean.alerts.filter((a) => Date.parse(a.startsAt) >= at(WARM_UP_SECONDS))).toEqual([]);
    expect(clean.summary.traces.total).toBe(faulted.summary.traces.total);
  });

  it('gives kept anomalous spans their score and reason, and no other kept span', () => {
    const byPolicy = (policy: string) => faulted.kept.filter((s) => s.attributes[POLICY_ATTRIBUTE] === policy);
    const anomalous = byPolicy('anomalous');
    expect(anomalous.length).toBeGreaterThan(0);
    for (const s of anomalous) {
      expect(s.attributes[ANOMALY_SCORE_ATTRIBUTE]).toBeGreaterThanOrEqual(3);
      expect(typeof s.attributes[ANOMALY_REASON_ATTRIBUTE]).toBe('string');
      expect(s.attributes[ANOMALY_REASON_ATTRIBUTE]).not.toBe('');
    }
    // A trace's spans all carry the same anomaly.
    const reasons = new Map<string, Set<unknown>>();
    for (const s of anomalous) reasons.set(s.traceId, (reasons.get(s.traceId) ?? new Set()).add(s.attributes[ANOMALY_REASON_ATTRIBUTE]));
    for (const set of reasons.values()) expect(set.size).toBe(1);
    // During the error burst the reason names the failing operation of the faulted service.
    const inBurst = anomalous.filter((s) => s.service === ERRORS.service && s.statusCode === 2);
    expect(inBurst.length).toBeGreaterThan(0);
    expect(inBurst.some((s) => String(s.attributes[ANOMALY_REASON_ATTRIBUTE]).includes(ERRORS.service))).toBe(true);

    const shared = byPolicy('baseline-share');
    expect(shared.length).toBeGreaterThan(0);
    for (const s of shared) expect(s.attributes[ANOMALY_SCORE_ATTRIBUTE]).toBeUndefined();
  });

  it('counts the alerts in the summary and on stdout, and draws them in the report', () => {
    const firing = faulted.alerts.filter((a) => a.status === 'firing').length;
    const resolved = faulted.alerts.filter((a) => a.status === 'resolved').length;
    expect(faulted.summary.alerts).toMatchObject({ count: faulted.alerts.length, firing, resolved });
    expect(faulted.summary.alerts.source).toContain('baselines');
    expect(faulted.stdout).toContain(`alerts: ${firing} firing, ${resolved} resolved`);

    expect(faulted.report.match(/<line data-series="alert" data-status="firing"/g)?.length).toBe(firing);
    expect(faulted.report.match(/<line data-series="alert" data-status="resolved"/g)?.length).toBe(resolved);
    expect(faulted.report.match(/<circle data-series="alert-(firing|resolved)"/g)?.length).toBe(faulted.alerts.length);
    expect(faulted.report).toContain('data-table="alerts"');
    expect(faulted.report).toContain('Error-rate spike: currency');
    expect(faulted.report).not.toContain('data-state="no-alert-source"');

    expect(clean.summary.alerts).toMatchObject({ count: clean.alerts.length });
    expect(clean.report).toContain(clean.alerts.length === 0 ? 'data-state="no-alerts"' : 'data-table="alerts"');
  });
});
