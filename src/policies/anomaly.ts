import { Baselines } from '../baselines/baselines.js';
import { defaultBaselinesConfig } from '../baselines/config.js';
import { NO_ANOMALY, type AnomalyKind, type TraceAnomaly } from '../baselines/trace-anomaly.js';
import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

/** The `anomaly` policy's settings, as the policy file gives them (durations in ms). */
export interface AnomalyPolicySettings {
  readonly kinds: readonly AnomalyKind[];
  /** Trace score (on the z scale, corrected for the spans judged) from which a trace is sampled. */
  readonly threshold: number;
  /** Spans an operation's baseline needs before its spans are judged. */
  readonly min_samples: number;
  /** How far back the baselines look, ms. */
  readonly window: number;
}

/**
 * `anomaly`: samples traces that score at least `threshold` against the per-(service,
 * operation) baselines — latency far outside its operation's baseline, an error where errors
 * are rare, an operation or call edge first seen after the warm-up (see `Baselines.scoreTrace`).
 * A trace's score is its span scores corrected for how many spans were judged (`traceScore`),
 * so `threshold` means the same rarity for a trace of 30 spans as for one of a single span.
 *
 * With the engine's baselines stage (`baselines`), which learns from every span at intake,
 * the policy only reads. Built without one (validation, library use), it keeps baselines of
 * its own and learns from the traces it is asked to decide, so it still works on its own; a
 * trace is then judged against the traces decided before it.
 *
 * A sampled trace's anomaly is remembered in the baselines, which give its spans the
 * `tailsift.anomaly.score` and `tailsift.anomaly.reason` attributes (`attributesFor`).
 */
export class AnomalyEvaluator implements PolicyEvaluator {
  readonly baselines: Baselines;
  /** The anomaly of the trace evaluated last (for tests and tools). */
  lastAnomaly: TraceAnomaly = NO_ANOMALY;
  private readonly learnsFromDecidedTraces: boolean;

  constructor(
    private readonly settings: AnomalyPolicySettings,
    baselines?: Baselines,
  ) {
    this.learnsFromDecidedTraces = baselines === undefined;
    this.baselines = baselines ?? new Baselines(ownBaselinesConfig(settings));
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    if (this.learnsFromDecidedTraces) this.baselines.observe(trace.spans, ctx.nowMs);
    const anomaly = this.baselines.scoreTrace(trace.spans, ctx.nowMs, {
      kinds: this.settings.kinds,
      minSamples: this.settings.min_samples,
      windowMs: this.settings.window,
      threshold: this.settings.threshold,
    });
    this.lastAnomaly = anomaly;
    if (anomaly.score < this.settings.threshold) return 'not_sampled';
    this.baselines.remember(trace.traceId, anomaly);
    return 'sampled';
  }
}

function ownBaselinesConfig(settings: AnomalyPolicySettings) {
  const defaults = defaultBaselinesConfig();
  const window = Math.max(settings.window, defaults.recent + 2 * defaults.slot);
  return { ...defaults, window, halfLife: Math.min(defaults.halfLife, window / 2), minSamples: settings.min_samples, absorbThreshold: settings.threshold };
}
