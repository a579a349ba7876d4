import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGenerate, type GenerateOptions, type GenerateSummary } from '../../src/generate/index.js';
import { readJsonLines, readManifest, type FlatSpan, type ManifestLine } from './otlp-reader.js';

export const START_MS = Date.parse('2024-05-01T12:00:00Z');

export interface FileRun {
  readonly summary: GenerateSummary;
  readonly out: string;
  readonly manifestPath: string;
  readonly spans: FlatSpan[];
  readonly requests: number;
  readonly manifest: ManifestLine[];
}

/** A scratch directory removed by the returned cleanup function. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tailsift-generate-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the generator into an OTLP/JSON lines file (virtual time) with a manifest, and reads both back. */
export async function generateToFile(
  dir: string,
  name: string,
  options: Omit<GenerateOptions, 'target' | 'manifestPath'>,
): Promise<FileRun> {
  const out = join(dir, `${name}.jsonl`);
  const manifestPath = join(dir, `${name}.manifest.jsonl`);
  const summary = await runGenerate({ ...options, target: `file:${out}`, manifestPath });
  return { summary, out, manifestPath, ...readJsonLines(out), manifest: readManifest(manifestPath) };
}
