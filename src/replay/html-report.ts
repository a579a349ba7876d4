import type { AlertNotification } from '../alerts/alert-notification.js';
import { escapeHtml } from './html-escape.js';
import { LATENCY_BUCKETS_PER_DECADE, type OperationStats, type TimeSlot, type TraceRecord } from './replay-recorder.js';
import { formatBytes, formatSeconds, keptDiff, pct, type PolicyFileSummary, type ReplaySummary } from './replay-summary.js';
import type { PolicyRunResult, ReplayOutcome } from './run-replay.js';
import {
  COLORS,
  formatDuration,
  horizontalBarChart,
  incidentTimeline,
  keepRateChart,
  latencyHistogram,
  type BarRow,
  type IncidentRow,
  type TimeBucket,
} from './svg-charts.js';

export interface ReportOptions {
  /** Link for each example trace; `{traceId}` is replaced by the trace id (e.g. a Jaeger URL). */
  readonly traceUrl?: string;
  /** Shown when replay ran without the baselines stage. */
  readonly alertsNote?: string;
  /** When the report was made; default now. */
  readonly generatedAt?: Date;
}

/** Operations with a latency chart: the busiest ones. */
const TOP_OPERATIONS = 6;
/** Services in the per-service chart; the table lists them all. */
const TOP_SERVICES = 20;
/** Example traces per side in the comparison. */
const COMPARE_EXAMPLES = 20;

/**
 * The replay report: one self-contained HTML file (inline CSS and SVG, no script, nothing
 * fetched), readable offline and attachable to a review. Everything that comes from the input
 * or the policy files is escaped.
 */
export function renderHtmlReport(outcome: ReplayOutcome, summary: ReplaySummary, options: ReportOptions = {}): string {
  const generatedAt = (options.generatedAt ?? new Date()).toISOString();
  const r = outcome.primary.recorder;
  const buckets = timeBuckets(r.timeline);
  const markers = outcome.alerts.map((a) => ({ atMs: a.atMs, label: alertLabel(a), status: a.status }));
  const body: string[] = [];

  body.push(`<header><h1>tailsift replay</h1>`);
  body.push(
    `<p class="meta">Policy file <code>${escapeHtml(summary.policy_file)}</code>` +
      (summary.compare ? ` compared with <code>${escapeHtml(summary.compare.policy_file)}</code>` : '') +
      ` · ${summary.inputs.files.length} input file${summary.inputs.files.length === 1 ? '' : 's'}, ${summary.inputs.requests.toLocaleString('en-US')} requests` +
      ` · generated ${escapeHtml(generatedAt)}</p>`,
  );
  body.push(`<details><summary>Input files</summary><ul>${outcome.files.map((f) => `<li><code>${escapeHtml(f.path)}</code> ${escapeHtml(describeFormat(f))}</li>`).join('')}</ul></details>`);
  body.push('</header>');

  body.push(section('totals', 'Totals', totalsCards(summary)));

  body.push(
    section(
      'keep-rate',
      'Keep rate over time',
      `<p class="note">Traces by the event time they started, in buckets of ${escapeHtml(formatSeconds(bucketSeconds(buckets)))}; kept traces over all traces, keep rate on the right axis${markers.length > 0 ? ', alerts as dashed lines (red: firing, green: resolved)' : ''}.</p>` +
        keepRateChart(buckets, markers),
    ),
  );

  body.push(section('by-policy', 'Kept by policy', policySection(summary, outcome.primary)));
  body.push(section('by-service', 'Kept by service', serviceSection(summary)));
  body.push(section('cost', 'Bytes kept (cost)', costSection(summary)));
  body.push(section('latency', 'Latency by operation', latencySection(r.operations)));
  body.push(section('alerts', 'Anomalies and alerts', alertsSection(outcome, buckets, options.alertsNote, options.traceUrl)));
  body.push(section('examples', 'Example kept traces', exampleTable(r.examples, options.traceUrl, 'examples')));
  if (outcome.compare !== undefined && summary.compare !== undefined) {
    body.push(section('compare', 'Comparison', compareSection(outcome.primary, outcome.compare, summary, options.traceUrl)));
  }
  body.push(
    `<footer>tailsift replay: ${summary.spans.total.toLocaleString('en-US')} spans replayed in event time in ${escapeHtml(formatSeconds(summary.replay.wall_ms / 1000))} ` +
      `(${summary.replay.spans_per_s.toLocaleString('en-US')} spans/s).</footer>`,
  );

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tailsift replay: ${escapeHtml(summary.policy_file)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; color: #1f2937; margin: 0 auto; max-width: 1000px; padding: 16px 24px 48px; line-height: 1.4; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 4px; }
.meta, .note, footer { color: #6b7280; font-size: 13px; }
code { font-family: ui-monospace, monospace; font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.card .label { color: #6b7280; font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; }
.card .sub { color: #6b7280; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f2; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: flex; flex-wrap: wrap; gap: 8px 24px; }
.side { display: flex; flex-wrap: wrap; gap: 24px; }
.empty { border: 1px dashed #c5cbd3; border-radius: 6px; padding: 12px 16px; color: #4b5563; background: #f9fafb; }
svg.chart { max-width: 100%; height: auto; display: block; }
a { color: #2764c9; }
.nowrap { white-space: nowrap; }
.wrap { overflow-wrap: anywhere; }
.status-firing { color: #c62828; font-weight: 600; }
.status-resolved { color: #17803a; font-weight: 600; }
`;

function section(id: string, title: string, content: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${content}</section>`;
}

function describeFormat(file: ReplayOutcome['files'][number]): string {
  const format = file.format === 'otlp-json-lines' ? 'OTLP/JSON lines' : file.format === 'otlp-protobuf' ? 'OTLP protobuf' : 'not read';
  return `(${format}${file.gzip ? ', gzip' : ''})`;
}

function card(label: string, value: string, sub = ''): string {
  return `<div class="card"><div class="label">${escapeHtml(label)}</div><div class="value">${escapeHtml(value)}</div>${sub ? `<div class="sub">${escapeHtml(sub)}</div>` : ''}</div>`;
}

function totalsCards(s: ReplaySummary): string {
  const range = s.time_range;
  return (
    `<div class="cards">` +
    card('Traces kept', `${s.traces.kept.toLocaleString('en-US')} of ${s.traces.total.toLocaleString('en-US')}`, pct(s.traces.kept, s.traces.total)) +
    card('Spans kept', `${s.spans.kept.toLocaleString('en-US')} of ${s.spans.total.toLocaleString('en-US')}`, `${pct(s.spans.kept, s.spans.total)}; late spans ${s.spans.late_kept + s.spans.late_dropped}`) +
    card('Bytes kept', `${formatBytes(s.bytes.kept)} of ${formatBytes(s.bytes.total)}`, pct(s.bytes.kept, s.bytes.total)) +
    card('Event time', range === null ? 'no spans' : formatSeconds(range.seconds), range === null ? '' : `${range.first} to ${range.last}`) +
    card('Replay', formatSeconds(s.replay.wall_ms / 1000), `${s.replay.spans_per_s.toLocaleString('en-US')} spans/s`) +
    card('Alerts', String(s.alerts.count), s.alerts.source === null ? 'no baselines stage' : `${s.alerts.firing} firing, ${s.alerts.resolved} resolved`) +
    `</div>` +
    (s.buffer_full_waits > 0
      ? `<p class="note">The buffer was full (num_traces) for ${s.buffer_full_waits} requests; they waited for decisions to make room, as live clients would be refused and retry.</p>`
      : '')
  );
}

function policyRows(s: PolicyFileSummary): BarRow[] {
  return Object.entries(s.policies).map(([name, p]) => ({ label: name, values: [p.kept_first, p.kept_any, p.dropped] }));
}

function policySection(s: PolicyFileSummary, run: PolicyRunResult): string {
  const rows = policyRows(s);
  const showDropped = rows.some((row) => row.values[2] > 0);
  const series = [
    { name: 'kept first', color: COLORS.kept },
    { name: 'kept at all', color: '#8fb0e6' },
    ...(showDropped ? [{ name: 'dropped', color: COLORS.alert }] : []),
  ];
  return (
    `<p class="note">"Kept first": kept traces this policy was the first to sample (the reason written on their spans). ` +
    `"Kept at all": kept traces it sampled, first or not; every policy is asked about every trace for this.</p>` +
    horizontalBarChart('by-policy', rows.map((row) => ({ label: row.label, values: showDropped ? row.values : row.values.slice(0, 2) })), series, { label: 'Kept traces by policy' }) +
    policyTable(s, run.recorder.tracesKept)
  );
}

function policyTable(s: PolicyFileSummary, kept: number): string {
  const rows = Object.entries(s.policies)
    .map(
      ([name, p]) =>
        `<tr><td>${escapeHtml(name)}</td><td class="num">${num(p.kept_first)}</td><td class="num">${pct(p.kept_first, kept)}</td><td class="num">${num(p.kept_any)}</td>` +
        `<td class="num">${num(p.sampled)}</td><td class="num">${num(p.dropped)}</td><td class="num">${escapeHtml(formatBytes(p.bytes_kept_first))}</td><td class="num">${num(p.errors)}</td></tr>`,
    )
    .join('');
  return (
    `<table><thead><tr><th>policy</th><th class="num">kept first</th><th class="num">share of kept</th><th class="num">kept at all</th>` +
    `<th class="num">sampled (kept or not)</th><th class="num">dropped</th><th class="num">bytes kept first</th><th class="num">errors</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

function serviceSection(s: PolicyFileSummary): string {
  const entries = Object.entries(s.services);
  const rows = entries.slice(0, TOP_SERVICES).map(([name, c]) => ({ label: name || '(no service.name)', values: [c.traces.total, c.traces.kept] }));
  const table = entries
    .map(
      ([name, c]) =>
        `<tr><td>${escapeHtml(name || '(no service.name)')}</td><td class="num">${num(c.traces.total)}</td><td class="num">${num(c.traces.kept)}</td><td class="num">${pct(c.traces.kept, c.traces.total)}</td>` +
        `<td class="num">${num(c.spans.total)}</td><td class="num">${num(c.spans.kept)}</td><td class="num">${pct(c.spans.kept, c.spans.total)}</td></tr>`,
    )
    .join('');
  return (
    `<p class="note">A trace counts for every service that has a span in it.${entries.length > TOP_SERVICES ? ` The chart shows the ${TOP_SERVICES} services with most traces.` : ''}</p>` +
    horizontalBarChart('by-service', rows, [
      { name: 'traces', color: COLORS.total },
      { name: 'kept', color: COLORS.kept },
    ], { label: 'Traces and kept traces by service' }) +
    `<table><thead><tr><th>service</th><th class="num">traces</th><th class="num">kept</th><th class="num">keep rate</th><th class="num">spans</th><th class="num">kept</th><th class="num">keep rate</th></tr></thead><tbody>${table}</tbody></table>`
  );
}

function costSection(s: PolicyFileSummary): string {
  const rows: BarRow[] = [
    { label: 'everything read', values: [s.bytes.total] },
    { label: 'kept', values: [s.bytes.kept] },
    ...Object.entries(s.policies).map(([name, p]) => ({ label: `kept first by ${name}`, values: [p.bytes_kept_first] })),
  ];
  return (
    `<p class="note">OTLP protobuf bytes of the spans as tailsift buffers and forwards them (each trace's spans with their resource and scope), before the decision attributes are added. ` +
    `Kept: ${escapeHtml(formatBytes(s.bytes.kept))} of ${escapeHtml(formatBytes(s.bytes.total))} (${pct(s.bytes.kept, s.bytes.total)}).</p>` +
    horizontalBarChart('cost', rows, [{ name: 'bytes', color: COLORS.kept }], { format: formatBytes, label: 'Bytes read and kept' })
  );
}

function latencySection(operations: ReadonlyMap<string, OperationStats>): string {
  const top = [...operations.values()].sort((a, b) => b.traces - a.traces || (a.service + a.name < b.service + b.name ? -1 : 1)).slice(0, TOP_OPERATIONS);
  if (top.length === 0) return `<p class="empty">No traces.</p>`;
  const charts = top.map((op, i) => {
    const bars = [...op.histogram]
      .sort((a, b) => a[0] - b[0])
      .map(([bucket, [total, kept]]) => ({ bucket, total, kept }));
    return (
      `<div><h3>${escapeHtml(op.service || '(no service.name)')} · ${escapeHtml(op.name)}</h3>` +
      `<p class="note">${op.traces.toLocaleString('en-US')} traces, ${op.kept.toLocaleString('en-US')} kept (${pct(op.kept, op.traces)}); median under ${escapeHtml(formatDuration(quantile(bars, 0.5)))}, p99 under ${escapeHtml(formatDuration(quantile(bars, 0.99)))}</p>` +
      latencyHistogram(`latency-${i}`, bars, LATENCY_BUCKETS_PER_DECADE) +
      `</div>`
    );
  });
  return (
    `<p class="note">Trace duration (earliest span start to latest span end) for the ${top.length} operations (root service and span name) with most traces; kept traces over all traces, log scale.</p>` +
    `<div class="grid">${charts.join('')}</div>`
  );
}

/** The upper edge of the bucket where the quantile falls. */
function quantile(bars: readonly { bucket: number; total: number }[], q: number): number {
  const total = bars.reduce((n, b) => n + b.total, 0);
  let seen = 0;
  for (const b of bars) {
    seen += b.total;
    if (seen >= q * total) return 10 ** ((b.bucket + 1) / LATENCY_BUCKETS_PER_DECADE);
  }
  return 0;
}

function sentence(text: string): string {
  const t = text.trim();
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
}

/** Thousands separated, for tables. */
function num(n: number): string {
  return n.toLocaleString('en-US');
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function alertLabel(a: AlertNotification): string {
  return `${new Date(a.atMs).toISOString()} ${a.status}: ${a.service} ${a.operation}: ${a.summary}`;
}

function alertsSection(outcome: ReplayOutcome, buckets: readonly TimeBucket[], note: string | undefined, traceUrl: string | undefined): string {
  if (outcome.alertSource === undefined) {
    return (
      `<div class="empty" data-state="no-alert-source"><strong>No anomaly detection in this replay.</strong> ` +
      `${escapeHtml(sentence(note ?? 'there is no alert source'))} No anomalies were computed, so none are shown here or on the timeline; ` +
      `this is not a sign that the traffic was normal.</div>`
    );
  }
  if (outcome.alerts.length === 0) {
    return `<div class="empty" data-state="no-alerts">No operation departed from its baseline long enough to raise an alert (${escapeHtml(outcome.alertSource)}).</div>`;
  }
  const first = Math.min(...outcome.alerts.map((a) => a.startsAtMs));
  const last = Math.max(...outcome.alerts.map((a) => a.atMs));
  const withDate = new Date(first).toISOString().slice(0, 10) !== new Date(last).toISOString().slice(0, 10);
  const rows = outcome.alerts
    .map(
      (a) =>
        `<tr data-status="${a.status}"><td class="nowrap" title="${escapeHtml(new Date(a.atMs).toISOString())}">${escapeHtml(formatClockTime(a.atMs, withDate))}</td><td class="status-${a.status}">${a.status}${a.renotification ? ' (again)' : ''}</td>` +
        `<td class="wrap" title="${escapeHtml(a.operation)}">${escapeHtml(a.service)}</td><td>${escapeHtml(a.kind)}</td>` +
        `<td class="nowrap" title="${escapeHtml(new Date(a.startsAtMs).toISOString())}">${escapeHtml(formatClockTime(a.startsAtMs, withDate))}${a.endsAtMs === undefined ? '' : `<br><span class="note">for ${escapeHtml(formatSeconds((a.endsAtMs - a.startsAtMs) / 1000))}</span>`}</td>` +
        `<td>${escapeHtml(a.summary)}</td><td>${exemplars(a.exemplarTraceIds, traceUrl)}</td></tr>`,
    )
    .join('');
  const firing = outcome.alerts.filter((a) => a.status === 'firing' && !a.renotification).length;
  const resolved = outcome.alerts.filter((a) => a.status === 'resolved').length;
  return (
    `<p class="note">${firing} incident${firing === 1 ? '' : 's'} opened and ${resolved} resolved (${escapeHtml(outcome.alertSource)}), ` +
    `also drawn on the keep rate timeline${buckets.length === 0 ? '' : ' above'}. Times are event time (UTC)${withDate ? '' : `, on ${escapeHtml(new Date(first).toISOString().slice(0, 10))}`}; "since" is when the operation started to depart from its baseline, ` +
    `example traces are kept traces that took part.</p>` +
    incidentChart(outcome.alerts, buckets) +
    `<table data-table="alerts"><thead><tr><th>event time</th><th>status</th><th>service</th><th>kind</th><th>since</th><th>what changed</th><th>example traces</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

/** Time of day in UTC, with the date when the times shown span more than one day. */
function formatClockTime(ms: number, withDate: boolean): string {
  const t = formatTime(ms);
  return withDate ? t.slice(0, 19) : t.slice(11, 19);
}

/** Exemplar trace ids folded away behind their count, so the table stays readable. */
function exemplars(ids: readonly string[], traceUrl: string | undefined): string {
  if (ids.length === 0) return '';
  return `<details><summary class="nowrap">${ids.length} trace${ids.length === 1 ? '' : 's'}</summary>${ids.map((id) => `<div>${traceLink(traceUrl, id)}</div>`).join('')}</details>`;
}

/** The notifications as one timeline row per incident subject, in the order the subjects first fired. */
function incidentChart(alerts: readonly AlertNotification[], buckets: readonly TimeBucket[]): string {
  const rows = new Map<string, { label: string; incidents: IncidentRow['incidents'][number][]; marks: IncidentRow['marks'][number][] }>();
  let from = buckets.length === 0 ? Infinity : buckets[0].startMs;
  let to = buckets.length === 0 ? -Infinity : buckets[buckets.length - 1].endMs;
  for (const a of alerts) {
    let row = rows.get(a.dedupKey);
    if (row === undefined) {
      row = { label: `${a.service} ${a.operation} (${a.kind})`, incidents: [], marks: [] };
      rows.set(a.dedupKey, row);
    }
    row.marks.push({ atMs: a.atMs, status: a.status, label: alertLabel(a) });
    const open = row.incidents.length > 0 && row.incidents[row.incidents.length - 1].endMs === undefined;
    if (a.status === 'firing' && !open) row.incidents.push({ startMs: a.startsAtMs, endMs: undefined, label: `${a.service} ${a.operation}: ${a.summary}` });
    if (a.status === 'resolved' && open) {
      const last = row.incidents[row.incidents.length - 1];
      row.incidents[row.incidents.length - 1] = { ...last, endMs: a.endsAtMs ?? a.atMs };
    }
    from = Math.min(from, a.startsAtMs);
    to = Math.max(to, a.atMs);
  }
  return incidentTimeline('incidents', [...rows.values()], from, to);
}

export function traceLink(template: string | undefined, traceId: string): string {
  const id = `<code>${escapeHtml(traceId)}</code>`;
  if (template === undefined) return id;
  const href = template.split('{traceId}').join(encodeURIComponent(traceId));
  return `<a href="${escapeHtml(href)}" rel="noreferrer">${id}</a>`;
}

function exampleTable(records: readonly TraceRecord[], traceUrl: string | undefined, name: string): string {
  if (records.length === 0) return `<p class="empty">No kept traces.</p>`;
  const rows = records
    .map(
      (t) =>
        `<tr><td>${traceLink(traceUrl, t.traceId)}</td><td class="nowrap">${escapeHtml(formatTime(t.startMs))}</td>` +
        `<td>${escapeHtml(t.rootService || '(no service.name)')}</td><td>${escapeHtml(t.rootName)}${t.hasRoot ? '' : ' <span class="note">(no root span)</span>'}</td>` +
        `<td class="num">${escapeHtml(formatDuration(t.durationMs))}</td><td class="num">${num(t.spans)}</td><td class="num">${num(t.errorSpans)}</td><td>${escapeHtml(t.policy ?? '')}</td></tr>`,
    )
    .join('');
  return (
    `<table data-table="${escapeHtml(name)}"><thead><tr><th>trace id</th><th>start (UTC)</th><th>root service</th><th>root span</th><th class="num">duration</th>` +
    `<th class="num">spans</th><th class="num">error spans</th><th>kept by</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

function compareSection(first: PolicyRunResult, second: PolicyRunResult, s: ReplaySummary, traceUrl: string | undefined): string {
  const c = s.compare as NonNullable<ReplaySummary['compare']>;
  const a = escapeHtml(s.policy_file);
  const b = escapeHtml(c.policy_file);
  const totals =
    `<table><thead><tr><th></th><th class="num">${a}</th><th class="num">${b}</th></tr></thead><tbody>` +
    totalsRow('traces kept', s.traces.kept, s.traces.total, c.traces.kept, c.traces.total) +
    totalsRow('spans kept', s.spans.kept, s.spans.total, c.spans.kept, c.spans.total) +
    `<tr><td>bytes kept</td><td class="num">${escapeHtml(formatBytes(s.bytes.kept))} (${pct(s.bytes.kept, s.bytes.total)})</td><td class="num">${escapeHtml(formatBytes(c.bytes.kept))} (${pct(c.bytes.kept, c.bytes.total)})</td></tr>` +
    `</tbody></table>`;

  const services = [...new Set([...Object.keys(s.services), ...Object.keys(c.services)])];
  const serviceRows = services.slice(0, TOP_SERVICES).map((name) => ({
    label: name || '(no service.name)',
    values: [s.services[name]?.traces.kept ?? 0, c.services[name]?.traces.kept ?? 0],
  }));
  const serviceTable = services
    .map((name) => {
      const x = s.services[name];
      const y = c.services[name];
      return (
        `<tr><td>${escapeHtml(name || '(no service.name)')}</td><td class="num">${num(x?.traces.total ?? 0)}</td>` +
        `<td class="num">${num(x?.traces.kept ?? 0)}</td><td class="num">${num(y?.traces.kept ?? 0)}</td><td class="num">${num(x?.spans.kept ?? 0)}</td><td class="num">${num(y?.spans.kept ?? 0)}</td></tr>`
      );
    })
    .join('');

  const diff = keptDiff(first, second);
  return (
    `<p class="note">The same input replayed through both policy files.</p>` +
    `<h3>Totals</h3>${totals}` +
    `<h3>Kept by policy</h3><div class="side">` +
    `<div><p class="note">${a}</p>${horizontalBarChart('compare-policy-first', policyRows(s).map((row) => ({ label: row.label, values: row.values.slice(0, 2) })), [
      { name: 'kept first', color: COLORS.kept },
      { name: 'kept at all', color: '#8fb0e6' },
    ], { width: 460 })}${policyTable(s, s.traces.kept)}</div>` +
    `<div><p class="note">${b}</p>${horizontalBarChart('compare-policy-second', policyRows(c).map((row) => ({ label: row.label, values: row.values.slice(0, 2) })), [
      { name: 'kept first', color: COLORS.second },
      { name: 'kept at all', color: '#f0b27a' },
    ], { width: 460 })}${policyTable(c, c.traces.kept)}</div></div>` +
    `<h3>Kept by service</h3>` +
    horizontalBarChart('compare-service', serviceRows, [
      { name: s.policy_file, color: COLORS.kept },
      { name: c.policy_file, color: COLORS.second },
    ], { label: 'Kept traces by service, both policy files' }) +
    `<table><thead><tr><th>service</th><th class="num">traces</th><th class="num">kept by ${a}</th><th class="num">kept by ${b}</th><th class="num">spans kept by ${a}</th><th class="num">spans kept by ${b}</th></tr></thead><tbody>${serviceTable}</tbody></table>` +
    `<h3>Traces kept by one and not the other</h3>` +
    `<div class="cards">${card('kept by both', diff.both.toLocaleString('en-US'))}${card(`only by ${s.policy_file}`, diff.onlyFirst.length.toLocaleString('en-US'))}${card(`only by ${c.policy_file}`, diff.onlySecond.length.toLocaleString('en-US'))}</div>` +
    `<h3>Kept only by ${a}${diff.onlyFirst.length > COMPARE_EXAMPLES ? ` (first ${COMPARE_EXAMPLES})` : ''}</h3>${exampleTable(diff.onlyFirst.slice(0, COMPARE_EXAMPLES), traceUrl, 'only-first')}` +
    `<h3>Kept only by ${b}${diff.onlySecond.length > COMPARE_EXAMPLES ? ` (first ${COMPARE_EXAMPLES})` : ''}</h3>${exampleTable(diff.onlySecond.slice(0, COMPARE_EXAMPLES), traceUrl, 'only-second')}`
  );
}

function totalsRow(label: string, keptA: number, totalA: number, keptB: number, totalB: number): string {
  return (
    `<tr><td>${escapeHtml(label)}</td><td class="num">${keptA.toLocaleString('en-US')} of ${totalA.toLocaleString('en-US')} (${pct(keptA, totalA)})</td>` +
    `<td class="num">${keptB.toLocaleString('en-US')} of ${totalB.toLocaleString('en-US')} (${pct(keptB, totalB)})</td></tr>`
  );
}

/** Bucket widths the keep-rate chart may use, seconds. */
const BUCKET_SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800];

/**
 * Per-second counts merged into at most `maxBuckets` buckets of a round width, from the first
 * second with traces to the last, empty buckets included so gaps in the traffic show.
 */
export function timeBuckets(timeline: ReadonlyMap<number, TimeSlot>, maxBuckets = 120): TimeBucket[] {
  if (timeline.size === 0) return [];
  let first = Infinity;
  let last = -Infinity;
  for (const second of timeline.keys()) {
    if (second < first) first = second;
    if (second > last) last = second;
  }
  const span = last - first + 1;
  const width = BUCKET_SECONDS.find((w) => Math.ceil(span / w) + 1 <= maxBuckets) ?? Math.ceil(span / maxBuckets);
  const start = Math.floor(first / width) * width;
  const count = Math.floor((last - start) / width) + 1;
  const buckets = Array.from({ length: count }, (_, i) => ({ startMs: (start + i * width) * 1000, endMs: (start + (i + 1) * width) * 1000, total: 0, kept: 0 }));
  for (const [second, slot] of timeline) {
    const b = buckets[Math.floor((second - start) / width)];
    b.total += slot.traces;
    b.kept += slot.kept;
  }
  return buckets;
}

function bucketSeconds(buckets: readonly TimeBucket[]): number {
  return buckets.length === 0 ? 1 : (buckets[0].endMs - buckets[0].startMs) / 1000;
}

