import { escapeHtml } from './html-escape.js';

/**
 * Inline SVG charts for the replay report, drawn here so the report needs no script and no
 * network. Every mark that carries a number has `data-series` and `data-value` attributes
 * (and a `<title>` tooltip), so the report can be checked, and read, without a chart library.
 */

export const COLORS = {
  total: '#c5cbd3',
  kept: '#2764c9',
  second: '#d9731f',
  rate: '#17803a',
  alert: '#c62828',
  axis: '#6b7280',
  grid: '#e5e7eb',
  text: '#1f2937',
} as const;

export interface SeriesStyle {
  readonly name: string;
  readonly color: string;
}

export interface TimeBucket {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly kept: number;
}

export interface TimeMarker {
  readonly atMs: number;
  readonly label: string;
  /** Resolved alerts are drawn in the keep rate's green, everything else in the alert red. */
  readonly status?: 'firing' | 'resolved';
}

const FONT = 'font-family="system-ui, sans-serif" font-size="11"';

function svgOpen(chart: string, width: number, height: number, label: string): string {
  return (
    `<svg class="chart" data-chart="${escapeHtml(chart)}" xmlns="http://www.w3.org/2000/svg" role="img" ` +
    `aria-label="${escapeHtml(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`
  );
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${fmt(x)}" y="${fmt(y)}" ${FONT} fill="${COLORS.text}" ${attrs}>${escapeHtml(content)}</text>`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Round numbers for an axis from 0 to at least `max`. */
export function niceTicks(max: number, count = 4): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${+(n / 1e3).toFixed(0)}k`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(2)}`;
}

function formatClock(ms: number, withDate: boolean): string {
  const iso = new Date(ms).toISOString();
  return withDate ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 19);
}

/**
 * Traces per time bucket (all in grey, kept in colour over them) with the keep rate as a line
 * on its own axis, and markers (alerts) as vertical lines.
 */
export function keepRateChart(buckets: readonly TimeBucket[], markers: readonly TimeMarker[], width = 900, height = 260): string {
  const m = { left: 56, right: 52, top: 16, bottom: 40 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const out: string[] = [svgOpen('keep-rate', width, height, 'Traces per time bucket, kept traces and keep rate')];
  if (buckets.length === 0) {
    out.push(text(width / 2, height / 2, 'no traces', 'text-anchor="middle"'), '</svg>');
    return out.join('');
  }
  const t0 = buckets[0].startMs;
  const t1 = buckets[buckets.length - 1].endMs;
  const x = (t: number): number => m.left + ((t - t0) / Math.max(1, t1 - t0)) * w;
  const ticks = niceTicks(Math.max(...buckets.map((b) => b.total)));
  const yMax = ticks[ticks.length - 1];
  const y = (v: number): number => m.top + h - (v / yMax) * h;
  const yRate = (r: number): number => m.top + h - r * h;

  for (const v of ticks) {
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${fmt(y(v))}" y2="${fmt(y(v))}" stroke="${COLORS.grid}"/>`);
    out.push(text(m.left - 6, y(v) + 4, formatCount(v), 'text-anchor="end"'));
  }
  for (const r of [0, 0.25, 0.5, 0.75, 1]) out.push(text(m.left + w + 6, yRate(r) + 4, `${r * 100}%`, `fill="${COLORS.rate}"`));

  const withDate = t1 - t0 > 86_400_000;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  buckets.forEach((b, i) => {
    const bx = x(b.startMs);
    const bw = Math.max(1, x(b.endMs) - bx - (buckets.length > 60 ? 0.5 : 1.5));
    const when = `${new Date(b.startMs).toISOString()} to ${new Date(b.endMs).toISOString()}`;
    out.push(
      `<rect data-series="total" data-value="${b.total}" x="${fmt(bx)}" y="${fmt(y(b.total))}" width="${fmt(bw)}" height="${fmt(m.top + h - y(b.total))}" fill="${COLORS.total}">` +
        `<title>${escapeHtml(`${when}: ${b.total} traces`)}</title></rect>`,
    );
    out.push(
      `<rect data-series="kept" data-value="${b.kept}" x="${fmt(bx)}" y="${fmt(y(b.kept))}" width="${fmt(bw)}" height="${fmt(m.top + h - y(b.kept))}" fill="${COLORS.kept}">` +
        `<title>${escapeHtml(`${when}: ${b.kept} kept of ${b.total} (${b.total === 0 ? 0 : ((100 * b.kept) / b.total).toFixed(1)}%)`)}</title></rect>`,
    );
    if (i % labelEvery === 0) {
      out.push(`<line x1="${fmt(bx)}" x2="${fmt(bx)}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="${COLORS.axis}"/>`);
      out.push(text(bx, m.top + h + 16, formatClock(b.startMs, withDate), 'text-anchor="middle"'));
    }
  });
  const points = buckets
    .filter((b) => b.total > 0)
    .map((b) => `${fmt((x(b.startMs) + x(b.endMs)) / 2)},${fmt(yRate(b.kept / b.total))}`);
  if (points.length > 0) {
    out.push(`<polyline data-series="keep-rate" data-value="${points.length}" points="${points.join(' ')}" fill="none" stroke="${COLORS.rate}" stroke-width="2"/>`);
  }
  for (const marker of markers) {
    const mx = x(Math.min(t1, Math.max(t0, marker.atMs)));
    out.push(
      `<line data-series="alert"${marker.status === undefined ? '' : ` data-status="${marker.status}"`} data-value="${marker.atMs}" x1="${fmt(mx)}" x2="${fmt(mx)}" y1="${m.top}" y2="${m.top + h}" ` +
        `stroke="${marker.status === 'resolved' ? COLORS.rate : COLORS.alert}" stroke-width="2" stroke-dasharray="4 3">` +
        `<title>${escapeHtml(marker.label)}</title></line>`,
    );
  }
  out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="${COLORS.axis}"/>`);
  out.push(text(m.left, height - 4, 'event time (UTC)', `fill="${COLORS.axis}"`));
  out.push(legend(width - m.right - 250, height - 4, [
    { name: 'all traces', color: COLORS.total },
    { name: 'kept', color: COLORS.kept },
    { name: 'keep rate', color: COLORS.rate },
  ]));
  out.push('</svg>');
  return out.join('');
}

/** One incident subject (service, operation, kind) on the incident timeline. */
export interface IncidentRow {
  readonly label: string;
  /** Its incidents: from when the departure began to when it resolved (undefined: still open at the end). */
  readonly incidents: readonly { readonly startMs: number; readonly endMs: number | undefined; readonly label: string }[];
  /** Its notifications. */
  readonly marks: readonly { readonly atMs: number; readonly status: 'firing' | 'resolved'; readonly label: string }[];
}

/**
 * One row per incident subject over event time: a band from the start of each incident to its
 * resolution (to the end of the axis while open), a red dot where a firing notification went
 * out and a green one where the resolved notification did.
 */
export function incidentTimeline(chart: string, rows: readonly IncidentRow[], fromMs: number, toMs: number, width = 900): string {
  const m = { left: 280, right: 40, top: 8, bottom: 40 };
  const rowHeight = 22;
  const height = m.top + Math.max(1, rows.length) * rowHeight + m.bottom;
  const w = width - m.left - m.right;
  const span = Math.max(1, toMs - fromMs);
  const x = (t: number): number => m.left + ((Math.min(toMs, Math.max(fromMs, t)) - fromMs) / span) * w;
  const out: string[] = [svgOpen(chart, width, height, 'Incidents over event time, by service, operation and kind')];
  rows.forEach((row, i) => {
    const cy = m.top + i * rowHeight + rowHeight / 2;
    const shown = row.label.length > 38 ? `${row.label.slice(0, 37)}…` : row.label;
    out.push(`<text x="${m.left - 8}" y="${fmt(cy + 4)}" ${FONT} fill="${COLORS.text}" text-anchor="end"><title>${escapeHtml(row.label)}</title>${escapeHtml(shown)}</text>`);
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${fmt(cy)}" y2="${fmt(cy)}" stroke="${COLORS.grid}"/>`);
    for (const incident of row.incidents) {
      const x0 = x(incident.startMs);
      const x1 = x(incident.endMs ?? toMs);
      out.push(
        `<rect data-series="incident" data-value="${incident.startMs}" x="${fmt(x0)}" y="${fmt(cy - 6)}" width="${fmt(Math.max(2, x1 - x0))}" height="12" fill="${COLORS.alert}" fill-opacity="0.25">` +
          `<title>${escapeHtml(incident.label)}</title></rect>`,
      );
    }
    for (const mark of row.marks) {
      out.push(
        `<circle data-series="alert-${mark.status}" data-value="${mark.atMs}" cx="${fmt(x(mark.atMs))}" cy="${fmt(cy)}" r="5" fill="${mark.status === 'resolved' ? COLORS.rate : COLORS.alert}">` +
          `<title>${escapeHtml(mark.label)}</title></circle>`,
      );
    }
  });
  const axisY = m.top + Math.max(1, rows.length) * rowHeight;
  out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${axisY}" y2="${axisY}" stroke="${COLORS.axis}"/>`);
  const withDate = toMs - fromMs > 86_400_000;
  for (let i = 0; i <= 5; i++) {
    const t = fromMs + (span * i) / 5;
    out.push(`<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${axisY}" y2="${axisY + 4}" stroke="${COLORS.axis}"/>`);
    out.push(text(x(t), axisY + 16, formatClock(t, withDate), 'text-anchor="middle"'));
  }
  out.push(text(m.left, height - 4, 'event time (UTC)', `fill="${COLORS.axis}"`));
  out.push(legend(width - m.right - 330, height - 4, [
    { name: 'incident open', color: '#f0b4b4' },
    { name: 'firing sent', color: COLORS.alert },
    { name: 'resolved sent', color: COLORS.rate },
  ]));
  out.push('</svg>');
  return out.join('');
}

function legend(x: number, y: number, series: readonly SeriesStyle[]): string {
  let at = x;
  const parts: string[] = [];
  for (const s of series) {
    parts.push(`<rect x="${fmt(at)}" y="${fmt(y - 9)}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(text(at + 14, y, s.name));
    at += 24 + s.name.length * 6.5;
  }
  return parts.join('');
}

export interface BarRow {
  readonly label: string;
  /** One value per series. */
  readonly values: readonly number[];
}

/**
 * Horizontal bars, one group per row and one bar per series in it, each labelled with its
 * value. `chart` names the chart in `data-chart`.
 */
export function horizontalBarChart(
  chart: string,
  rows: readonly BarRow[],
  series: readonly SeriesStyle[],
  options: { readonly width?: number; readonly format?: (n: number) => string; readonly label?: string } = {},
): string {
  const width = options.width ?? 640;
  const format = options.format ?? formatCount;
  const labelWidth = 190;
  const barHeight = 12;
  const groupGap = 10;
  const top = 8;
  const legendHeight = series.length > 1 ? 22 : 4;
  const groupHeight = series.length * barHeight + groupGap;
  const height = top + Math.max(1, rows.length) * groupHeight + legendHeight;
  const w = width - labelWidth - 70;
  const max = Math.max(1, ...rows.flatMap((r) => r.values));
  const out: string[] = [svgOpen(chart, width, height, options.label ?? chart)];
  if (rows.length === 0) out.push(text(labelWidth, top + 12, 'nothing to show'));
  rows.forEach((row, i) => {
    const gy = top + i * groupHeight;
    const shown = row.label.length > 30 ? `${row.label.slice(0, 29)}…` : row.label;
    out.push(
      `<text x="${labelWidth - 8}" y="${fmt(gy + (series.length * barHeight) / 2 + 4)}" ${FONT} fill="${COLORS.text}" text-anchor="end">` +
        `<title>${escapeHtml(row.label)}</title>${escapeHtml(shown)}</text>`,
    );
    series.forEach((s, j) => {
      const value = row.values[j] ?? 0;
      const bw = Math.max(value > 0 ? 1 : 0, (value / max) * w);
      const by = gy + j * barHeight;
      out.push(
        `<rect data-series="${escapeHtml(s.name)}" data-value="${value}" x="${labelWidth}" y="${by}" width="${fmt(bw)}" height="${barHeight - 2}" fill="${s.color}">` +
          `<title>${escapeHtml(`${row.label}: ${s.name} ${format(value)}`)}</title></rect>`,
      );
      out.push(text(labelWidth + bw + 4, by + barHeight - 3, format(value), `fill="${COLORS.axis}"`));
    });
  });
  if (series.length > 1) out.push(legend(labelWidth, height - 6, series));
  out.push('</svg>');
  return out.join('');
}

export interface HistogramBar {
  /** Bucket index on the log scale (bucketsPerDecade per factor of ten, 0 = 1 ms). */
  readonly bucket: number;
  readonly total: number;
  readonly kept: number;
}

/** A latency histogram on a log scale: all traces in grey, kept ones in colour over them. */
export function latencyHistogram(chart: string, bars: readonly HistogramBar[], bucketsPerDecade: number, width = 420, height = 150): string {
  const m = { left: 40, right: 22, top: 8, bottom: 28 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const out: string[] = [svgOpen(chart, width, height, 'Trace duration distribution, all and kept')];
  if (bars.length === 0) {
    out.push(text(width / 2, height / 2, 'no traces', 'text-anchor="middle"'), '</svg>');
    return out.join('');
  }
  // Whole decades on the axis, so the tick labels are round durations.
  const lo = Math.floor(Math.min(...bars.map((b) => b.bucket)) / bucketsPerDecade) * bucketsPerDecade;
  const hi = (Math.floor(Math.max(...bars.map((b) => b.bucket)) / bucketsPerDecade) + 1) * bucketsPerDecade;
  const slot = w / (hi - lo);
  const ticks = niceTicks(Math.max(...bars.map((b) => b.total)), 3);
  const yMax = ticks[ticks.length - 1];
  const y = (v: number): number => m.top + h - (v / yMax) * h;
  for (const v of ticks) {
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${fmt(y(v))}" y2="${fmt(y(v))}" stroke="${COLORS.grid}"/>`);
    out.push(text(m.left - 4, y(v) + 4, formatCount(v), 'text-anchor="end"'));
  }
  for (const b of bars) {
    const bx = m.left + (b.bucket - lo) * slot;
    const range = `${formatDuration(10 ** (b.bucket / bucketsPerDecade))} to ${formatDuration(10 ** ((b.bucket + 1) / bucketsPerDecade))}`;
    out.push(
      `<rect data-series="total" data-value="${b.total}" x="${fmt(bx)}" y="${fmt(y(b.total))}" width="${fmt(Math.max(1, slot - 1))}" height="${fmt(m.top + h - y(b.total))}" fill="${COLORS.total}">` +
        `<title>${escapeHtml(`${range}: ${b.total} traces`)}</title></rect>`,
    );
    if (b.kept > 0) {
      out.push(
        `<rect data-series="kept" data-value="${b.kept}" x="${fmt(bx)}" y="${fmt(y(b.kept))}" width="${fmt(Math.max(1, slot - 1))}" height="${fmt(m.top + h - y(b.kept))}" fill="${COLORS.kept}">` +
          `<title>${escapeHtml(`${range}: ${b.kept} kept of ${b.total}`)}</title></rect>`,
      );
    }
  }
  for (let d = lo; d <= hi; d += bucketsPerDecade) {
    const tx = m.left + (d - lo) * slot;
    out.push(`<line x1="${fmt(tx)}" x2="${fmt(tx)}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="${COLORS.axis}"/>`);
    out.push(text(tx, m.top + h + 16, formatDuration(10 ** (d / bucketsPerDecade)), 'text-anchor="middle"'));
  }
  out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="${COLORS.axis}"/>`);
  out.push('</svg>');
  return out.join('');
}

export function formatDuration(ms: number): string {
  if (ms < 1) return `${+(ms * 1000).toPrecision(2)} µs`;
  if (ms < 1000) return `${+ms.toPrecision(3)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toPrecision(3)} s`;
  return `${+(ms / 60_000).toPrecision(3)} min`;
}
