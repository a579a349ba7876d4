import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { alertLines, type ReplayAlert, type ReplayAlertSource } from '../../src/replay/alert-source.js';
import { renderHtmlReport } from '../../src/replay/html-report.js';
import { buildSummary } from '../../src/replay/replay-summary.js';
import { runReplay, type ReplayOutcome } from '../../src/replay/run-replay.js';
import { KEEP_ERRORS, generateShopTraffic, scratch, writePolicy, type GeneratedInput } from './replay-fixtures.js';

/**
 * Stands in for the baselines stage at the seam: raises one alert per service the first time
 * it sees a failed span there, and records what it was shown.
 */
class FirstErrorAlerts implements ReplayAlertSource {
  readonly name = 'first-error test source';
  spansSeen = 0;
  readonly times: number[] = [];
  private readonly alerted = new Set<string>();
  private raised: ReplayAlert[] = [];

  observe(request: DecodedRequest, eventNowMs: number): void {
    this.times.push(eventNowMs);
    this.spansSeen += request.spanCount;
    for (const span of request.spans) {
      if (span.statusCode !== 2 || this.alerted.has(span.serviceName)) continue;
      this.alerted.add(span.serviceName);
      this.raised.push({ atMs: eventNowMs, service: span.serviceName, operation: span.name, kind: 'errors', summary: 'first failed span', exampleTraceIds: [span.traceId] });
    }
  }

  take(): readonly ReplayAlert[] {
    const out = this.raised;
    this.raised = [];
    return out;
  }
}

describe('the alert source seam', () => {
  const { dir, cleanup } = scratch();
  let input: GeneratedInput;
  let source: FirstErrorAlerts;
  let outcome: ReplayOutcome;

  beforeAll(async () => {
    input = await generateShopTraffic(dir, { rate: 20, durationSeconds: 10 });
    source = new FirstErrorAlerts();
    outcome = await runReplay({ policies: writePolicy(dir, 'errors.yaml', KEEP_ERRORS), inputs: [input.path], alertSource: source });
  });
  afterAll(cleanup);

  it('shows the source every span before sampling, in event time order', () => {
    expect(source.spansSeen).toBe(input.manifest.reduce((n, t) => n + t.spans, 0));
    expect(source.times).toEqual([...source.times].sort((a, b) => a - b));
  });

  it('carries its alerts into the summary, the alerts file and the report timeline', () => {
    expect(outcome.alerts.length).toBeGreaterThan(0);
    expect(outcome.alerts.map((a) => a.service)).toContain('payment');
    expect(buildSummary(outcome).alerts).toEqual({ count: outcome.alerts.length, source: 'first-error test source' });

    const lines = alertLines(outcome.alerts).trim().split('\n').map((l) => JSON.parse(l) as ReplayAlert);
    expect(lines).toEqual(outcome.alerts);

    const html = renderHtmlReport(outcome, buildSummary(outcome));
    expect(html.match(/<line data-series="alert"/g)?.length).toBe(outcome.alerts.length);
    expect(html).toContain('first failed span');
    expect(html).not.toContain('data-state="no-alert-source"');
  });
});
