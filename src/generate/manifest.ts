import type { RunEpoch } from './sdk-span-recorder.js';
import { spansOf, type PlannedSpan } from './trace-plan.js';

/**
 * One line of `--manifest`: the ground truth about a generated trace, for tests and anomaly
 * benchmarks (which traces were slow, failed, or touched by a fault).
 */
export interface ManifestEntry {
  readonly traceId: string;
  /** Number of spans in the trace. */
  readonly spans: number;
  readonly rootService: string;
  readonly rootName: string;
  /** Unix milliseconds of the root span's start. */
  readonly startMs: number;
  /** Root span duration in milliseconds (microsecond precision); every other span lies inside it. */
  readonly durationMs: number;
  /** True when any span ended with status ERROR. */
  readonly hasError: boolean;
  /** Labels (the `--fault` text) of the faults that changed at least one span. */
  readonly faults: readonly string[];
}

export function manifestEntry(traceId: string, root: PlannedSpan, epoch: RunEpoch): ManifestEntry {
  const spans = spansOf(root);
  const faults = new Set<string>();
  let hasError = false;
  for (const span of spans) {
    if (span.failed) hasError = true;
    for (const label of span.faults) faults.add(label);
  }
  return {
    traceId,
    spans: spans.length,
    rootService: root.service,
    rootName: root.name,
    startMs: epoch.toUnixMs(root.startNs),
    durationMs: Math.round((root.endNs - root.startNs) / 1000) / 1000,
    hasError,
    faults: [...faults],
  };
}
