import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import type { AlertNotification } from '../../src/alerts/alert-notification.js';
import { defaultAlertsConfig } from '../../src/alerts/config.js';
import { defaultBaselinesConfig } from '../../src/baselines/config.js';
import { renderHtmlReport } from '../../src/replay/html-report.js';
import { buildSummary } from '../../src/replay/replay-summary.js';
import { runReplay } from '../../src/replay/run-replay.js';
import { START_MS, generateShopTraffic, scratch, writePolicy } from './replay-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

/** What the test reads of an SVG element in the page (the DOM types are not in this project's lib). */
interface SvgGraphic {
  getBBox(): { height: number };
}
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const TRACE_URL = 'http://jaeger.example:16686/trace/{traceId}';

const HOSTILE_SERVICE = '<script>window.__injected = 1</script>';
const HOSTILE_NAME = '"><img src=x onerror="window.__injected = 2">';
const HOSTILE_TRACE = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';

/** A failed request whose service and span names are markup, as a hostile or careless client could send. */
function hostileLine(): string {
  const ns = (ms: number): string => (BigInt(START_MS + ms) * 1_000_000n).toString();
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: HOSTILE_SERVICE } }] },
        scopeSpans: [
          {
            scope: { name: 'x' },
            spans: [
              {
                traceId: HOSTILE_TRACE,
                spanId: 'eeeeeeeeeeeeeeee',
                name: HOSTILE_NAME,
                kind: 2,
                startTimeUnixNano: ns(500),
                endTimeUnixNano: ns(900),
                attributes: [{ key: 'test.flag', value: { stringValue: 'hostile' } }],
                status: { code: 2 },
              },
            ],
          },
        ],
      },
    ],
  });
}

const POLICIES = `decision_wait: 10s
decision_wait_after_root_received: 2s
policies:
  - { name: flagged, type: string_attribute, string_attribute: { key: test.flag, values: [hostile] } }
  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: slow, type: latency, latency: { threshold_ms: 150 } }
  - { name: baseline, type: probabilistic, probabilistic: { sampling_percentage: 10 } }
`;

/**
 * Baselines and alerts scaled down to seconds, so twenty seconds of traffic are enough for an
 * incident: the currency service fails half its calls from 8 s to 13 s.
 */
const FAULTS = ['payment:errors=0.5@2-8', 'currency:errors=0.5@8-13'];
const FAST_ANOMALIES = {
  baselines: defaultBaselinesConfig({ slot: '1s', recent: '2s', window: '1m', halfLife: '30s', minSamples: 50, departure: { minSpans: 10 } }),
  alerts: defaultAlertsConfig({ evaluateEvery: '1s', sustain: '2s', resolveAfter: '2s', lease: '5s' }),
};

/** An alert about the hostile service, as if its markup had made it into an incident. */
function hostileAlert(atMs: number): AlertNotification {
  const figures = { spans: 40, errorRate: 0.5, p50Ms: 10, p90Ms: 20, p99Ms: 30 };
  return {
    status: 'firing',
    dedupKey: `tailsift/${HOSTILE_SERVICE}/${HOSTILE_NAME}/error_rate`,
    service: HOSTILE_SERVICE,
    operation: HOSTILE_NAME,
    kind: 'error_rate',
    startsAtMs: atMs - 2_000,
    endsAtMs: undefined,
    observed: figures,
    baseline: { ...figures, errorRate: 0.01 },
    z: 9,
    exemplarTraceIds: [HOSTILE_TRACE],
    links: [],
    summary: `Error-rate spike: ${HOSTILE_SERVICE} ${HOSTILE_NAME} error rate 50%`,
    renotification: false,
    atMs,
  };
}

const CANDIDATE = `decision_wait: 10s
policies:
  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: baseline, type: probabilistic, probabilistic: { sampling_percentage: 2 } }
`;

describe('HTML report', () => {
  const { dir, cleanup } = scratch();
  let html: string;
  let reportPath: string;
  let realAlerts: readonly AlertNotification[];

  beforeAll(async () => {
    const input = await generateShopTraffic(dir, { rate: 30, durationSeconds: 20, faults: FAULTS });
    const hostile = join(dir, 'zz-hostile.jsonl');
    writeFileSync(hostile, `${hostileLine()}\n`);
    const outcome = await runReplay({
      policies: writePolicy(dir, 'current.yaml', POLICIES),
      compare: writePolicy(dir, 'candidate.yaml', CANDIDATE),
      inputs: [input.path, hostile],
      anomalies: FAST_ANOMALIES,
    });
    realAlerts = outcome.alerts;
    const withHostile = { ...outcome, alerts: [...outcome.alerts, hostileAlert(START_MS + 19_000)] };
    html = renderHtmlReport(withHostile, buildSummary(withHostile), { traceUrl: TRACE_URL });
    reportPath = join(dir, 'report.html');
    writeFileSync(reportPath, html);
  });
  afterAll(cleanup);

  it('is one file with nothing to run or fetch', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed)\b(?![^>]*href="data:)/i);
    // Only the trace links (never fetched) and the SVG namespace name carry URLs.
    const urls = [...html.matchAll(/https?:\/\/[^"'\s<)]+/g)].map((m) => m[0]);
    expect(urls.filter((u) => !u.startsWith('http://jaeger.example:16686/trace/') && u !== 'http://www.w3.org/2000/svg')).toEqual([]);
  });

  it('shows the incident the baselines found', () => {
    const currency = realAlerts.filter((a) => a.service === 'currency' && a.kind === 'error_rate');
    expect(currency.map((a) => a.status)).toContain('firing');
    expect(html).toContain('Error-rate spike: currency');
  });

  it('escapes names from the input', () => {
    expect(html).not.toContain(HOSTILE_SERVICE);
    expect(html).not.toContain(HOSTILE_NAME);
    expect(html).toContain('&lt;script&gt;window.__injected = 1&lt;/script&gt;');
  });

  it('renders offline in headless Chromium with every chart drawn and no errors', { timeout: 90_000 }, async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}; install it with: apt-get install -y chromium`);
    }
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60_000,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });

      expect(await page.locator('h1').textContent()).toBe('tailsift replay');
      const charts = ['keep-rate', 'by-policy', 'by-service', 'cost', 'latency-0', 'incidents', 'compare-policy-first', 'compare-policy-second', 'compare-service'];
      for (const chart of charts) {
        const svg = page.locator(`svg[data-chart="${chart}"]`);
        expect(await svg.count(), chart).toBe(1);
        const box = await svg.boundingBox();
        expect(box?.width ?? 0, chart).toBeGreaterThan(100);
        const values = await svg.locator('[data-value]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
        expect(values.filter((v) => v > 0).length, chart).toBeGreaterThan(0);
      }
      // Bars drawn to scale: the kept bar of a time bucket is never taller than its total.
      const keepRate = page.locator('svg[data-chart="keep-rate"]');
      const totals = await keepRate.locator('rect[data-series="total"]').evaluateAll((els) => els.map((e) => (e as unknown as SvgGraphic).getBBox().height));
      const kept = await keepRate.locator('rect[data-series="kept"]').evaluateAll((els) => els.map((e) => (e as unknown as SvgGraphic).getBBox().height));
      expect(kept.length).toBe(totals.length);
      kept.forEach((h, i) => expect(h).toBeLessThanOrEqual(totals[i] + 0.01));
      expect(Math.max(...totals)).toBeGreaterThan(50);
      expect(await keepRate.locator('polyline[data-series="keep-rate"]').count()).toBe(1);

      // Every alert is a marker on the keep-rate timeline and a dot on its incident's row, inside the chart.
      const alertCount = realAlerts.length + 1;
      expect(await keepRate.locator('line[data-series="alert"][data-status="firing"]').count()).toBeGreaterThan(0);
      expect(await keepRate.locator('line[data-series="alert"]').count()).toBe(alertCount);
      const incidents = page.locator('svg[data-chart="incidents"]');
      const incidentBox = await incidents.boundingBox();
      const dots = await incidents.locator('circle[data-series^="alert-"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('cx'))));
      expect(dots.length).toBe(alertCount);
      for (const cx of dots) expect(cx).toBeLessThanOrEqual(incidentBox?.width ?? 0);
      expect(await page.locator('table[data-table="alerts"] tbody tr').count()).toBe(alertCount);
      expect(await page.locator('#alerts').textContent()).toContain(HOSTILE_SERVICE);
      const links = await page.locator('table[data-table="examples"] a').evaluateAll((els) => els.map((e) => e.getAttribute('href') ?? ''));
      expect(links.length).toBeGreaterThan(0);
      for (const link of links) expect(link).toMatch(/^http:\/\/jaeger\.example:16686\/trace\/[0-9a-f]{32}$/);
      expect(await page.locator('#compare').count()).toBe(1);
      expect(await page.locator('#examples').textContent()).toContain(HOSTILE_NAME);
      expect(await page.locator('#by-service').textContent()).toContain(HOSTILE_SERVICE);
      expect(await page.evaluate(() => (globalThis as { __injected?: number }).__injected)).toBeUndefined();

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'replay-report.png'), fullPage: true });
      expect(problems).toEqual([]);
      expect(requests).toEqual([pathToFileURL(reportPath).href]);
    } finally {
      await browser.close();
    }
  });
});
