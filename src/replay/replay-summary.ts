import type { ReplayOutcome, PolicyRunResult } from './run-replay.js';
import type { TraceRecord } from './replay-recorder.js';

/** What one policy file did with the input; part of the `--summary` JSON. */
export interface PolicyFileSummary {
  readonly policy_file: string;
  /**
   * Trace decisions. A trace whose spans keep arriving after its decision was forgotten
   * (decision_cache) is decided again, as the live engine would.
   */
  readonly traces: { readonly total: number; readonly kept: number };
  /**
   * Every span read; `late_*`: spans of already decided traces, which follow the decision;
   * `duplicate`: spans read twice in one trace (a request captured twice), decided and
   * forwarded once, as the live engine does.
   */
  readonly spans: { readonly total: number; readonly kept: number; readonly late_kept: number; readonly late_dropped: number; readonly duplicate: number };
  /**
   * OTLP protobuf bytes of the spans as the engine buffers and forwards them: each trace's
   * spans with their Resource and Scope, before the decision attributes are added.
   */
  readonly bytes: { readonly total: number; readonly kept: number };
  /** Per top-level policy, in file order. */
  readonly policies: Record<
    string,
    {
      /** Kept traces this policy was the first to sample (the reason named on their spans). */
      readonly kept_first: number;
      /** Kept traces this policy sampled, first or not (every policy asked on every trace). */
      readonly kept_any: number;
      /** Traces it sampled, kept or not (a drop policy may have won). */
      readonly sampled: number;
      /** Traces it dropped (drop policies). */
      readonly dropped: number;
      readonly bytes_kept_first: number;
      /** Evaluations that failed on bad span data (the policy was skipped for that trace). */
      readonly errors: number;
    }
  >;
  /** Per service (resource `service.name`); a trace counts for every service it touches. */
  readonly services: Record<string, { readonly traces: { readonly total: number; readonly kept: number }; readonly spans: { readonly total: number; readonly kept: number } }>;
  /** Requests that found the buffer full (num_traces) and waited for decisions, as a live client would be refused and retry. */
  readonly buffer_full_waits: number;
}

/** The `--summary` JSON. */
export interface ReplaySummary extends PolicyFileSummary {
  readonly inputs: { readonly files: readonly string[]; readonly requests: number };
  /** Earliest span start and latest span end read; null without spans. */
  readonly time_range: { readonly first_ms: number; readonly last_ms: number; readonly first: string; readonly last: string; readonly seconds: number } | null;
  /**
   * Alert notifications raised in event time (the lines of `--alerts`): `firing` (renotifications
   * included) and `resolved`; `source` is null and `note` says why when replay ran without the
   * baselines stage.
   */
  readonly alerts: { readonly count: number; readonly firing: number; readonly resolved: number; readonly source: string | null; readonly note?: string };
  readonly replay: { readonly wall_ms: number; readonly spans_per_s: number };
  /** With `--compare`: the second policy file on the same input. */
  readonly compare?: PolicyFileSummary & {
    readonly kept_by_both: number;
    /** Traces kept by `policy_file` at the top level and not by this one. */
    readonly kept_only_by_first: number;
    /** Traces kept by this policy file and not by the first. */
    readonly kept_only_by_second: number;
  };
}

export function buildSummary(outcome: ReplayOutcome, alertsNote?: string): ReplaySummary {
  const r = outcome.primary.recorder;
  const spans = r.spansReceived;
  const seconds = outcome.wallMs / 1000;
  const hasSpans = r.firstMs <= r.lastMs;
  const summary: ReplaySummary = {
    ...policyFileSummary(outcome.primary),
    inputs: { files: outcome.files.map((f) => f.path), requests: r.requests },
    time_range: hasSpans
      ? {
          first_ms: r.firstMs,
          last_ms: r.lastMs,
          first: new Date(r.firstMs).toISOString(),
          last: new Date(r.lastMs).toISOString(),
          seconds: round((r.lastMs - r.firstMs) / 1000, 3),
        }
      : null,
    alerts: {
      count: outcome.alerts.length,
      firing: outcome.alerts.filter((a) => a.status === 'firing').length,
      resolved: outcome.alerts.filter((a) => a.status === 'resolved').length,
      source: outcome.alertSource ?? null,
      ...(outcome.alertSource === undefined && alertsNote !== undefined ? { note: alertsNote } : {}),
    },
    replay: { wall_ms: round(outcome.wallMs, 1), spans_per_s: seconds > 0 ? Math.round(spans / seconds) : 0 },
  };
  if (outcome.compare === undefined) return summary;
  const diff = keptDiff(outcome.primary, outcome.compare);
  return {
    ...summary,
    compare: {
      ...policyFileSummary(outcome.compare),
      kept_by_both: diff.both,
      kept_only_by_first: diff.onlyFirst.length,
      kept_only_by_second: diff.onlySecond.length,
    },
  };
}

function policyFileSummary(run: PolicyRunResult): PolicyFileSummary {
  const r = run.recorder;
  const policies: PolicyFileSummary['policies'] = {};
  for (const [name, c] of r.policies) {
    policies[name] = {
      kept_first: c.keptFirst,
      kept_any: c.keptAny,
      sampled: c.sampled,
      dropped: c.dropped,
      bytes_kept_first: c.bytesKeptFirst,
      errors: c.errors,
    };
  }
  const services: PolicyFileSummary['services'] = {};
  const byTraces = [...r.services].sort((a, b) => b[1].tracesTotal - a[1].tracesTotal || (a[0] < b[0] ? -1 : 1));
  for (const [name, c] of byTraces) {
    services[name] = { traces: { total: c.tracesTotal, kept: c.tracesKept }, spans: { total: c.spansTotal, kept: c.spansKept } };
  }
  return {
    policy_file: run.policyFile,
    traces: { total: r.traces, kept: r.tracesKept },
    spans: { total: r.spansReceived, kept: r.spansKept, late_kept: r.lateSpansKept, late_dropped: r.lateSpansDropped, duplicate: r.duplicateSpans },
    bytes: { total: r.bytesReceived, kept: r.bytesKept },
    policies,
    services,
    buffer_full_waits: run.bufferFullWaits,
  };
}

/** Traces kept by both policy files, and by only one (records of those, in decision order). */
export function keptDiff(first: PolicyRunResult, second: PolicyRunResult): { both: number; onlyFirst: TraceRecord[]; onlySecond: TraceRecord[] } {
  const a = first.recorder.keptTraces ?? new Map<string, TraceRecord>();
  const b = second.recorder.keptTraces ?? new Map<string, TraceRecord>();
  let both = 0;
  const onlyFirst: TraceRecord[] = [];
  for (const [id, record] of a) {
    if (b.has(id)) both++;
    else onlyFirst.push(record);
  }
  const onlySecond = [...b.values()].filter((record) => !a.has(record.traceId));
  return { both, onlyFirst, onlySecond };
}

/** The short summary printed on stdout after every replay. */
export function formatSummaryText(s: ReplaySummary): string {
  const lines: string[] = [];
  const range = s.time_range === null ? 'no spans' : `event time ${s.time_range.first} to ${s.time_range.last} (${formatSeconds(s.time_range.seconds)})`;
  lines.push(
    `replayed ${n(s.spans.total)} spans in ${n(s.inputs.requests)} requests from ${n(s.inputs.files.length)} file${s.inputs.files.length === 1 ? '' : 's'}; ` +
      `${range}; ${formatSeconds(s.replay.wall_ms / 1000)} wall, ${n(s.replay.spans_per_s)} spans/s`,
  );
  lines.push(...fileLines(s));
  if (s.compare !== undefined) {
    lines.push('', `compared with ${s.compare.policy_file}:`);
    lines.push(...fileLines(s.compare));
    lines.push(
      `kept by both: ${n(s.compare.kept_by_both)} traces; only by ${s.policy_file}: ${n(s.compare.kept_only_by_first)}; ` +
        `only by ${s.compare.policy_file}: ${n(s.compare.kept_only_by_second)}`,
    );
  }
  lines.push(
    s.alerts.count === 0
      ? `alerts: none${s.alerts.note ? ` (${s.alerts.note})` : ''}`
      : `alerts: ${s.alerts.firing} firing, ${s.alerts.resolved} resolved${s.alerts.note ? ` (${s.alerts.note})` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

function fileLines(s: PolicyFileSummary): string[] {
  const lines = [
    `${s.policy_file}: kept ${n(s.traces.kept)} of ${n(s.traces.total)} traces (${pct(s.traces.kept, s.traces.total)}), ` +
      `${n(s.spans.kept)} of ${n(s.spans.total)} spans (${pct(s.spans.kept, s.spans.total)}), ` +
      `${formatBytes(s.bytes.kept)} of ${formatBytes(s.bytes.total)} (${pct(s.bytes.kept, s.bytes.total)})`,
  ];
  const names = Object.keys(s.policies);
  if (names.length > 0) {
    const width = Math.min(40, Math.max(...names.map((name) => name.length)));
    lines.push(`  policy${' '.repeat(Math.max(1, width - 4))}kept first   kept any    dropped`);
    for (const name of names) {
      const p = s.policies[name];
      lines.push(`  ${name.padEnd(width + 2)}${pad(p.kept_first, 10)} ${pad(p.kept_any, 10)} ${pad(p.dropped, 10)}`);
    }
  }
  if (s.buffer_full_waits > 0) {
    lines.push(`  the buffer was full (num_traces) for ${n(s.buffer_full_waits)} requests, which waited for decisions as live clients would`);
  }
  return lines;
}

function pad(value: number, width: number): string {
  return n(value).padStart(width);
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}

export function pct(part: number, whole: number): string {
  if (whole === 0) return '0%';
  const p = (100 * part) / whole;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
