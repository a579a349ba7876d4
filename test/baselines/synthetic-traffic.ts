import { Baselines } from '../../src/baselines/baselines.js';
import { defaultBaselinesConfig } from '../../src/baselines/config.js';
import { drawLatencyMs, type LatencyProfile } from '../../src/generate/latency.js';
import { Prng } from '../../src/generate/prng.js';
import type { SpanView } from '../../src/otlp/types.js';
import { makeSpan } from '../support/trace-builder.js';

export const T0 = 1_700_000_000_000;

const resources = new Map<string, Readonly<Record<string, string>>>();

/** One resource object per service, so spans of a service share it as real ones do. */
export function resourceOf(service: string): Readonly<Record<string, string>> {
  let resource = resources.get(service);
  if (resource === undefined) {
    resource = { 'service.name': service };
    resources.set(service, resource);
  }
  return resource;
}

export function span(
  service: string,
  name: string,
  durationMs: number,
  options: { error?: boolean; startMs?: number; traceId?: string; spanId?: string; parentSpanId?: string; attributes?: Record<string, string | number> } = {},
): SpanView {
  const startMs = options.startMs ?? T0;
  return makeSpan({
    name,
    resource: resourceOf(service),
    startMs,
    endMs: startMs + durationMs,
    statusCode: options.error ? 2 : 0,
    traceId: options.traceId,
    spanId: options.spanId,
    parentSpanId: options.parentSpanId,
    attributes: options.attributes,
  });
}

export interface OperationTraffic {
  readonly service: string;
  readonly name: string;
  readonly latency: LatencyProfile;
  /** Spans per second. */
  readonly rate: number;
  readonly errorRate?: number;
  /** Multiplies a drawn latency (a fault). */
  readonly slowdown?: (nowMs: number) => number;
  readonly errorsAt?: (nowMs: number) => number | undefined;
}

/**
 * Feeds `baselines` spans of the given operations from `fromMs` to `toMs`, 100 ms at a time
 * (each batch observed at the end of its 100 ms), as intake would. Returns the spans made, if
 * `keep` says so, for scoring afterwards.
 */
export function runTraffic(
  baselines: Baselines,
  rng: Prng,
  ops: readonly OperationTraffic[],
  fromMs: number,
  toMs: number,
  keep?: (span: SpanView, nowMs: number) => void,
): void {
  for (let t = fromMs; t < toMs; t += 100) {
    const batch: SpanView[] = [];
    const nowMs = t + 100;
    for (const op of ops) {
      const expected = (op.rate * 100) / 1000;
      let count = Math.floor(expected);
      if (rng.chance(expected - count)) count += 1;
      for (let i = 0; i < count; i++) {
        const ms = drawLatencyMs(rng, op.latency) * (op.slowdown?.(nowMs) ?? 1);
        const errorRate = op.errorsAt?.(nowMs) ?? op.errorRate ?? 0;
        const s = span(op.service, op.name, ms, { error: rng.chance(errorRate), startMs: nowMs - ms });
        batch.push(s);
        keep?.(s, nowMs);
      }
    }
    baselines.observe(batch, nowMs);
  }
}

export function memoryBaselines(overrides: Record<string, unknown> = {}): Baselines {
  return new Baselines(defaultBaselinesConfig(overrides));
}

export function rngFor(seed: number, purpose: string): Prng {
  return Prng.stream(seed, purpose);
}
