import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../support/engine-process.js';
import type { ManifestTrace, PipelineFixture } from '../support/pipeline-fixture.js';

/**
 * The span accounting every fault case reports. `lost` is what no other column explains:
 * sent − kept − droppedByPolicy − rejected. At-least-once allows repeats (`duplicated`, not
 * part of `kept`) but never a span that is simply gone.
 */
export interface SpanAccount {
  /** Spans the generator sent, by its manifest. */
  readonly sent: number;
  /** Distinct spans found in the sink. */
  readonly kept: number;
  /** Spans of traces the policy drops, by the same code the engine runs. */
  readonly droppedByPolicy: number;
  /** Spans refused for good at intake (dead-lettered records' spans, receiver rejections). */
  readonly rejected: number;
  /** Copies in the sink beyond the first of a span. */
  readonly duplicated: number;
  readonly lost: number;
}

export interface CaseFigures {
  /** File-name-safe id, e.g. `sigkill-takeover`. */
  readonly id: string;
  /** What the fault was, in a few words. */
  readonly fault: string;
  readonly spans: SpanAccount;
  /** Case-specific figures (outage length, intake paused for, retries, peak memory, ...). */
  readonly details: Readonly<Record<string, number | string>>;
  readonly recordedAt: string;
}

export const artifactsDir = join(repoRoot, 'test-artifacts', 'reliability');
const suiteReadme = join(repoRoot, 'test', 'reliability', 'README.md');
const LATEST_HEADING = '## Latest figures';

/**
 * The account of a Kafka → engine → file-sink run: what the manifest says was sent, what
 * the policy must keep, and what `settle` found in the sinks. Spans of a kept trace missing
 * from the sink, and spans of a trace the policy drops found there anyway, both surface as lost
 * (the latter negative), so neither can hide behind the other.
 */
export function accountPipeline(
  traces: readonly ManifestTrace[],
  expected: ReadonlySet<string>,
  spansByTrace: ReadonlyMap<string, readonly string[]>,
  rejected = 0,
): SpanAccount {
  let sent = 0;
  let droppedByPolicy = 0;
  for (const t of traces) {
    sent += t.spans;
    if (!expected.has(t.traceId)) droppedByPolicy += t.spans;
  }
  let kept = 0;
  let total = 0;
  for (const ids of spansByTrace.values()) {
    kept += new Set(ids).size;
    total += ids.length;
  }
  return account({ sent, kept, droppedByPolicy, rejected, duplicated: total - kept });
}

export function account(a: Omit<SpanAccount, 'lost'>): SpanAccount {
  return { ...a, lost: a.sent - a.kept - a.droppedByPolicy - a.rejected };
}

/** Settles a pipeline fixture and accounts for every span the manifest lists. */
export async function settlePipeline(fixture: PipelineFixture, traces: readonly ManifestTrace[], files: number, timeoutMs: number) {
  const r = await fixture.settle(traces, files, timeoutMs);
  return { ...r, spans: accountPipeline(traces, r.expected, r.out.spansByTrace) };
}

/**
 * Writes one case's figures to `test-artifacts/reliability/<id>.json` (and the engine's
 * warning and error lines to `<id>.warnings.jsonl`), then rebuilds
 * `report.md` from every case file there: test files run in parallel, and each rewrites the
 * table from what is on disk rather than appending to it. With TAILSIFT_RELIABILITY_REPORT=1
 * the table also goes into this folder's README under "Latest figures".
 */
export async function recordCase(figures: Omit<CaseFigures, 'recordedAt'>, engineLogs: readonly Record<string, unknown>[] = []): Promise<CaseFigures> {
  const full: CaseFigures = { ...figures, recordedAt: new Date().toISOString() };
  await mkdir(artifactsDir, { recursive: true });
  await writeFile(join(artifactsDir, `${full.id}.json`), `${JSON.stringify(full, null, 2)}\n`);
  // The engine's warnings and errors next to the figures: what a failed case needs explained.
  const warnings = engineLogs.filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify(l));
  await writeFile(join(artifactsDir, `${full.id}.warnings.jsonl`), warnings.length === 0 ? '' : `${warnings.join('\n')}\n`);
  const table = renderReport(await readCases(artifactsDir));
  await writeFile(join(artifactsDir, 'report.md'), `# Fault-injection figures\n\n${table}`);
  if (process.env.TAILSIFT_RELIABILITY_REPORT === '1') await writeLatestFigures(suiteReadme, table);
  console.info(`[reliability] ${full.id}: ${JSON.stringify(full.spans)} ${JSON.stringify(full.details)}`);
  return full;
}

export async function readCases(dir: string): Promise<CaseFigures[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const cases: CaseFigures[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      cases.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as CaseFigures);
    } catch {
      // Another test file is writing it right now; its own recordCase rebuilds the table.
    }
  }
  return cases;
}

/** The Markdown table of the cases: one row each, the span accounting, then the case's own figures. */
export function renderReport(cases: readonly CaseFigures[]): string {
  const rows = [
    '| case | fault | sent | kept | dropped by policy | rejected | duplicated | lost | details |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of cases) {
    const s = c.spans;
    const details = Object.entries(c.details)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ');
    rows.push(`| ${c.id} | ${escapeCell(c.fault)} | ${s.sent} | ${s.kept} | ${s.droppedByPolicy} | ${s.rejected} | ${s.duplicated} | ${s.lost} | ${escapeCell(details)} |`);
  }
  const when = cases.map((c) => c.recordedAt).sort().at(-1);
  return `${rows.join('\n')}\n${when === undefined ? '' : `\nRecorded up to ${when}.\n`}`;
}

/** Replaces everything under the "Latest figures" heading of `path` (up to the next `## `) with `table`. */
export async function writeLatestFigures(path: string, table: string): Promise<void> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    text = '# Fault-injection suite\n';
  }
  const section = `${LATEST_HEADING}\n\n${table}`;
  const at = text.indexOf(LATEST_HEADING);
  if (at < 0) {
    await writeFile(path, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const next = text.indexOf('\n## ', at + LATEST_HEADING.length);
  const after = next < 0 ? '' : text.slice(next);
  await writeFile(path, `${text.slice(0, at)}${section}${after}`);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
