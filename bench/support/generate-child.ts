/**
 * The workload generator in a process of its own, so that the engine process's CPU time
 * counts the engine alone. Started by `startGenerator` with its options as one JSON argument;
 * sends one `GeneratorReport` on the IPC channel and exits.
 */
import { runGenerate, type GenerateOptions } from '../../src/generate/index.js';
import type { GeneratorReport } from './generator-process.js';

const options = JSON.parse(process.argv[2] ?? '{}') as GenerateOptions;
const started = process.cpuUsage();
let report: GeneratorReport;
try {
  const summary = await runGenerate(options);
  const used = process.cpuUsage(started);
  report = { ok: true, summary, cpuSeconds: (used.user + used.system) / 1e6 };
} catch (err) {
  report = { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}
process.send?.(report, () => process.disconnect());
