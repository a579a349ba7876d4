import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerateOptions, GenerateSummary } from '../../src/generate/index.js';
import { repoRoot } from './repo-root.js';

/** What the generator process reports when it is done. */
export type GeneratorReport =
  | { readonly ok: true; readonly summary: GenerateSummary; readonly cpuSeconds: number }
  | { readonly ok: false; readonly error: string };

/** GenerateOptions that survive JSON: a target URL, no objects or callbacks. */
export type GeneratorOptions = Omit<GenerateOptions, 'target' | 'logger' | 'kafkaPublisher'> & { readonly target: string };

/**
 * Runs `runGenerate` in a child process and resolves with its report. The child is the
 * compiled `dist/bench/support/generate-child.js` (also when the caller runs from source under
 * vitest), so `npm run build` must have run. It is killed when it outlives `timeoutMs`.
 */
export function runGeneratorProcess(options: GeneratorOptions, timeoutMs: number): Promise<GeneratorReport> {
  const script = join(repoRoot(), 'dist', 'bench', 'support', 'generate-child.js');
  if (!existsSync(script)) {
    return Promise.reject(new Error(`${script} is missing; run \`npm run build\` first`));
  }
  return new Promise((resolve, reject) => {
    const child = fork(script, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let report: GeneratorReport | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the generator process did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message) => {
      report = message as GeneratorReport;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report !== undefined) resolve(report);
      else reject(new Error(`the generator process exited (${signal ?? `code ${code}`}) without a report`));
    });
  });
}
