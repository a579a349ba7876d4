import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';

/**
 * `latency`: the trace's duration, from its earliest span start to its latest span end
 * (what happens in between does not count), in whole milliseconds as the Collector
 * truncates it.
 *
 * Without an upper bound a trace is sampled when duration >= threshold_ms (inclusive).
 * With `upper_threshold_ms` the range is threshold_ms < duration <= upper_threshold_ms: the
 * lower bound becomes exclusive, as in the Collector.
 *
 * Differs on purpose: the Collector re-checks a running window after each span and samples
 * as soon as the window so far is in range, so with an upper bound a trace whose early spans
 * fall in the range is sampled even when the whole trace exceeds the bound, depending on span
 * order. We judge the whole trace, which is what its README describes.
 */
export class LatencyEvaluator implements PolicyEvaluator {
  constructor(
    private readonly thresholdMs: number,
    /** 0: no upper bound. */
    private readonly upperThresholdMs: number = 0,
  ) {}

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    if (trace.spans.length === 0) return 'not_sampled';
    let start = Infinity;
    let end = -Infinity;
    for (const span of trace.spans) {
      if (span.startMs < start) start = span.startMs;
      if (span.endMs > end) end = span.endMs;
    }
    const duration = wholeMilliseconds(end - start);
    if (this.upperThresholdMs === 0) return duration >= this.thresholdMs ? 'sampled' : 'not_sampled';
    return this.thresholdMs < duration && duration <= this.upperThresholdMs ? 'sampled' : 'not_sampled';
  }
}

/**
 * Go's Duration.Milliseconds() truncates. Span times reach us as float milliseconds with
 * sub-microsecond error, so round to whole microseconds first: an exact 1000 ms must not
 * become 999.9999998 and then 999.
 */
function wholeMilliseconds(ms: number): number {
  return Math.trunc(Math.round(ms * 1000) / 1000);
}
